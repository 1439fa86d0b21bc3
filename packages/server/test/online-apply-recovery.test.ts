import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { dropMetadataSchema } from './fixtures/kafka-namespace.js';
import { cli, spawnSource, tempStore, until, whenReady } from './helpers.js';

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
  ],
};

const KEYS = ['c1', 'c2', 'c3', 'c4', 'c5'];

/** A CSV of one row per key, ages 21…25. */
async function customersCsv(dir: string): Promise<string> {
  const file = join(dir, 'customers.csv');
  const rows = KEYS.map((key, i) => `${key},2026-01-01T00:00:00Z,${21 + i}`);
  await writeFile(file, `customer_id,ts,age\n${rows.join('\n')}\n`);
  return file;
}

/**
 * A child process that ingests `source` and is killed with SIGKILL in the middle of the
 * online apply: after the offline commit, with one of the rows written online.
 */
async function ingestAndDieWhileApplying(
  config: Record<string, unknown>,
  source: string,
  key: string,
  target: string,
): Promise<void> {
  const child: ChildProcess = await whenReady(
    spawnSource(new URL('./fixtures/ingest-and-die-while-applying.ts', import.meta.url), [
      JSON.stringify(config),
      source,
      key,
      target,
    ]),
    /applying/,
  );
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

async function ages(fs: FeatureStore, target: string) {
  const [project, featureSet] = target.split('/') as [string, string];
  const rows = await fs.engine.online!.getOnlineFeatures(fs.principal, {
    features: `${project}/${featureSet}:age`,
    entities: KEYS.map((customer_id) => ({ customer_id })),
  });
  return rows.map((row) => row[`${featureSet}__age`]);
}

const ALL_AGES = [21, 22, 23, 24, 25];

describe('kill -9 after the offline commit, before the online apply finished', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('embedded: the next open finishes the apply, and the job says the truth', async () => {
    const store = await tempStore();
    cleanups.push(store.remove);
    const setup = await openFeatureStore({ store: store.dir });
    await setup.engine.projects.create(setup.principal, { name: 'crash' });
    await setup.engine.featureSets.register(setup.principal, 'crash', 'customers', customers);
    await setup.close();
    const source = await customersCsv(store.dir);

    await ingestAndDieWhileApplying({ store: store.dir }, source, 'day-1', 'crash/customers');

    const fs = await openFeatureStore({ store: store.dir });
    cleanups.push(() => fs.close());
    expect(await ages(fs, 'crash/customers')).toEqual(ALL_AGES);
    expect(await fs.engine.drivers.metadata.listPendingOnlineApplies()).toEqual([]);
    const [ingestion] = await fs.engine.offline.ingestions(fs.principal, 'crash', 'customers');
    const job = await fs.engine.jobs.get(fs.principal, ingestion!.jobId!);
    expect(job).toMatchObject({
      type: 'ingest',
      state: 'succeeded',
      result: { ingestionId: ingestion!.id, rowCount: 5, onlineApply: 'applied' },
    });
    expect(job.result).not.toHaveProperty('onlineError');
    // Nothing left to finish: a retry returns the ingestion as it is.
    const retry = await (
      await fs.engine.offline.ingest(fs.principal, 'crash', 'customers', source, {
        idempotencyKey: 'day-1',
      })
    ).result;
    expect(retry).toMatchObject({ ingestionId: ingestion!.id, reused: true });
    expect(retry).not.toHaveProperty('onlineApply');
  }, 120_000);

  describe('shared (PostgreSQL): nobody recovers on open', () => {
    const schema = `applies_${Date.now().toString(36)}`;
    let store: Awaited<ReturnType<typeof tempStore>>;
    let config: Record<string, unknown>;

    async function killedIngest(featureSet: string, key: string) {
      const fs = await openFeatureStore(config);
      try {
        if ((await fs.engine.projects.list(fs.principal)).items.length === 0) {
          await fs.engine.projects.create(fs.principal, { name: 'shared' });
        }
        await fs.engine.featureSets.register(fs.principal, 'shared', featureSet, customers);
      } finally {
        await fs.close();
      }
      await ingestAndDieWhileApplying(
        config,
        await customersCsv(store.dir),
        key,
        `shared/${featureSet}`,
      );
    }

    it('a retry with the same idempotency key completes the online apply', async () => {
      store = await tempStore();
      cleanups.push(store.remove);
      cleanups.push(() => dropMetadataSchema(schema));
      config = {
        store: store.dir,
        metadata: serviceEnv('FEATURESTORE_TEST_POSTGRES_URL'),
        metadataSchema: schema,
      };
      await killedIngest('retried', 'batch-1');

      const fs = await openFeatureStore(config);
      cleanups.push(() => fs.close());
      const before = await ages(fs, 'shared/retried');
      expect(before.filter((age) => age !== null)).toHaveLength(1); // partly applied
      const [pending] = await fs.engine.drivers.metadata.listPendingOnlineApplies();
      expect(pending).toMatchObject({ state: 'committed', rowCount: 5 });

      const retry = await (
        await fs.engine.offline.ingest(
          fs.principal,
          'shared',
          'retried',
          join(store.dir, 'x.csv'),
          {
            idempotencyKey: 'batch-1',
          },
        )
      ).result;
      expect(retry).toMatchObject({
        ingestionId: pending!.id,
        reused: true,
        onlineApply: 'applied',
      });
      expect(await ages(fs, 'shared/retried')).toEqual(ALL_AGES);
      expect(await fs.engine.drivers.metadata.listPendingOnlineApplies()).toEqual([]);
      expect(await fs.engine.offline.ingestions(fs.principal, 'shared', 'retried')).toHaveLength(1);
      // The killed process's job no longer claims to be running.
      expect(await fs.engine.jobs.get(fs.principal, pending!.jobId!)).toMatchObject({
        state: 'succeeded',
        result: { ingestionId: pending!.id, onlineApply: 'applied' },
      });
    }, 120_000);

    it('`featurestore online workers` finishes pending applies when it starts', async () => {
      await killedIngest('repaired', 'batch-2');
      const configFile = join(store.dir, 'config.json');
      await writeFile(configFile, JSON.stringify(config));
      const child = spawnSource(new URL('../src/cli/main.ts', import.meta.url), [
        '--config',
        configFile,
        'online',
        'workers',
      ]);
      cleanups.push(async () => child.kill('SIGKILL'));
      let stderr = '';
      child.stderr!.on('data', (chunk) => {
        stderr += chunk;
      });
      await until(() => stderr.includes('online workers started'), 'the workers to start', 60_000);
      const repaired = stderr
        .split('\n')
        .filter((line) => line.includes('finished a pending online apply'))
        .map((line) => JSON.parse(line));
      expect(repaired).toEqual([
        expect.objectContaining({ level: 30, featureSet: 'shared/repaired' }),
      ]);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      expect((await exited)[0]).toBe(0);

      const fs = await openFeatureStore(config);
      cleanups.push(() => fs.close());
      expect(await ages(fs, 'shared/repaired')).toEqual(ALL_AGES);
      expect(await fs.engine.drivers.metadata.listPendingOnlineApplies()).toEqual([]);
    }, 120_000);
  });
});

describe('a failed online apply is never hidden', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('ingest says it on stderr, exits 3, and the apply stays pending until a store that works finishes it', async () => {
    const store = await tempStore();
    cleanups.push(store.remove);
    // Nothing listens on port 1: every online write fails.
    const down = ['--online', 'redis://127.0.0.1:1'];
    expect((await cli(store.dir, ...down, 'project', 'create', 'shop')).code).toBe(0);
    const schemaFile = join(store.dir, 'customers.schema.json');
    await writeFile(schemaFile, JSON.stringify(customers));
    const registered = await cli(
      store.dir,
      ...down,
      'featureset',
      'register',
      'shop',
      'customers',
      '--schema',
      schemaFile,
    );
    expect(registered.code).toBe(0);
    const source = await customersCsv(store.dir);

    const plain = await cli(store.dir, ...down, 'ingest', 'shop', 'customers', source);
    expect(plain.code).toBe(3);
    expect(plain.stdout).toMatch(/ingested 5 rows/);
    expect(plain.stderr).toMatch(
      /warning: ingestion [0-9a-f-]{36} is committed offline, but applying it to the online store failed: .*Online reads do not serve its rows yet/s,
    );

    const json = await cli(store.dir, ...down, '--json', 'ingest', 'shop', 'customers', source);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({
      onlineApply: 'failed',
      onlineError: expect.any(String),
      onlineErrorCode: 'UNAVAILABLE',
    });
    expect(json.stderr).toMatch(/warning: .* applying it to the online store failed/);

    const fs = await openFeatureStore(
      { store: store.dir, online: serviceEnv('FEATURESTORE_TEST_REDIS_URL') },
      { rebind: true },
    );
    cleanups.push(() => fs.close());
    const featureSet = await fs.engine.featureSets.get(fs.principal, 'shop', 'customers');
    cleanups.push(() =>
      fs.engine.drivers.online!.store.drop({ featureSetId: featureSet.id, major: 1 }),
    );
    // The store that works finished both pending applies when it opened.
    expect(await fs.engine.drivers.metadata.listPendingOnlineApplies()).toEqual([]);
    expect(await ages(fs, 'shop/customers')).toEqual(ALL_AGES);
    const jobs = (await fs.engine.jobs.list(fs.principal, { type: 'ingest' })).items;
    expect(jobs.map((job) => [job.state, job.result?.onlineApply])).toEqual([
      ['succeeded', 'applied'],
      ['succeeded', 'applied'],
    ]);
  }, 120_000);
});
