import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  DEAD_LETTER_HEADERS,
  type DeliveredMessage,
  LocalLogQueue,
  type MessagePosition,
  type MessageQueue,
  NamespacedQueue,
  OFFLINE_SYNC_GROUP,
  ONLINE_APPLY_GROUP,
  ONLINE_INGEST_TOPIC,
} from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { KafkaMessageQueue } from '@featurestore/driver-kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, type FeatureStoreConfigInput, openFeatureStore } from '../src/index.js';
import { dropKafkaNames, tuneKafkaConsumers } from './fixtures/kafka-namespace.js';
import { tempStore } from './helpers.js';

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
  ],
};
const DEAD_TOPIC = `${ONLINE_INGEST_TOPIC}.dead`;
/** Bytes of no format the workers know: `decodePushedRows` refuses them. */
const GARBAGE = Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0x00, 0x42);

const configs: [string, boolean][] = [
  ['embedded (local log queue)', false],
  ['Kafka queue', true],
];

describe.each(configs)('a message that can never be handled: %s', (_name, kafka) => {
  const namespace = `dead_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const project = 'letters';
  const config = (): FeatureStoreConfigInput =>
    kafka
      ? {
          queue: `kafka://${serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS')}`,
          queueNamespace: namespace,
        }
      : {};
  const inspectGroups: string[] = [];
  let store: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;
  let restoreKafka = () => {};
  const open = async () => {
    fs = await openFeatureStore({ ...config(), store: store.dir });
  };
  beforeAll(async () => {
    restoreKafka = tuneKafkaConsumers();
    store = await tempStore();
    await open();
    await fs.engine.projects.create(fs.principal, { name: project });
    await fs.engine.featureSets.register(fs.principal, project, 'customers', customers);
    await fs.engine.featureSets.register(fs.principal, project, 'doomed', customers);
  }, 60_000);
  afterAll(async () => {
    await fs?.close();
    await store?.remove();
    restoreKafka();
    if (kafka) await dropKafkaNames(namespace, inspectGroups);
  }, 60_000);

  /**
   * The store's queue as a second client sees it. The embedded log has one owner at a time,
   * so the store is closed meanwhile and opened again afterwards (its workers stopped).
   */
  async function withQueue<T>(use: (queue: MessageQueue) => Promise<T>): Promise<T> {
    if (!kafka) await fs.close();
    const queue: MessageQueue = kafka
      ? new NamespacedQueue(
          KafkaMessageQueue.fromUrl(`kafka://${serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS')}`),
          namespace,
        )
      : new LocalLogQueue({ directory: join(store.dir, 'queue') });
    try {
      return await use(queue);
    } finally {
      await queue.close();
      if (!kafka) await open();
    }
  }

  /** Reads `topic` from the beginning in a group of its own until `count` messages came. */
  async function readTopic(
    queue: MessageQueue,
    topic: string,
    count: number,
  ): Promise<DeliveredMessage[]> {
    const group = `inspect_${randomBytes(4).toString('hex')}`;
    inspectGroups.push(`${namespace}.${group}`);
    const got: DeliveredMessage[] = [];
    const subscription = await queue.subscribe({
      topic,
      group,
      fromBeginning: true,
      handler: async (messages) => {
        got.push(...messages);
      },
    });
    try {
      const deadline = Date.now() + 20_000;
      while (got.length < count && Date.now() < deadline) await sleep(50);
      // Anything more (a dead letter published twice) would come right behind.
      await sleep(1000);
      return got;
    } finally {
      await subscription.close();
    }
  }

  const row = (age: number, ts = new Date()) => ({
    customer_id: 'c1',
    ts: ts.toISOString(),
    age,
  });
  const onlineAge = async () =>
    (
      await fs.engine.online!.getOnlineFeatures(fs.principal, {
        features: `${project}/customers:age`,
        entities: [{ customer_id: 'c1' }],
      })
    )[0]!.customers__age;
  const offlineAges = async (featureSet = 'customers') => {
    const running = await fs.engine.offline.retrieve(fs.principal, project, featureSet, {
      format: 'csv',
    });
    const { outputKey } = await running.result;
    const chunks: Buffer[] = [];
    for await (const chunk of await fs.storage.get(outputKey)) chunks.push(chunk as Buffer);
    const [header, ...lines] = Buffer.concat(chunks).toString('utf8').trim().split('\n');
    const column = header!.split(',').indexOf('age');
    return lines.map((line) => Number(line.split(',')[column])).sort((a, b) => a - b);
  };

  let garbageAt: MessagePosition;

  it('dead-letters it once per consumer group, applies and syncs the pushes around it, and does not dead-letter it again after a restart', async () => {
    const start = Date.now() - 60_000;
    const first = await fs.engine.online!.push(fs.principal, project, 'customers', [
      row(1, new Date(start)),
    ]);
    // The garbage goes behind the first push in its partition (same key), the second push
    // behind the garbage: without dead letters the second push would never be handled.
    garbageAt = await withQueue(async (queue) => {
      const [pushed] = (await readTopic(queue, ONLINE_INGEST_TOPIC, 1)).filter(
        (message) => message.offset === first.positions[0]!.offset,
      );
      const [position] = await queue.publish([
        { topic: ONLINE_INGEST_TOPIC, key: pushed!.key, value: GARBAGE },
      ]);
      return position!;
    });
    expect(garbageAt.partition).toBe(first.positions[0]!.partition);
    const secondRows = [row(2, new Date(start + 1000))];
    const second = await fs.engine.online!.push(fs.principal, project, 'customers', secondRows);
    expect(second.positions[0]!.partition).toBe(garbageAt.partition);
    expect(BigInt(second.positions[0]!.offset)).toBeGreaterThan(BigInt(garbageAt.offset));

    const online = fs.engine.online!;
    await online.startWorker({ offlineSync: true });
    await online.waitApplied(fs.principal, project, 'customers', secondRows, {
      timeoutMs: 30_000,
    });
    await online.waitSynced(second, { timeoutMs: 30_000 });
    expect(await onlineAge()).toBe(2);
    expect(await offlineAges()).toEqual([1, 2]);
    expect(online.deadLettered).toBe(1);
    expect(online.offlineSync.deadLettered).toBe(1);

    // A restart: both groups committed past the garbage along with its dead letter.
    await fs.close();
    await open();
    const restarted = fs.engine.online!;
    await restarted.startWorker({ offlineSync: true });
    const thirdRows = [row(3, new Date(start + 2000))];
    const third = await restarted.push(fs.principal, project, 'customers', thirdRows);
    await restarted.waitSynced(third, { timeoutMs: 30_000 });
    await restarted.waitApplied(fs.principal, project, 'customers', thirdRows);
    expect(await offlineAges()).toEqual([1, 2, 3]);
    expect(restarted.deadLettered).toBe(0);
    expect(restarted.offlineSync.deadLettered).toBe(0);

    const dead = await withQueue((queue) => readTopic(queue, DEAD_TOPIC, 2));
    expect(dead).toHaveLength(2);
    expect(dead.map((message) => message.headers?.[DEAD_LETTER_HEADERS.group]).sort()).toEqual(
      [OFFLINE_SYNC_GROUP, ONLINE_APPLY_GROUP].sort(),
    );
    for (const message of dead) {
      expect(Buffer.from(message.value).equals(Buffer.from(GARBAGE))).toBe(true);
      expect(message.headers).toMatchObject({
        [DEAD_LETTER_HEADERS.errorCode]: 'VALIDATION',
        [DEAD_LETTER_HEADERS.errorMessage]: expect.stringMatching(
          /starts with byte 222, a format this version does not read/,
        ),
        [DEAD_LETTER_HEADERS.failedAt]: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        [DEAD_LETTER_HEADERS.topic]: ONLINE_INGEST_TOPIC,
        [DEAD_LETTER_HEADERS.partition]: String(garbageAt.partition),
        [DEAD_LETTER_HEADERS.offset]: garbageAt.offset,
      });
    }
  }, 180_000);

  it('skips rows of a feature set deleted before their sync, and goes on syncing the others', async () => {
    const online = fs.engine.online!;
    await online.stopWorker();
    const start = Date.now();
    const doomed = await online.push(fs.principal, project, 'doomed', [row(40, new Date(start))]);
    const kept = await online.push(fs.principal, project, 'customers', [row(4, new Date(start))]);
    await fs.engine.featureSets.delete(fs.principal, project, 'doomed');

    await online.startWorker({ offlineSync: true });
    // Both resolve: the sync committed its offsets past the deleted feature set's rows.
    await online.waitSynced(kept, { timeoutMs: 30_000 });
    await online.waitSynced(doomed, { timeoutMs: 30_000 });
    expect(await offlineAges()).toEqual([1, 2, 3, 4]);
    expect(online.offlineSync.deadLettered).toBe(0);
    expect(online.deadLettered).toBe(0);
  }, 120_000);
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
