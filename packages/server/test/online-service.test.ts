import { type FeatureSetDefinition, type PushResult, SCALAR_TYPES } from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { RedisOnlineStore } from '@featurestore/driver-redis';
import { NullValue, type Value } from '@featurestore/protocol/featurestore/v1/online';
import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdminToken } from '../src/first-admin-token.js';
import { engineErrorOf } from '../src/grpc/error-status.js';
import { FeatureStoreServer } from '../src/grpc/featurestore-server.js';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { dropKafkaNames, dropMetadataSchema } from './fixtures/kafka-namespace.js';
import { TestClient } from './grpc-client.js';
import { tempStore } from './helpers.js';
import { OnlineTestClient } from './online-client.js';

/** Every scalar type as `v_<type>`, and every list type as `l_<type>`, plus a sensitive one. */
const schema: FeatureSetDefinition = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    ...SCALAR_TYPES.map((type) => ({ name: `v_${type}`, type })),
    ...SCALAR_TYPES.map((type) => ({ name: `l_${type}`, type: `list<${type}>` as const })),
    { name: 'card', type: 'string', sensitive: true },
  ],
};

const NULL: Value = { nullValue: NullValue.NULL_VALUE };
const int64 = (value: string | number): Value => ({ int64Value: String(value) });
const list = (...values: Value[]): Value => ({ listValue: { values } });
const time = (iso: string): Value => ({ timestampValue: new Date(iso) });

/** A value of every type at its edges: int64 past 2^53 and at its bounds, bytes 0x00–0xff… */
const full: Record<string, Value> = {
  v_bool: { boolValue: false },
  v_int32: int64(-2147483647),
  v_int64: int64('9007199254740993'),
  v_float32: { doubleValue: 1.5 },
  v_float64: { doubleValue: 0.1 },
  v_string: { stringValue: 'héllo, "world"' },
  v_bytes: { bytesValue: Buffer.from([0, 255, 1, 128]) },
  v_date: { dateValue: '2026-02-28' },
  v_timestamp: time('2026-03-01T12:34:56.789Z'),
  l_bool: list({ boolValue: true }, NULL, { boolValue: false }),
  l_int32: list(int64(2147483647), NULL),
  l_int64: list(int64('-9223372036854775808'), int64('9223372036854775807'), int64(42), NULL),
  l_float32: list({ doubleValue: -0.25 }),
  l_float64: list({ doubleValue: 1e-300 }, NULL, { doubleValue: 12 }),
  l_string: list({ stringValue: '' }, NULL, { stringValue: 'b' }),
  l_bytes: list({ bytesValue: Buffer.from('bytes') }, NULL),
  l_date: list({ dateValue: '2026-01-01' }),
  l_timestamp: list(time('1970-01-01T00:00:00.001Z'), NULL),
  card: { stringValue: '4111' },
};

/** A value as comparable data (bytes as hex, times as ISO text). */
function plain(value: Value | undefined): unknown {
  if (!value) return 'missing';
  if (value.nullValue !== undefined) return null;
  if (value.bytesValue !== undefined)
    return `bytes:${Buffer.from(value.bytesValue).toString('hex')}`;
  if (value.timestampValue !== undefined) return `time:${value.timestampValue.toISOString()}`;
  if (value.listValue !== undefined) return value.listValue.values.map(plain);
  const [kind, item] = Object.entries(value).find(([, given]) => given !== undefined)!;
  return `${kind}:${String(item)}`;
}

async function failure(call: Promise<unknown>) {
  const error = (await call.then(
    () => expect.fail('the call succeeded'),
    (rejected: unknown) => rejected,
  )) as ServiceError;
  return { code: error.code, message: error.details, engine: engineErrorOf(error)?.code };
}

interface Setup {
  store: FeatureStore;
  cleanup(): Promise<void>;
}

async function embedded(): Promise<Setup> {
  const folder = await tempStore();
  const store = await openFeatureStore({ store: folder.dir });
  return {
    store,
    async cleanup() {
      await store.close();
      await folder.remove();
    },
  };
}

async function shared(): Promise<Setup> {
  const folder = await tempStore();
  const run = `online_grpc_${Date.now().toString(36)}`;
  const config = {
    store: folder.dir,
    metadata: serviceEnv('FEATURESTORE_TEST_POSTGRES_URL'),
    metadataSchema: run,
    online: serviceEnv('FEATURESTORE_TEST_REDIS_URL'),
    queue: `kafka://${serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS')}`,
    queueNamespace: run,
    // Not an outage test: a busy machine's slow answers must not count as one.
    onlineMetadataTimeoutMs: 10_000,
  };
  // The online role's workers, as `featurestore serve --role online` runs them.
  const store = await openFeatureStore(config, { workers: true });
  return {
    store,
    async cleanup() {
      const featureSet = await store.engine.featureSets
        .get(store.principal, 'shop', 'all_types')
        .catch(() => undefined);
      await store.close();
      if (featureSet) {
        const online = RedisOnlineStore.fromUrl(config.online);
        await online.drop({ featureSetId: featureSet.id, major: 1 }).finally(() => online.close());
      }
      await dropMetadataSchema(run);
      await dropKafkaNames(run);
      await folder.remove();
    },
  };
}

describe.each([
  ['the embedded default', embedded],
  ['PostgreSQL, Redis and Kafka', shared],
])('OnlineService over gRPC and HTTP/JSON on %s', (_name, open) => {
  let setup: Setup;
  let server: FeatureStoreServer;
  let client: OnlineTestClient;
  let admin: string;
  let consumer: string;

  beforeAll(async () => {
    setup = await open();
    const { engine, principal } = setup.store;
    admin = (await createFirstAdminToken(engine, undefined))!.secret;
    await engine.projects.create(principal, { name: 'shop' });
    await engine.featureSets.register(principal, 'shop', 'all_types', schema);
    await engine.access.createUser(principal, { name: 'model' });
    await engine.access.grant(principal, 'shop', 'model', 'consumer');
    consumer = (await engine.access.createToken(principal, { name: 'model', user: 'model' }))
      .secret;
    server = await FeatureStoreServer.start(setup.store, {
      listen: '127.0.0.1:0',
      httpListen: '127.0.0.1:0',
    });
    client = new OnlineTestClient(server.address);
  }, 120_000);
  afterAll(async () => {
    client?.close();
    await server?.shutdown();
    await setup?.cleanup();
  });

  it('pushes rows of every type through the wire and reads them back exactly, nulls and missing values as null', async () => {
    const rows = [
      { values: { id: int64(1), ts: time('2026-03-02T00:00:00Z'), ...full } },
      // Every feature null, given as null.
      {
        values: {
          id: int64(2),
          ts: time('2026-03-02T00:00:00Z'),
          ...Object.fromEntries(Object.keys(full).map((name) => [name, NULL])),
        },
      },
      // Every feature missing (not given at all).
      { values: { id: int64(3), ts: time('2026-03-02T00:00:00Z') } },
    ];
    const pushed = await client.call(
      'push',
      {
        project: 'shop',
        featureSet: 'all_types',
        rows,
        waitApplied: true,
        waitSynced: true,
        timeoutMs: 60_000,
      },
      admin,
    );
    expect(pushed).toMatchObject({ rows: 3, featureSet: 'shop/all_types' });
    expect(pushed.pushId).toMatch(/^[0-9a-f-]{36}$/);
    expect(pushed.positions).toHaveLength(3);
    // Committed offline before the call returned: the engine's own wait needs no time at all.
    await setup.store.engine.online!.waitSynced(
      { ...pushed, positions: pushed.positions },
      { timeoutMs: 0 },
    );

    const read = await client.call(
      'getOnlineFeatures',
      {
        features: ['shop/all_types:*'],
        entities: [1, 2, 3, 4].map((id) => ({ values: { id: int64(id) } })),
      },
      admin,
    );
    const names = Object.keys(full);
    expect(read.columns).toEqual(
      names.map((name) => ({
        name: `all_types__${name}`,
        type: schema.features.find((feature) => feature.name === name)!.type,
      })),
    );
    expect(read.rows).toHaveLength(4);
    const valuesOf = (row: number) =>
      Object.fromEntries(
        read.columns.map((column, i) => [column.name.slice(11), plain(read.rows[row]!.values[i])]),
      );
    expect(valuesOf(0)).toEqual(Object.fromEntries(names.map((name) => [name, plain(full[name])])));
    // Pushed null, pushed without the field, never pushed: null each time.
    for (const row of [1, 2, 3]) {
      expect(valuesOf(row)).toEqual(Object.fromEntries(names.map((name) => [name, null])));
    }
  });

  it('reads several feature sets for many keys in one call, with the engine refs', async () => {
    const { engine, principal } = setup.store;
    await engine.featureSets.register(principal, 'shop', 'orders', {
      primaryKey: ['id'],
      eventTime: 'ts',
      features: [
        { name: 'id', type: 'int64' },
        { name: 'ts', type: 'timestamp' },
        { name: 'total', type: 'float64' },
      ],
    });
    await client.call(
      'push',
      {
        project: 'shop',
        featureSet: 'orders',
        rows: [1, 2].map((id) => ({
          values: {
            id: int64(id),
            ts: time('2026-03-02T00:00:00Z'),
            total: { doubleValue: id * 10 },
          },
        })),
        waitApplied: true,
        timeoutMs: 60_000,
      },
      admin,
    );
    const read = await client.call(
      'getOnlineFeatures',
      {
        features: ['shop/all_types:v_int64,shop/orders:total', 'shop/all_types@1:v_date'],
        entities: [1, 2].map((id) => ({ values: { id: int64(id) } })),
      },
      consumer,
    );
    expect(read.columns).toEqual(
      [
        { name: 'all_types__v_int64', type: 'int64' },
        { name: 'all_types__v_date', type: 'date' },
        { name: 'orders__total', type: 'float64' },
      ].sort(
        (a, b) =>
          read.columns.findIndex((c) => c.name === a.name) -
          read.columns.findIndex((c) => c.name === b.name),
      ),
    );
    const byName = (row: number, name: string) =>
      plain(read.rows[row]!.values[read.columns.findIndex((column) => column.name === name)]);
    expect(byName(0, 'all_types__v_int64')).toBe('int64Value:9007199254740993');
    expect(byName(0, 'all_types__v_date')).toBe('dateValue:2026-02-28');
    expect(byName(0, 'orders__total')).toBe('doubleValue:10');
    expect(byName(1, 'orders__total')).toBe('doubleValue:20');
  });

  it('refuses a consumer a sensitive feature, and maps every error through the one mapping', async () => {
    expect(
      await failure(
        client.call(
          'getOnlineFeatures',
          { features: ['shop/all_types:card'], entities: [{ values: { id: int64(1) } }] },
          consumer,
        ),
      ),
    ).toMatchObject({ code: status.PERMISSION_DENIED, engine: 'PERMISSION_DENIED' });
    // The admin may read it.
    const read = await client.call(
      'getOnlineFeatures',
      { features: ['shop/all_types:card'], entities: [{ values: { id: int64(1) } }] },
      admin,
    );
    expect(plain(read.rows[0]!.values[0])).toBe('stringValue:4111');

    expect(
      await failure(
        client.call('getOnlineFeatures', { features: ['shop/all_types:v_bool'] }, undefined),
      ),
    ).toMatchObject({ code: status.UNAUTHENTICATED, engine: 'UNAUTHENTICATED' });
    expect(
      await failure(
        client.call(
          'getOnlineFeatures',
          { features: ['shop/nothing:x'], entities: [{ values: { id: int64(1) } }] },
          admin,
        ),
      ),
    ).toMatchObject({ code: status.NOT_FOUND, engine: 'NOT_FOUND' });
    // A consumer may not push; a bad row fails the whole push, naming row and field.
    const row = (id: number, value: Value) => ({
      values: { id: int64(id), ts: time('2026-03-03T00:00:00Z'), v_int32: value },
    });
    expect(
      await failure(
        client.call(
          'push',
          { project: 'shop', featureSet: 'all_types', rows: [row(5, int64(1))] },
          consumer,
        ),
      ),
    ).toMatchObject({ code: status.PERMISSION_DENIED, engine: 'PERMISSION_DENIED' });
    const bad = await failure(
      client.call(
        'push',
        {
          project: 'shop',
          featureSet: 'all_types',
          rows: [row(6, int64(1)), row(7, { stringValue: 'seven' })],
        },
        admin,
      ),
    );
    expect(bad).toMatchObject({ code: status.INVALID_ARGUMENT, engine: 'VALIDATION' });
    expect(bad.message).toContain('row 2, field "v_int32"');
    const after = await client.call(
      'getOnlineFeatures',
      { features: ['shop/all_types:v_int32'], entities: [{ values: { id: int64(6) } }] },
      admin,
    );
    expect(plain(after.rows[0]!.values[0])).toBeNull();
  });

  it('starts a materialize job and returns its id', async () => {
    const { jobId } = await client.call(
      'materialize',
      { project: 'shop', featureSet: 'all_types' },
      admin,
    );
    const job = await setup.store.engine.jobs.get(setup.store.principal, jobId);
    expect(job).toMatchObject({ id: jobId, type: 'materialize' });
    expect(
      await failure(
        client.call('materialize', { project: 'shop', featureSet: 'all_types' }, consumer),
      ),
    ).toMatchObject({ code: status.PERMISSION_DENIED });
  });

  it('maps get and push to HTTP/JSON with the same handlers, authentication and errors', async () => {
    const url = `http://${server.httpAddress}`;
    const post = async (path: string, body: unknown, token?: string) => {
      const response = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const pushed = await post(
      '/v1/online/push',
      {
        project: 'shop',
        featureSet: 'all_types',
        rows: [
          {
            id: 8,
            ts: '2026-03-04T00:00:00Z',
            v_int64: '-9007199254740993',
            l_int64: ['9223372036854775807', 7],
            v_bytes: Buffer.from([1, 2]).toString('base64'),
            v_float64: null,
          },
        ],
        waitApplied: true,
        waitSynced: true,
        timeoutMs: 60_000,
      },
      admin,
    );
    expect(pushed).toMatchObject({
      status: 200,
      body: { rows: 1, featureSet: 'shop/all_types' },
    });
    await setup.store.engine.online!.waitSynced(pushed.body as unknown as PushResult, {
      timeoutMs: 0,
    });
    const read = await post(
      '/v1/online/get',
      {
        features: ['shop/all_types:v_int64,l_int64,v_bytes,v_float64'].flatMap((item) =>
          item.split(',').map((name, i) => (i === 0 ? name : `shop/all_types:${name}`)),
        ),
        entities: [{ id: 8 }, { id: '1' }],
      },
      consumer,
    );
    expect(read.status).toBe(200);
    expect(read.body.columns).toEqual([
      { name: 'all_types__v_int64', type: 'int64' },
      { name: 'all_types__l_int64', type: 'list<int64>' },
      { name: 'all_types__v_bytes', type: 'bytes' },
      { name: 'all_types__v_float64', type: 'float64' },
    ]);
    expect(read.body.rows).toEqual([
      {
        id: 8,
        all_types__v_int64: '-9007199254740993',
        all_types__l_int64: ['9223372036854775807', 7],
        all_types__v_bytes: 'AQI=',
        all_types__v_float64: null,
      },
      {
        id: '1',
        all_types__v_int64: '9007199254740993',
        all_types__l_int64: ['-9223372036854775808', '9223372036854775807', 42, null],
        all_types__v_bytes: 'AP8BgA==',
        all_types__v_float64: 0.1,
      },
    ]);

    expect(await post('/v1/online/get', { features: ['shop/all_types:v_bool'] })).toMatchObject({
      status: 401,
      body: { code: 'UNAUTHENTICATED' },
    });
    expect(
      await post(
        '/v1/online/get',
        { features: ['shop/all_types:card'], entities: [{ id: 1 }] },
        consumer,
      ),
    ).toMatchObject({ status: 403, body: { code: 'PERMISSION_DENIED' } });
    expect(
      await post(
        '/v1/online/push',
        { project: 'shop', featureSet: 'all_types', rows: [{ id: 9, ts: 'soon' }] },
        admin,
      ),
    ).toMatchObject({
      status: 400,
      body: { code: 'VALIDATION', message: expect.stringContaining('row 1, field "ts"') },
    });
    expect(
      await post('/v1/online/get', { features: 'shop/all_types:v_bool', entities: {} }, admin),
    ).toMatchObject({ status: 400, body: { code: 'VALIDATION', details: { field: 'entities' } } });
  });
});

describe('featurestore serve roles (in process)', () => {
  it('serves CoreService for core, OnlineService for online, both for all', async () => {
    const { store, cleanup } = await embedded();
    try {
      const admin = (await createFirstAdminToken(store.engine, undefined))!.secret;
      for (const role of ['core', 'online', 'all'] as const) {
        const server = await FeatureStoreServer.start(store, { listen: '127.0.0.1:0', role });
        const core = new TestClient(server.address);
        const online = new OnlineTestClient(server.address);
        try {
          // Each call awaited where it is made: a rejection must not wait for a handler.
          const coreCall = () => core.core('listProjects', {}, admin);
          const onlineCall = () =>
            online.call('getOnlineFeatures', { features: ['shop/none:x'], entities: [] }, admin);
          if (role === 'online') {
            expect(await failure(coreCall())).toMatchObject({ code: status.UNIMPLEMENTED });
          } else {
            await expect(coreCall()).resolves.toMatchObject({ projects: [] });
          }
          if (role === 'core') {
            expect(await failure(onlineCall())).toMatchObject({ code: status.UNIMPLEMENTED });
          } else {
            // Served: the engine answers (no such project).
            expect(await failure(onlineCall())).toMatchObject({ code: status.NOT_FOUND });
          }
        } finally {
          core.close();
          online.close();
          await server.shutdown();
        }
      }
    } finally {
      await cleanup();
    }
  });
});
