import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OFFLINE_SYNC_SOURCE, UnavailableError } from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, type FeatureStoreConfigInput, openFeatureStore } from '../src/index.js';
import { dropMetadataSchema } from './fixtures/kafka-namespace.js';
import { cli, cliJson, tempStore } from './helpers.js';

// Issue 11 item 1: a reverted ingestion kept being served online (and `materialize` kept it).

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
  ],
};

/** A schema of its own per run for the PostgreSQL online store, dropped afterwards. */
const pgSchema = `h4_revert_${randomBytes(4).toString('hex')}`;

const configs: [string, () => FeatureStoreConfigInput][] = [
  ['embedded (PGlite online store)', () => ({})],
  ['Redis online store', () => ({ online: serviceEnv('FEATURESTORE_TEST_REDIS_URL') })],
  [
    'PostgreSQL online store',
    () => ({ online: serviceEnv('FEATURESTORE_TEST_POSTGRES_URL'), metadataSchema: pgSchema }),
  ],
];

afterAll(async () => {
  await dropMetadataSchema(pgSchema);
});

describe.each(configs)('revert reaches the online store: %s', (_name, config) => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  /** Source files live outside the store folder, where the store reads nothing. */
  let files: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;
  const project = `revert_${Date.now().toString(36)}`;
  let csv = 0;
  beforeAll(async () => {
    store = await tempStore();
    files = await tempStore();
    fs = await openFeatureStore({ ...config(), store: store.dir });
    await fs.engine.projects.create(fs.principal, { name: project });
  }, 60_000);
  afterAll(async () => {
    await fs?.close();
    await store?.remove();
    await files?.remove();
  });

  const register = (name: string) =>
    fs.engine.featureSets.register(fs.principal, project, name, customers);

  /** Ingests `customer_id,ts,age` rows; returns the ingestion id and the job's result. */
  async function ingest(featureSet: string, rows: [string, string, number][]) {
    const file = join(files.dir, `rows-${++csv}.csv`);
    const lines = rows.map(([id, ts, age]) => `${id},${ts},${age}`);
    await writeFile(file, `customer_id,ts,age\n${lines.join('\n')}\n`);
    const job = await fs.engine.offline.ingest(fs.principal, project, featureSet, file);
    return job.result;
  }

  async function revert(featureSet: string, ingestionId: string) {
    const job = await fs.engine.offline.revert(fs.principal, project, featureSet, ingestionId);
    return job.result;
  }

  async function materialize(featureSet: string, rebuild = false) {
    const job = await fs.engine.online!.materialize(fs.principal, project, featureSet, {
      rebuild,
    });
    return job.result;
  }

  /** `age` online per customer (null when the key is missing). */
  async function online(featureSet: string, ...ids: string[]): Promise<unknown[]> {
    const rows = await fs.engine.online!.getOnlineFeatures(fs.principal, {
      features: `${project}/${featureSet}:age`,
      entities: ids.map((customer_id) => ({ customer_id })),
    });
    return rows.map((row) => row[`${featureSet}__age`]);
  }

  /** `age` of the latest committed row per customer, as `retrieve --latest` computes it. */
  async function offline(featureSet: string): Promise<Record<string, number>> {
    const job = await fs.engine.offline.retrieve(fs.principal, project, featureSet, {
      latest: true,
    });
    const { outputKey } = await job.result;
    const chunks: Buffer[] = [];
    for await (const chunk of await fs.engine.drivers.storage.get(outputKey)) {
      chunks.push(Buffer.from(chunk as Uint8Array));
    }
    const [, ...lines] = Buffer.concat(chunks).toString('utf8').trim().split('\n');
    return Object.fromEntries(
      lines.filter(Boolean).map((line) => {
        const [id, , age] = line.split(',');
        return [id!, Number(age)];
      }),
    );
  }

  it('ingest A, ingest B (later event time), revert B: online says A, as offline does', async () => {
    await register('issue');
    await ingest('issue', [
      ['c1', '2026-01-01T00:00:00Z', 1],
      ['c2', '2026-01-01T00:00:00Z', 10],
    ]);
    const b = await ingest('issue', [
      ['c1', '2026-01-02T00:00:00Z', 2],
      ['c3', '2026-01-02T00:00:00Z', 30],
    ]);
    expect(await online('issue', 'c1', 'c2', 'c3')).toEqual([2, 10, 30]);

    const reverted = await revert('issue', b.ingestionId);
    // c1 gets A's row back, c3 (only in B) is removed.
    expect(reverted.online).toEqual({ keys: 2, replaced: 1, deleted: 1, kept: 0 });
    expect(await online('issue', 'c1', 'c2', 'c3')).toEqual([1, 10, null]);
    expect(await offline('issue')).toEqual({ c1: 1, c2: 10 });

    // materialize now says what it did: nothing to write, everything already online.
    expect(await materialize('issue')).toEqual({
      rows: 2,
      written: 0,
      unchanged: 2,
      older: 0,
      deleted: 0,
    });
    // Reverting again is harmless: nothing holds B's values any more.
    expect((await revert('issue', b.ingestionId)).online).toEqual({
      keys: 2,
      replaced: 0,
      deleted: 0,
      kept: 2,
    });
    expect(await online('issue', 'c1', 'c2', 'c3')).toEqual([1, 10, null]);
  }, 120_000);

  it('keeps a newer value written online after the reverted one, and newest-wins after it', async () => {
    const featureSet = await register('newer');
    await ingest('newer', [['c1', '2026-01-01T00:00:00Z', 1]]);
    const b = await ingest('newer', [['c1', '2026-01-02T00:00:00Z', 2]]);
    const store = fs.engine.drivers.online!.store;
    const ref = { featureSetId: featureSet.id, major: 1 };
    // A newer value reaches the online store (a push, applied) before the revert.
    await store.write(ref, [
      {
        key: ['c1'],
        eventTime: Date.parse('2026-01-03T00:00:00Z'),
        writeSequence: 1,
        values: { age: 3 },
      },
    ]);
    expect((await revert('newer', b.ingestionId)).online).toMatchObject({ kept: 1, replaced: 0 });
    expect(await online('newer', 'c1')).toEqual([3]);
    // An ordinary materialize still follows newest-wins, and says so.
    expect(await materialize('newer')).toMatchObject({ rows: 1, written: 0, older: 1 });
    expect(await online('newer', 'c1')).toEqual([3]);
  }, 120_000);

  it('a push landing between the read and the replace is kept: the key is decided again', async () => {
    const featureSet = await register('racing');
    await ingest('racing', [['c1', '2026-01-01T00:00:00Z', 1]]);
    const b = await ingest('racing', [['c1', '2026-01-02T00:00:00Z', 2]]);
    const store = fs.engine.drivers.online!.store;
    const ref = { featureSetId: featureSet.id, major: 1 };
    const replace = store.replace.bind(store);
    let calls = 0;
    // The first replace of the recomputation finds that a newer push landed after its read.
    store.replace = async (target, replacements) => {
      if (calls++ === 0) {
        await store.write(ref, [
          {
            key: ['c1'],
            eventTime: Date.parse('2026-01-03T00:00:00Z'),
            writeSequence: 1,
            values: { age: 3 },
          },
        ]);
      }
      return replace(target, replacements);
    };
    try {
      const reverted = await revert('racing', b.ingestionId);
      expect(reverted.online).toEqual({ keys: 1, replaced: 0, deleted: 0, kept: 1 });
    } finally {
      store.replace = replace;
    }
    expect(calls).toBe(1);
    expect(await online('racing', 'c1')).toEqual([3]);
  }, 120_000);

  it('a failed online recompute fails the revert job, and reverting again finishes it', async () => {
    await register('retried');
    await ingest('retried', [['c1', '2026-01-01T00:00:00Z', 1]]);
    const b = await ingest('retried', [['c1', '2026-01-02T00:00:00Z', 2]]);
    const store = fs.engine.drivers.online!.store;
    const replace = store.replace.bind(store);
    store.replace = async () => {
      throw new UnavailableError('the online store is down (injected)');
    };
    try {
      await expect(revert('retried', b.ingestionId)).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringContaining(
          `ingestion ${b.ingestionId} is reverted offline, but the online store may still serve its values: the online store is down (injected). Run the revert again`,
        ),
      });
    } finally {
      store.replace = replace;
    }
    expect(await offline('retried')).toEqual({ c1: 1 });
    expect(await online('retried', 'c1')).toEqual([2]);
    expect((await revert('retried', b.ingestionId)).online).toMatchObject({ replaced: 1 });
    expect(await online('retried', 'c1')).toEqual([1]);
  }, 120_000);

  it('reverting an online-sync ingestion puts the committed value back online', async () => {
    await register('pushed');
    await ingest('pushed', [['c1', '2026-01-01T00:00:00Z', 1]]);
    const engine = fs.engine.online!;
    await engine.startWorker({ offlineSync: true });
    const rows = [{ customer_id: 'c1', ts: '2026-01-02T00:00:00Z', age: 2 }];
    const pushed = await engine.push(fs.principal, project, 'pushed', rows);
    await engine.waitApplied(fs.principal, project, 'pushed', rows, { timeoutMs: 30_000 });
    await engine.waitSynced(pushed, { timeoutMs: 30_000 });
    expect(await online('pushed', 'c1')).toEqual([2]);
    expect(await offline('pushed')).toEqual({ c1: 2 });

    const ingestions = await fs.engine.offline.ingestions(fs.principal, project, 'pushed');
    const synced = ingestions.filter((ingestion) => ingestion.source === OFFLINE_SYNC_SOURCE);
    expect(synced).toHaveLength(1);
    const reverted = await revert('pushed', synced[0]!.id);
    expect(reverted.online).toEqual({ keys: 1, replaced: 1, deleted: 0, kept: 0 });
    expect(await online('pushed', 'c1')).toEqual([1]);
    expect(await offline('pushed')).toEqual({ c1: 1 });
  }, 120_000);

  it('materialize --rebuild resets the online values to the committed data', async () => {
    const featureSet = await register('rebuilt');
    await ingest('rebuilt', [
      ['c1', '2026-01-01T00:00:00Z', 1],
      ['c2', '2026-01-01T00:00:00Z', 10],
    ]);
    const store = fs.engine.drivers.online!.store;
    const ref = { featureSetId: featureSet.id, major: 1 };
    const stray = (key: string, age: number) => ({
      key: [key],
      eventTime: Date.parse('2026-02-01T00:00:00Z'),
      writeSequence: 1,
      values: { age },
    });
    // Values offline never had: newer than the committed rows, and a key without any.
    await store.write(ref, [stray('c1', 99), stray('c9', 9)]);
    await store.delete(ref, [['c2']]);
    expect(await online('rebuilt', 'c1', 'c2', 'c9')).toEqual([99, null, 9]);

    expect(await materialize('rebuilt')).toEqual({
      rows: 2,
      written: 1,
      unchanged: 0,
      older: 1,
      deleted: 0,
    });
    expect(await online('rebuilt', 'c1', 'c2', 'c9')).toEqual([99, 10, 9]);

    expect(await materialize('rebuilt', true)).toEqual({
      rows: 2,
      written: 1,
      unchanged: 1,
      older: 0,
      deleted: 1,
    });
    expect(await online('rebuilt', 'c1', 'c2', 'c9')).toEqual([1, 10, null]);
    // Later writes follow newest-wins again.
    await store.write(ref, [stray('c1', 5)]);
    expect(await online('rebuilt', 'c1')).toEqual([5]);
  }, 120_000);
});

describe('revert and materialize --rebuild through the CLI (embedded)', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let files: Awaited<ReturnType<typeof tempStore>>;
  const file = (name: string) => join(files.dir, name);
  beforeAll(async () => {
    store = await tempStore();
    files = await tempStore();
    await writeFile(file('customers.schema.json'), JSON.stringify(customers));
    await cliJson(store.dir, 'project', 'create', 'shop');
    await cliJson(
      store.dir,
      'featureset',
      'register',
      'shop',
      'customers',
      '--schema',
      file('customers.schema.json'),
    );
  }, 60_000);
  afterAll(async () => {
    await store?.remove();
    await files?.remove();
  });

  const age = async (id: string) => {
    const { items } = await cliJson<{ items: Record<string, unknown>[] }>(
      store.dir,
      'online',
      'get',
      'shop',
      'customers',
      '--key',
      `customer_id=${id}`,
    );
    return items[0]?.customers__age;
  };

  it('online get says A after reverting B, and materialize says what it wrote', async () => {
    await writeFile(file('a.csv'), 'customer_id,ts,age\nc1,2026-01-01T00:00:00Z,1\n');
    await writeFile(file('b.csv'), 'customer_id,ts,age\nc1,2026-01-02T00:00:00Z,2\n');
    await cliJson(store.dir, 'ingest', 'shop', 'customers', file('a.csv'));
    const b = await cliJson<{ ingestionId: string }>(
      store.dir,
      'ingest',
      'shop',
      'customers',
      file('b.csv'),
    );
    expect(await age('c1')).toBe(2);

    const reverted = await cliJson(store.dir, 'revert', 'shop', 'customers', b.ingestionId);
    expect(reverted).toMatchObject({ online: { keys: 1, replaced: 1 } });
    expect(await age('c1')).toBe(1);
    await cliJson(store.dir, 'retrieve', 'shop', 'customers', '--latest', '--out', file('l.csv'));
    expect(await readFile(file('l.csv'), 'utf8')).toContain('c1,2026-01-01T00:00:00.000Z,1');

    const materialized = await cli(store.dir, 'materialize', 'shop', 'customers');
    expect(materialized.code).toBe(0);
    expect(materialized.stdout).toContain(
      'materialized shop/customers from 1 keys with committed rows: 0 written, 1 already online, 0 kept (the online value is newer)',
    );

    const rebuilt = await cli(store.dir, 'materialize', 'shop', 'customers', '--rebuild');
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout).toContain(
      'rebuilt the online values of shop/customers from 1 keys with committed rows: 0 written, 1 already online, 0 removed (no committed row)',
    );
    const json = await cliJson(store.dir, 'materialize', 'shop', 'customers', '--rebuild');
    expect(json).toMatchObject({ rows: 1, written: 0, unchanged: 1, older: 0, deleted: 0 });
  }, 120_000);
});
