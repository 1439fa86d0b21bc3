import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FeatureStoreEngine, OFFLINE_SYNC_SOURCE } from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, type FeatureStoreConfigInput, openFeatureStore } from '../src/index.js';
import {
  dropKafkaNames,
  dropMetadataSchema,
  tuneKafkaConsumers,
} from './fixtures/kafka-namespace.js';
import { tempStore, until } from './helpers.js';

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
    { name: 'income', type: 'float64', sensitive: true },
  ],
};
const transactions = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  timeToLive: 'P1D',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'count_7d', type: 'int64' },
    { name: 'merchants', type: 'list<string>' },
  ],
};

const configs: [string, () => FeatureStoreConfigInput][] = [
  ['embedded (PGlite online store, local log queue)', () => ({})],
  [
    'Redis online store and Kafka queue',
    () => ({
      online: serviceEnv('FEATURESTORE_TEST_REDIS_URL'),
      queue: `kafka://${serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS')}`,
    }),
  ],
];

describe.each(configs)('online engine: %s', (_name, config) => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;
  const project = `online_${Date.now().toString(36)}`;
  beforeAll(async () => {
    store = await tempStore();
    fs = await openFeatureStore({ ...config(), store: store.dir });
    const { engine, principal } = fs;
    await engine.projects.create(principal, { name: project });
    await engine.featureSets.register(principal, project, 'customers', customers);
    await engine.featureSets.register(principal, project, 'transactions', transactions);
    await engine.online!.startWorker();
  }, 60_000);
  afterAll(async () => {
    await fs?.close();
    await store?.remove();
  });

  it('applies pushed rows newest-wins and reads several feature sets for many keys at once', async () => {
    const online = fs.engine.online!;
    const now = Date.now();
    const rows = [
      { customer_id: 'c1', ts: new Date(now - 60_000).toISOString(), age: 30, income: 50_000 },
      { customer_id: 'c1', ts: new Date(now - 3_600_000).toISOString(), age: 29, income: 1 },
      { customer_id: 'c2', ts: new Date(now - 1000).toISOString(), age: 41, income: null },
    ];
    await online.push(fs.principal, project, 'customers', rows);
    await online.waitApplied(fs.principal, project, 'customers', rows, { timeoutMs: 20_000 });
    const tx = [
      {
        customer_id: 'c1',
        ts: new Date(now - 1000).toISOString(),
        count_7d: '9007199254740993',
        merchants: ['a', 'b'],
      },
      {
        customer_id: 'c2',
        ts: new Date(now - 2 * 86_400_000).toISOString(),
        count_7d: 2,
        merchants: [],
      },
    ];
    await online.push(fs.principal, project, 'transactions', tx);
    await online.waitApplied(fs.principal, project, 'transactions', tx, { timeoutMs: 20_000 });

    const result = await online.getOnlineFeatures(fs.principal, {
      features: `${project}/customers:age,${project}/customers:income,${project}/transactions:*`,
      entities: [{ customer_id: 'c1' }, { customer_id: 'c2' }, { customer_id: 'nobody' }],
    });
    expect(result).toEqual([
      {
        customer_id: 'c1',
        customers__age: 30,
        customers__income: 50_000,
        transactions__count_7d: '9007199254740993',
        transactions__merchants: ['a', 'b'],
      },
      // c2's transactions row is older than the one-day time to live.
      {
        customer_id: 'c2',
        customers__age: 41,
        customers__income: null,
        transactions__count_7d: null,
        transactions__merchants: null,
      },
      {
        customer_id: 'nobody',
        customers__age: null,
        customers__income: null,
        transactions__count_7d: null,
        transactions__merchants: null,
      },
    ]);
  }, 60_000);

  it('refuses a push with one bad row, naming it, and applies none of its rows', async () => {
    const online = fs.engine.online!;
    const rows = [
      { customer_id: 'c9', ts: new Date().toISOString(), age: 1 },
      { customer_id: 'c10', ts: new Date().toISOString(), age: 'old' },
    ];
    await expect(online.push(fs.principal, project, 'customers', rows)).rejects.toThrow(
      /row 2, field "age": "old" is not a int32/,
    );
    await expect(
      online.push(fs.principal, project, 'customers', [
        { customer_id: 'c11', ts: new Date().toISOString(), shoe: 9 },
      ]),
    ).rejects.toThrow(/row 1, field "shoe": .* has no such feature/);
    await expect(
      online.push(fs.principal, project, 'customers', [{ ts: new Date().toISOString() }]),
    ).rejects.toThrow(/row 1, field "customer_id": the primary key is missing/);
    const [c9] = await online.getOnlineFeatures(fs.principal, {
      features: `${project}/customers:age`,
      entities: [{ customer_id: 'c9' }],
    });
    expect(c9).toEqual({ customer_id: 'c9', customers__age: null });
  }, 30_000);

  it('gives sensitive features only to roles allowed to read them', async () => {
    const { engine, principal } = fs;
    const name = `reader_${Date.now().toString(36)}`;
    await engine.access.createUser(principal, { name });
    await engine.access.grant(principal, project, name, 'consumer');
    const reader = await engine.access.principalFor(name);
    const online = engine.online!;
    await expect(
      online.getOnlineFeatures(reader, {
        features: `${project}/customers:age`,
        entities: [{ customer_id: 'c1' }],
      }),
    ).resolves.toHaveLength(1);
    await expect(
      online.getOnlineFeatures(reader, {
        features: `${project}/customers:income`,
        entities: [{ customer_id: 'c1' }],
      }),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await engine.access.grant(principal, project, name, 'sensitive_consumer');
    await expect(
      online.getOnlineFeatures(reader, {
        features: `${project}/customers:income`,
        entities: [{ customer_id: 'c1' }],
      }),
    ).resolves.toHaveLength(1);
    // Lookups are cached for reads, but a change made in this process applies at once.
    await engine.access.revoke(principal, project, name);
    await expect(
      online.getOnlineFeatures(reader, {
        features: `${project}/customers:age`,
        entities: [{ customer_id: 'c1' }],
      }),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  }, 30_000);
});

describe('a serving process and a role revoked by another process', () => {
  const schema = `cache_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const stores: Awaited<ReturnType<typeof tempStore>>[] = [];
  const opened: FeatureStore[] = [];
  const open = async (extra: FeatureStoreConfigInput) => {
    const store = await tempStore();
    stores.push(store);
    const fs = await openFeatureStore({
      store: store.dir,
      metadata: serviceEnv('FEATURESTORE_TEST_POSTGRES_URL'),
      metadataSchema: schema,
      online: serviceEnv('FEATURESTORE_TEST_REDIS_URL'),
      ...extra,
    });
    opened.push(fs);
    return fs;
  };
  afterAll(async () => {
    for (const fs of opened) await fs.close();
    for (const store of stores) await store.remove();
    await dropMetadataSchema(schema);
  });

  it('sees the revocation within onlineMetadataCacheMs', async () => {
    const admin = await open({});
    const { engine, principal } = admin;
    await engine.projects.create(principal, { name: 'shop' });
    await engine.featureSets.register(principal, 'shop', 'customers', customers);
    await engine.access.createUser(principal, { name: 'model' });
    await engine.access.grant(principal, 'shop', 'model', 'consumer');

    const serving = await open({ onlineMetadataCacheMs: 400 });
    // The serving store's engine once more, on a clock this test moves: its cache expires
    // exactly when the clock says, however busy the machine.
    let now = Date.now();
    const clocked = new FeatureStoreEngine({
      ...serving.engine.drivers,
      onlineMetadataCacheMs: 400,
      onlineMetadataClock: () => now,
    });
    const model = await serving.engine.access.principalFor('model');
    const read = (reader: FeatureStoreEngine) =>
      reader.online!.getOnlineFeatures(model, {
        features: 'shop/customers:age',
        entities: [{ customer_id: 'c1' }],
      });
    const allowed = [{ customer_id: 'c1', customers__age: null }];
    await expect(read(clocked)).resolves.toEqual(allowed);
    await expect(read(serving.engine)).resolves.toEqual(allowed);
    await engine.access.revoke(principal, 'shop', 'model');
    now += 399;
    await expect(read(clocked)).resolves.toEqual(allowed); // served from the cache
    now += 1;
    await expect(read(clocked)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    // The store opened with the setting, on the real clock: refused once its entries expire.
    await until(
      () =>
        read(serving.engine).then(
          () => false,
          (error: unknown) => {
            if ((error as { code?: unknown }).code === 'PERMISSION_DENIED') return true;
            throw error;
          },
        ),
      'the serving store to refuse the revoked role',
      10_000,
    );
  }, 30_000);
});

/** Stores with their own queue names (`queueNamespace`), so no other run's rows are synced. */
const syncConfigs: [string, (namespace: string) => FeatureStoreConfigInput][] = [
  ['embedded (local log queue)', () => ({})],
  [
    'Kafka queue',
    (namespace) => ({
      queue: `kafka://${serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS')}`,
      queueNamespace: namespace,
    }),
  ],
];

describe.each(syncConfigs)('waiting for the offline sync of a push: %s', (name, config) => {
  const namespace = `sync_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const project = 'synced';
  let store: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;
  let restoreKafka = () => {};
  beforeAll(async () => {
    restoreKafka = tuneKafkaConsumers();
    store = await tempStore();
    fs = await openFeatureStore({ ...config(namespace), store: store.dir });
    await fs.engine.projects.create(fs.principal, { name: project });
    await fs.engine.featureSets.register(fs.principal, project, 'customers', customers);
  }, 60_000);
  afterAll(async () => {
    await fs?.close();
    await store?.remove();
    restoreKafka();
    if (name === 'Kafka queue') await dropKafkaNames(namespace);
  }, 60_000);

  const syncedIngestions = async () =>
    (await fs.engine.offline.ingestions(fs.principal, project, 'customers')).filter(
      (ingestion) => ingestion.source === OFFLINE_SYNC_SOURCE,
    );
  /** The customer ids of every offline row, sorted. */
  const offlineIds = async () => {
    const running = await fs.engine.offline.retrieve(fs.principal, project, 'customers', {
      format: 'csv',
    });
    const { outputKey } = await running.result;
    const chunks: Buffer[] = [];
    for await (const chunk of await fs.storage.get(outputKey)) chunks.push(chunk as Buffer);
    const [header, ...lines] = Buffer.concat(chunks).toString('utf8').trim().split('\n');
    const column = header!.split(',').indexOf('customer_id');
    return lines.map((line) => line.split(',')[column]!).sort();
  };
  const rowsFor = (prefix: string, count: number) =>
    Array.from({ length: count }, (_, i) => ({
      customer_id: `${prefix}${String(i).padStart(2, '0')}`,
      ts: new Date(Date.now() - i * 1000).toISOString(),
      age: 20 + i,
      income: i,
    }));

  it('times out with UNAVAILABLE while no sync worker runs (Kafka; the embedded store runs its own), then resolves once the rows are committed offline', async () => {
    const online = fs.engine.online!;
    const rows = rowsFor('a', 12);
    const result = await online.push(fs.principal, project, 'customers', rows);
    expect(result.positions).toHaveLength(rows.length);
    // Positions in several partitions: the wait covers each of them.
    expect(new Set(result.positions.map((p) => p.partition)).size).toBeGreaterThan(1);

    if (name === 'Kafka queue') {
      const started = Date.now();
      await expect(online.waitSynced(result, { timeoutMs: 1500 })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(
          /published to the queue but not synced to the offline store within 1500 ms: is an offline sync worker running/,
        ),
      });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await syncedIngestions()).toEqual([]);
      await online.startWorker({ offlineSync: true });
    }
    // The embedded store started its workers on the push: nobody else reads its local log.
    await online.waitSynced(result, { timeoutMs: 30_000 });
    // No polling: once waitSynced resolves, the rows are retrievable offline.
    expect(await offlineIds()).toEqual(rows.map((row) => row.customer_id).sort());

    // And with the worker running, a later push waits for its own rows.
    const more = rowsFor('b', 9);
    const second = await online.push(fs.principal, project, 'customers', more);
    await online.waitSynced(second, { timeoutMs: 30_000 });
    expect(await offlineIds()).toEqual([...rows, ...more].map((row) => row.customer_id).sort());
    const synced = await syncedIngestions();
    expect(synced.reduce((sum, ingestion) => sum + ingestion.rowCount, 0)).toBe(21);
  }, 90_000);
});

describe('offline → online', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;
  beforeAll(async () => {
    store = await tempStore();
    fs = await openFeatureStore({ store: store.dir });
    await fs.engine.projects.create(fs.principal, { name: 'sync' });
    await fs.engine.featureSets.register(fs.principal, 'sync', 'customers', customers);
    await fs.engine.featureSets.register(fs.principal, 'sync', 'manual', {
      ...customers,
      tags: { 'featurestore.online': 'off' },
    });
  }, 60_000);
  afterAll(async () => {
    await fs?.close();
    await store?.remove();
  });

  const read = (featureSet: string, ...ids: string[]) =>
    fs.engine.online!.getOnlineFeatures(fs.principal, {
      features: `sync/${featureSet}:age`,
      entities: ids.map((customer_id) => ({ customer_id })),
    });

  it('applies the newest row per key of each committed ingestion, never over newer online values', async () => {
    const { engine, principal } = fs;
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    // A newer value for c2 arrives online first.
    const pushed = [{ customer_id: 'c2', ts: iso(now), age: 99 }];
    await engine.online!.startWorker();
    await engine.online!.push(principal, 'sync', 'customers', pushed);
    await engine.online!.waitApplied(principal, 'sync', 'customers', pushed);
    const file = join(store.dir, 'customers.csv');
    await writeFile(
      file,
      `customer_id,ts,age,income\nc1,${iso(now - 3000)},30,1\nc1,${iso(now - 2000)},31,1\nc1,${iso(now - 2000)},32,1\nc2,${iso(now - 5000)},20,1\n`,
    );
    const result = await (await engine.offline.ingest(principal, 'sync', 'customers', file)).result;
    // c1 written; c2 kept: the pushed value is newer.
    expect(result).toMatchObject({
      rowCount: 4,
      online: { rows: 2, written: 1, unchanged: 0, older: 1, deleted: 0 },
    });
    // c1: the latest event time, and of the two rows at that time the later one.
    expect(await read('customers', 'c1', 'c2')).toEqual([
      { customer_id: 'c1', customers__age: 32 },
      { customer_id: 'c2', customers__age: 99 },
    ]);
  }, 60_000);

  it('is switched off per feature set, and materialize applies it on demand', async () => {
    const { engine, principal } = fs;
    const file = join(store.dir, 'manual.csv');
    await writeFile(file, `customer_id,ts,age,income\nm1,${new Date().toISOString()},7,1\n`);
    const result = await (await engine.offline.ingest(principal, 'sync', 'manual', file)).result;
    expect(result).not.toHaveProperty('online');
    expect(await read('manual', 'm1')).toEqual([{ customer_id: 'm1', manual__age: null }]);
    const job = await engine.online!.materialize(principal, 'sync', 'manual');
    expect(await job.result).toEqual({ rows: 1, written: 1, unchanged: 0, older: 0, deleted: 0 });
    expect(await read('manual', 'm1')).toEqual([{ customer_id: 'm1', manual__age: 7 }]);
  }, 60_000);
});

describe('online store unreachable', () => {
  it('fails fast with UNAVAILABLE instead of hanging', async () => {
    const store = await tempStore();
    const fs = await openFeatureStore({ store: store.dir, online: 'redis://127.0.0.1:1' });
    try {
      await fs.engine.projects.create(fs.principal, { name: 'down' });
      await fs.engine.featureSets.register(fs.principal, 'down', 'customers', customers);
      const started = Date.now();
      await expect(
        fs.engine.online!.getOnlineFeatures(fs.principal, {
          features: 'down/customers:age',
          entities: [{ customer_id: 'c1' }],
        }),
      ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await fs.close();
      await store.remove();
    }
  }, 30_000);
});
