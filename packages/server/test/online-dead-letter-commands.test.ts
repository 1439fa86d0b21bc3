import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DEAD_LETTER_HEADERS,
  deadLetterTopic,
  OFFLINE_SYNC_GROUP,
  OFFLINE_SYNC_SOURCE,
  ONLINE_APPLY_GROUP,
  ONLINE_INGEST_TOPIC,
} from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStoreConfigInput, openFeatureStore } from '../src/index.js';
import { dropKafkaNames, tuneKafkaConsumers } from './fixtures/kafka-namespace.js';
import { cli, tempStore, until } from './helpers.js';

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
  ],
};

const configs: [string, boolean][] = [
  ['embedded (local log queue)', false],
  ['Kafka queue', true],
];

interface Listed {
  items: {
    partition: number;
    offset: string;
    state: string;
    group: string;
    errorCode: string;
    topic: string;
    originalOffset: string;
  }[];
}

describe.each(configs)('featurestore online dead-letters: %s', (_name, kafka) => {
  const namespace = `dlcli_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const config: FeatureStoreConfigInput = kafka
    ? {
        queue: `kafka://${serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS')}`,
        queueNamespace: namespace,
      }
    : {};
  let store: Awaited<ReturnType<typeof tempStore>>;
  let configFile: string;
  let restoreKafka = () => {};
  const run = async (...argv: string[]) => {
    const result = await cli(store.dir, '--json', '--config', configFile, ...argv);
    if (result.code !== 0) throw new Error(`featurestore ${argv.join(' ')}: ${result.stderr}`);
    return JSON.parse(result.stdout) as Record<string, unknown>;
  };
  const ts = Date.now() - 60_000;

  beforeAll(async () => {
    restoreKafka = tuneKafkaConsumers();
    store = await tempStore();
    configFile = join(store.dir, 'config.json');
    await writeFile(configFile, JSON.stringify(config));
    const fs = await openFeatureStore({ ...config, store: store.dir });
    try {
      await fs.engine.projects.create(fs.principal, { name: 'letters' });
      const featureSet = await fs.engine.featureSets.register(
        fs.principal,
        'letters',
        'customers',
        customers,
      );
      // Rows an older release dead-lettered for a missing bucket (an error of the environment,
      // which is retried now): a message in the first, JSON format, refused by both groups,
      // and a second message refused by the sync. All with one key: one partition, in order.
      const message = (id: string, age: number) =>
        new TextEncoder().encode(
          JSON.stringify({
            pushId: `push-${id}`,
            featureSetId: featureSet.id,
            major: featureSet.version.major,
            key: [id],
            eventTime: ts,
            writeSequence: ts * 1000,
            values: { age },
          }),
        );
      const letter = (id: string, age: number, group: string, offset: string) => ({
        topic: deadLetterTopic(ONLINE_INGEST_TOPIC),
        key: 'one-key',
        value: message(id, age),
        headers: {
          'x-origin': 'pushed',
          [DEAD_LETTER_HEADERS.group]: group,
          [DEAD_LETTER_HEADERS.errorCode]: 'NOT_FOUND',
          [DEAD_LETTER_HEADERS.errorMessage]: 'the bucket landing does not exist',
          [DEAD_LETTER_HEADERS.failedAt]: new Date(ts).toISOString(),
          [DEAD_LETTER_HEADERS.topic]: ONLINE_INGEST_TOPIC,
          [DEAD_LETTER_HEADERS.partition]: '0',
          [DEAD_LETTER_HEADERS.offset]: offset,
        },
      });
      await fs.engine.drivers.online!.queue.publish([
        letter('c1', 7, ONLINE_APPLY_GROUP, '5'),
        letter('c1', 7, OFFLINE_SYNC_GROUP, '5'),
        letter('c2', 9, OFFLINE_SYNC_GROUP, '6'),
      ]);
    } finally {
      await fs.close();
    }
  }, 60_000);
  afterAll(async () => {
    await store?.remove();
    restoreKafka();
    if (kafka) await dropKafkaNames(namespace);
  }, 60_000);

  it('lists, replays once, drops, and replays nothing twice; the replayed rows reach online and offline exactly once', async () => {
    const listed = (await run('online', 'dead-letters', 'list')) as unknown as Listed;
    expect(listed.items.map((item) => [item.group, item.originalOffset, item.state])).toEqual([
      [ONLINE_APPLY_GROUP, '5', 'pending'],
      [OFFLINE_SYNC_GROUP, '5', 'pending'],
      [OFFLINE_SYNC_GROUP, '6', 'pending'],
    ]);
    expect(listed.items[0]).toMatchObject({ errorCode: 'NOT_FOUND', topic: ONLINE_INGEST_TOPIC });

    // The two letters of one message: replayed once.
    expect(await run('online', 'dead-letters', 'replay', '--limit', '2')).toEqual({
      letters: 2,
      replayed: 1,
    });
    expect(await run('online', 'dead-letters', 'drop')).toEqual({ letters: 1 });
    expect(await run('online', 'dead-letters', 'replay')).toEqual({ letters: 0, replayed: 0 });
    expect(await run('online', 'dead-letters', 'list')).toEqual({ items: [] });
    const all = (await run('online', 'dead-letters', 'list', '--all')) as unknown as Listed;
    expect(all.items.map((item) => item.state)).toEqual(['handled', 'handled', 'handled']);

    const fs = await openFeatureStore({ ...config, store: store.dir }, { workers: true });
    try {
      const { engine, principal } = fs;
      await engine.online!.waitApplied(
        principal,
        'letters',
        'customers',
        [{ customer_id: 'c1', ts: new Date(ts).toISOString(), age: 7 }],
        { timeoutMs: 30_000 },
      );
      const synced = async () =>
        (await engine.offline.ingestions(principal, 'letters', 'customers'))
          .filter((ingestion) => ingestion.source === OFFLINE_SYNC_SOURCE)
          .reduce((sum, ingestion) => sum + ingestion.rowCount, 0);
      await until(async () => (await synced()) > 0, 'the replayed row offline', 30_000);
      const rows = await engine.online!.getOnlineFeatures(principal, {
        features: 'letters/customers:age',
        entities: [{ customer_id: 'c1' }, { customer_id: 'c2' }],
      });
      expect(rows.map((row) => row.customers__age)).toEqual([7, null]);
      expect(await synced()).toBe(1);
      const replayed = await engine.drivers.online!.queue.read(ONLINE_INGEST_TOPIC);
      expect(replayed).toHaveLength(1);
      expect(replayed[0]!.headers).toMatchObject({ 'x-origin': 'pushed' });
      expect(
        Object.keys(replayed[0]!.headers ?? {}).filter((name) =>
          name.startsWith('featurestore.dead-letter.'),
        ),
      ).toEqual([]);
    } finally {
      await fs.close();
    }
  }, 120_000);

  it('is for admins only', async () => {
    const user = await cli(store.dir, '--config', configFile, 'user', 'create', 'bob');
    expect(user.code).toBe(0);
    const token = await cli(
      store.dir,
      '--json',
      '--config',
      configFile,
      'token',
      'create',
      '--name',
      'bob',
      '--user',
      'bob',
    );
    const { secret } = JSON.parse(token.stdout) as { secret: string };
    const denied = await cli(
      store.dir,
      '--config',
      configFile,
      '--token',
      secret,
      'online',
      'dead-letters',
      'list',
    );
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/for admins.*\[PERMISSION_DENIED\]/);
  }, 60_000);
});
