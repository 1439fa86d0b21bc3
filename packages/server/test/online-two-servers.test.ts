import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serviceEnv } from '@featurestore/core/testing';
import { RedisOnlineStore } from '@featurestore/driver-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { dropKafkaNames, dropMetadataSchema } from './fixtures/kafka-namespace.js';
import { tempStore } from './helpers.js';
import { OnlineTestClient } from './online-client.js';
import { type ServeProcess, startServe, stopServe } from './serve-process.js';

/**
 * Two `featurestore serve` processes on one PostgreSQL, Redis and Kafka serve the same data:
 * a row pushed through one is read through the other, over gRPC and HTTP/JSON alike.
 */
describe('two server processes on shared PostgreSQL, Redis and Kafka', () => {
  const run = `two_servers_${Date.now().toString(36)}`;
  const admin = `fst_${randomBytes(32).toString('base64url')}`;
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let config: Record<string, string | number>;
  let store: FeatureStore;
  let featureSetId: string | undefined;
  const servers: ServeProcess[] = [];

  beforeAll(async () => {
    folder = await tempStore();
    config = {
      store: folder.dir,
      metadata: serviceEnv('FEATURESTORE_TEST_POSTGRES_URL'),
      metadataSchema: run,
      online: serviceEnv('FEATURESTORE_TEST_REDIS_URL'),
      queue: `kafka://${serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS')}`,
      queueNamespace: run,
      // Not an outage test: a busy machine's slow answers must not count as one.
      onlineMetadataTimeoutMs: 10_000,
    };
    const configFile = join(folder.dir, 'config.json');
    await writeFile(configFile, JSON.stringify(config));
    // The first start creates the admin with this token; the second finds it there.
    const env = { FEATURESTORE_ADMIN_TOKEN: admin };
    // The first runs no workers: what is pushed through it is applied by the second's.
    servers.push(await startServe(['--config', configFile], ['--no-workers'], env));
    servers.push(await startServe(['--config', configFile], ['--role', 'online'], env));
    store = await openFeatureStore(config, { token: admin });
    await store.engine.projects.create(store.principal, { name: 'shop' });
    featureSetId = (
      await store.engine.featureSets.register(store.principal, 'shop', 'customers', {
        primaryKey: ['customer_id'],
        eventTime: 'ts',
        features: [
          { name: 'customer_id', type: 'string' },
          { name: 'ts', type: 'timestamp' },
          { name: 'visits', type: 'int64' },
        ],
      })
    ).id;
  }, 240_000);
  afterAll(async () => {
    for (const served of servers) served.child.kill('SIGKILL');
    await store?.close();
    if (featureSetId) {
      const online = RedisOnlineStore.fromUrl(String(config.online));
      await online.drop({ featureSetId, major: 1 }).finally(() => online.close());
    }
    await dropMetadataSchema(run);
    await dropKafkaNames(run);
    await folder?.remove();
  });

  it('reads through one what was pushed through the other (applied by the workers of the one that runs them), then both drain and stop on SIGTERM', async () => {
    const [first, second] = servers as [ServeProcess, ServeProcess];
    const pushing = new OnlineTestClient(first.address);
    const reading = new OnlineTestClient(second.address);
    try {
      await pushing.call(
        'push',
        {
          project: 'shop',
          featureSet: 'customers',
          rows: [
            {
              values: {
                customer_id: { stringValue: 'c1' },
                ts: { timestampValue: new Date('2026-03-01T00:00:00Z') },
                visits: { int64Value: '9007199254740993' },
              },
            },
          ],
          waitApplied: true,
          timeoutMs: 60_000,
        },
        admin,
      );
      const read = await reading.call(
        'getOnlineFeatures',
        {
          features: ['shop/customers:visits'],
          entities: [{ values: { customer_id: { stringValue: 'c1' } } }],
        },
        admin,
      );
      expect(read.rows[0]!.values[0]).toMatchObject({ int64Value: '9007199254740993' });

      // The other way round, over HTTP/JSON.
      const post = (served: ServeProcess, path: string, body: unknown) =>
        fetch(`http://${served.httpAddress}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
          body: JSON.stringify(body),
        }).then(async (response) => ({ status: response.status, body: await response.json() }));
      expect(
        await post(second, '/v1/online/push', {
          project: 'shop',
          featureSet: 'customers',
          rows: [{ customer_id: 'c2', ts: '2026-03-01T00:00:00Z', visits: 2 }],
          waitApplied: true,
          timeoutMs: 60_000,
        }),
      ).toMatchObject({ status: 200, body: { rows: 1 } });
      expect(
        await post(first, '/v1/online/get', {
          features: ['shop/customers:visits'],
          entities: [{ customer_id: 'c1' }, { customer_id: 'c2' }],
        }),
      ).toMatchObject({
        status: 200,
        body: {
          rows: [
            { customer_id: 'c1', customers__visits: '9007199254740993' },
            { customer_id: 'c2', customers__visits: 2 },
          ],
        },
      });
    } finally {
      pushing.close();
      reading.close();
    }
    for (const served of [first, second]) {
      expect(await stopServe(served), served.output.stderr).toBe(0);
    }
    expect(first.output.stdout).toContain(
      'SIGTERM: draining calls in flight, then closing the store',
    );
    expect(second.output.stdout).toContain(
      'SIGTERM: draining calls in flight, then stopping the online workers and closing the store',
    );
    expect(first.output.stdout).toContain('serving CoreService and OnlineService on');
    expect(second.output.stdout).toContain('serving OnlineService on');
  }, 240_000);
});
