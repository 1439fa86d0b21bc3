import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OFFLINE_SYNC_SOURCE, UnavailableError } from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { RedisOnlineStore } from '@featurestore/driver-redis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type FeatureStore, type FeatureStoreConfigInput, openFeatureStore } from '../src/index.js';
import { FAULT_KEYS, FAULT_ROUNDS, faultRows } from './fixtures/fault-rows.js';
import {
  dropKafkaNames,
  dropMetadataSchema,
  tuneKafkaConsumers,
} from './fixtures/kafka-namespace.js';
import { cli, cliJson, spawnSource, tempStore, until, whenReady } from './helpers.js';

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'n', type: 'int32' },
  ],
};
const TOTAL = FAULT_KEYS * FAULT_ROUNDS * 2;

async function setUp(fs: FeatureStore): Promise<string> {
  await fs.engine.projects.create(fs.principal, { name: 'faults' });
  const featureSet = await fs.engine.featureSets.register(
    fs.principal,
    'faults',
    'customers',
    customers,
  );
  return featureSet.id;
}

/** Offline rows of faults/customers (all of them, CSV parsed), from the committed ingestions. */
async function offlineRows(fs: FeatureStore): Promise<{ key: string; ts: string; n: number }[]> {
  const running = await fs.engine.offline.retrieve(fs.principal, 'faults', 'customers', {
    format: 'csv',
  });
  const { outputKey } = await running.result;
  const chunks: Buffer[] = [];
  for await (const chunk of await fs.storage.get(outputKey)) chunks.push(chunk as Buffer);
  const [header, ...lines] = Buffer.concat(chunks).toString('utf8').trim().split('\n');
  const columns = header!.split(',');
  return lines.map((line) => {
    const cells = line.split(',');
    const get = (name: string) => cells[columns.indexOf(name)]!;
    return { key: get('customer_id'), ts: get('ts'), n: Number(get('n')) };
  });
}

async function syncedRows(fs: FeatureStore): Promise<number> {
  const ingestions = await fs.engine.offline.ingestions(fs.principal, 'faults', 'customers');
  return ingestions
    .filter((ingestion) => ingestion.source === OFFLINE_SYNC_SOURCE)
    .reduce((sum, ingestion) => sum + ingestion.rowCount, 0);
}

/** Every key online holds the newest round; offline holds every pushed row exactly once. */
async function expectComplete(fs: FeatureStore, syncWithinMs = 90_000): Promise<void> {
  const newest = faultRows().at(-2)!;
  await fs.engine.online!.waitApplied(fs.principal, 'faults', 'customers', newest, {
    timeoutMs: 60_000,
  });
  const online = await fs.engine.online!.getOnlineFeatures(fs.principal, {
    features: 'faults/customers:n',
    entities: newest.map((row) => ({ customer_id: row.customer_id })),
  });
  expect(online.map((row) => row.customers__n)).toEqual(newest.map(() => FAULT_ROUNDS - 1));
  await until(
    async () => (await syncedRows(fs)) >= TOTAL,
    `${TOTAL} rows synced offline`,
    syncWithinMs,
  );
  const rows = await offlineRows(fs);
  expect(rows).toHaveLength(TOTAL);
  const distinct = new Set(rows.map((row) => `${row.key}@${row.ts}`));
  expect(distinct.size).toBe(TOTAL);
  expect(await syncedRows(fs)).toBe(TOTAL);
}

/** Starts a fixture process; resolves once its output matches `ready`. */
function startFixture(fixture: string, ready: RegExp, ...args: string[]): Promise<ChildProcess> {
  return whenReady(spawnSource(new URL(`./fixtures/${fixture}`, import.meta.url), args), ready);
}

describe('online → offline sync under faults', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('featurestore online push (embedded) returns once the rows are committed offline too', async () => {
    const store = await tempStore();
    cleanups.push(store.remove);
    const setup = await openFeatureStore({ store: store.dir });
    await setUp(setup);
    await setup.close();
    const file = join(store.dir, 'rows.json');
    await writeFile(file, JSON.stringify(faultRows()[0]));
    const result = await cliJson(store.dir, 'online', 'push', 'faults', 'customers', file);
    expect(result).toMatchObject({ rows: FAULT_KEYS, offlineSynced: true });
    const fs = await openFeatureStore({ store: store.dir });
    cleanups.push(() => fs.close());
    expect(await syncedRows(fs)).toBe(FAULT_KEYS);
    expect(await offlineRows(fs)).toHaveLength(FAULT_KEYS);
  }, 60_000);

  it('featurestore online push (Kafka) also returns once the rows are committed offline', async () => {
    // Own topic and groups on the shared broker: no other run's rows, no other run's workers.
    const run = `cli_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    // PostgreSQL metadata (own schema): the workers and the push are separate processes.
    const config = {
      metadata: serviceEnv('FEATURESTORE_TEST_POSTGRES_URL'),
      metadataSchema: run,
      queue: `kafka://${serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS')}`,
      queueNamespace: run,
    };
    const store = await tempStore();
    cleanups.push(store.remove);
    cleanups.push(() => dropServiceData(run, undefined));
    const restoreKafka = tuneKafkaConsumers();
    cleanups.push(async () => restoreKafka());
    const setup = await openFeatureStore({ ...config, store: store.dir });
    await setUp(setup);
    await setup.close();
    const configFile = join(store.dir, 'kafka.json');
    await writeFile(configFile, JSON.stringify(config));
    const file = join(store.dir, 'rows.json');
    await writeFile(file, JSON.stringify(faultRows()[0]));
    const push = (...extra: string[]) =>
      cli(
        store.dir,
        '--json',
        '--config',
        configFile,
        'online',
        'push',
        ...extra,
        'faults',
        'customers',
        file,
      );
    // With Kafka a push only publishes: without workers its rows wait on the queue, and it
    // says so (it no longer joins the workers' consumer groups itself).
    const alone = await push('--timeout', '2');
    expect(alone.code).not.toBe(0);
    expect(JSON.parse(alone.stderr)).toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(
        /published to the queue but not applied .* are the online workers running/,
      ),
    });
    const workers = await openFeatureStore({ ...config, store: store.dir }, { workers: true });
    cleanups.push(() => workers.close());
    const pushed = await push();
    expect(pushed.stderr).toBe('');
    const result = JSON.parse(pushed.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ rows: FAULT_KEYS, offlineSynced: true });
    expect(result).not.toHaveProperty('positions');
    // Read right after the command, without polling: the push waited for the offline commit
    // (of its rows and the first push's, before them in the same partitions).
    const fs = await openFeatureStore({ ...config, store: store.dir });
    cleanups.push(() => fs.close());
    expect(await syncedRows(fs)).toBe(2 * FAULT_KEYS);
    expect(await offlineRows(fs)).toHaveLength(2 * FAULT_KEYS);
  }, 90_000);

  it('a worker killed mid-batch loses and duplicates nothing after a restart', async () => {
    const store = await tempStore();
    cleanups.push(store.remove);
    const setup = await openFeatureStore({ store: store.dir });
    await setUp(setup);
    await setup.close();

    // The sync commits batches of at most 7 rows per partition every 200 ms: killed as soon
    // as the first rows are committed, it is seconds away from done (a fixed delay was not:
    // once pushes got faster, everything was synced before it ran out).
    const child = await startFixture('push-and-sync.ts', /^synced [1-9]/m, store.dir);
    cleanups.push(async () => child.kill('SIGKILL'));
    child.kill('SIGKILL');
    await once(child, 'exit').catch(() => undefined);

    const fs = await openFeatureStore({ store: store.dir }, { workers: true });
    cleanups.push(() => fs.close());
    const before = await syncedRows(fs);
    expect(before).toBeLessThan(TOTAL); // killed mid-sync, not after it
    await expectComplete(fs);
  }, 180_000);

  it('with Redis down, reads fail fast, pushes wait on the queue, and the worker catches up', async () => {
    const redisDir = await mkdtemp(join(tmpdir(), 'featurestore-redis-'));
    cleanups.push(() => rm(redisDir, { recursive: true, force: true }));
    const port = await freePort();
    let redis = await startRedis(port, redisDir);
    cleanups.push(async () => redis.kill('SIGKILL'));
    const store = await tempStore();
    cleanups.push(store.remove);
    const fs = await openFeatureStore(
      { store: store.dir, online: `redis://127.0.0.1:${port}` },
      { workers: true, queueBatchSize: 50 },
    );
    cleanups.push(() => fs.close());
    await setUp(fs);
    const pushes = faultRows();
    const half = pushes.length / 2;
    for (const rows of pushes.slice(0, half)) {
      await fs.engine.online!.push(fs.principal, 'faults', 'customers', rows);
    }
    await fs.engine.online!.waitApplied(fs.principal, 'faults', 'customers', pushes[half - 2]!, {
      timeoutMs: 30_000,
    });

    // Down, with what it holds saved for the restart.
    const exited = once(redis, 'exit');
    await redisCli(port, 'shutdown', 'save');
    await exited;
    // The apply worker's writes from now on: the real ones, watched.
    const writes = vi.spyOn(fs.engine.drivers.online!.store, 'write');
    const started = Date.now();
    await expect(
      fs.engine.online!.getOnlineFeatures(fs.principal, {
        features: 'faults/customers:n',
        entities: [{ customer_id: 'c0' }],
      }),
    ).rejects.toBeInstanceOf(UnavailableError);
    expect(Date.now() - started).toBeLessThan(5_000);
    for (const rows of pushes.slice(half)) {
      await fs.engine.online!.push(fs.principal, 'faults', 'customers', rows);
    }
    await until(
      () => writes.mock.settledResults.some((result) => result.type === 'rejected'),
      'the apply worker to meet the outage (a write Redis refused)',
      30_000,
    );

    redis = await startRedis(port, redisDir);
    await expectComplete(fs);
  }, 180_000);
});

describe('online → offline sync under faults, on PostgreSQL, Redis and Kafka', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('a worker killed mid-batch: after a restart every pushed row is readable and offline exactly once, and no older value ever replaced a newer one', async () => {
    // Own metadata schema, own Kafka topic and groups (queueNamespace), own
    // feature set id in the shared Redis: nothing of this test is seen by another run.
    const run = `faults_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    const config: FeatureStoreConfigInput = {
      metadata: serviceEnv('FEATURESTORE_TEST_POSTGRES_URL'),
      metadataSchema: run,
      online: serviceEnv('FEATURESTORE_TEST_REDIS_URL'),
      queue: `kafka://${serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS')}`,
      queueNamespace: run,
    };
    const store = await tempStore();
    cleanups.push(store.remove);
    let featureSetId: string | undefined;
    cleanups.push(() => dropServiceData(run, featureSetId));
    const restoreKafka = tuneKafkaConsumers();
    cleanups.push(async () => restoreKafka());
    const reader = await openFeatureStore({ ...config, store: store.dir });
    cleanups.push(() => reader.close());
    featureSetId = await setUp(reader);

    // Watches the online values all along: per key, n only grows and a stale row (n = -1,
    // always older than the round pushed before it) never shows.
    const newest = new Map<string, number>();
    const regressions: string[] = [];
    let watching = true;
    const watcher = (async () => {
      const entities = faultRows()[0]!.map((row) => ({ customer_id: row.customer_id }));
      while (watching) {
        const rows = await reader.engine
          .online!.getOnlineFeatures(reader.principal, {
            features: 'faults/customers:n',
            entities,
          })
          .catch(() => []);
        for (const row of rows) {
          const key = String(row.customer_id);
          const n = row.customers__n as number | null;
          if (n === null) continue;
          const before = newest.get(key);
          if (n < 0 || (before !== undefined && n < before)) {
            regressions.push(`${key}: ${before} then ${n}`);
          }
          newest.set(key, Math.max(n, before ?? n));
        }
        await sleep(25);
      }
    })();
    cleanups.push(async () => {
      watching = false;
      await watcher;
    });

    const child = await startFixture(
      'push-and-sync-services.ts',
      /pushed/,
      JSON.stringify({ ...config, store: store.dir }),
    );
    cleanups.push(async () => child.kill('SIGKILL'));
    // Killed as soon as its sync worker committed a first batch: in the middle of the rest.
    await until(async () => (await syncedRows(reader)) > 0, 'a first synced batch', 30_000);
    child.kill('SIGKILL');
    await once(child, 'exit').catch(() => undefined);
    const before = await syncedRows(reader);
    expect(before).toBeLessThan(TOTAL); // killed mid-sync, not after it

    // The restart: its consumers join once the group drops the killed member (6 s).
    const fs = await openFeatureStore({ ...config, store: store.dir }, { workers: true });
    cleanups.push(() => fs.close());
    await expectComplete(fs, 40_000);
    watching = false;
    await watcher;
    expect(regressions).toEqual([]);
    expect([...newest.values()]).toEqual(faultRows()[0]!.map(() => FAULT_ROUNDS - 1));
  }, 90_000);
});

/** Removes what a run left in the shared services: topic, groups, schema, Redis keys. */
async function dropServiceData(run: string, featureSetId: string | undefined): Promise<void> {
  await dropKafkaNames(run);
  await dropMetadataSchema(run);
  if (featureSetId !== undefined) {
    const online = RedisOnlineStore.fromUrl(serviceEnv('FEATURESTORE_TEST_REDIS_URL'));
    try {
      await online.drop({ featureSetId, major: 1 });
    } finally {
      await online.close();
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Our own throwaway redis-server (never the shared one), persisted only by `shutdown save`. */
async function startRedis(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    '/usr/bin/redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  return child;
}

async function redisCli(port: number, ...args: string[]): Promise<void> {
  const child = spawn('/usr/bin/redis-cli', ['-p', String(port), ...args], { stdio: 'ignore' });
  await once(child, 'exit');
}
