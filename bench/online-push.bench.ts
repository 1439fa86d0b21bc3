/**
 * Online push benchmark on the test services: rows per second from the first push until every
 * pushed row is readable, through Kafka (the ingest topic) and the apply worker into Redis,
 * beside a raw kafkajs baseline measured in the same run: the same serialized messages,
 * produced in the same batches (one send per push) to a fresh topic (same producer settings:
 * idempotent, acks=all, one request in flight) and consumed by a fresh group until all arrived.
 * A second raw run sends the same rows as one JSON message per row, keyed by primary key (the
 * ingest format before format 1, and what a hand-written producer would send), for reference.
 *
 *   node --conditions=@featurestore/source --import tsx bench/online-push.bench.ts \
 *     [--rows 100000] [--batch 1000]
 *
 * Reads the PostgreSQL (metadata), Redis and Kafka settings from .services/env
 * (`scripts/services up`). The store gets its own metadata schema and its own Kafka topic and
 * groups (nothing else on the broker shares its partitions); only the apply worker runs (no
 * offline sync). Everything the run creates is removed at the end, also when it fails.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  OFFLINE_SYNC_GROUP,
  ONLINE_APPLY_GROUP,
  ONLINE_INGEST_TOPIC,
  type QueueMessage,
} from '@featurestore/core';
import { KafkaMessageQueue } from '@featurestore/driver-kafka';
import { RedisOnlineStore } from '@featurestore/driver-redis';
import { type FeatureStore, openFeatureStore } from '@featurestore/server';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import pg from 'pg';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '1000' },
  },
});
const ROWS = Number(args.rows);
const BATCH = Number(args.batch);
const RUN = `bench_push_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const WARMUP_ROWS = Math.min(2000, ROWS);
const PARTITIONS = 6;

function serviceEnv(): Record<string, string> {
  const text = readFileSync(new URL('../.services/env', import.meta.url), 'utf8');
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!;
  }
  for (const name of [
    'FEATURESTORE_TEST_POSTGRES_URL',
    'FEATURESTORE_TEST_REDIS_URL',
    'FEATURESTORE_TEST_KAFKA_BROKERS',
  ]) {
    if (!env[name]) throw new Error(`${name} missing from .services/env: run scripts/services up`);
  }
  return env;
}
const env = serviceEnv();
const brokers = env.FEATURESTORE_TEST_KAFKA_BROKERS!.split(',');
const kafka = new Kafka({ clientId: 'featurestore-bench', brokers, logLevel: logLevel.NOTHING });

// The names `queueNamespace: RUN` gives the store's topic and groups.
const named = (name: string) => `${RUN}.${name}`;
const RAW_TOPIC = named('raw');
const RAW_GROUP = named('raw');
const RAW_RUNS = ['same', 'per-row'] as const;

/** Every publish of the store is kept, to replay the same bytes in the same sends. */
const published: QueueMessage[][] = [];
let recording = false;
const fromUrl = KafkaMessageQueue.fromUrl;
KafkaMessageQueue.fromUrl = (url, options = {}) => {
  const queue = fromUrl.call(KafkaMessageQueue, url, options);
  const publish = queue.publish.bind(queue);
  queue.publish = (messages) => {
    if (recording) published.push([...messages]);
    return publish(messages);
  };
  return queue;
};

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'amount', type: 'float64' },
    { name: 'count_7d', type: 'int32' },
    { name: 'merchant', type: 'string' },
    { name: 'flagged', type: 'bool' },
    { name: 'score', type: 'float64' },
    { name: 'country', type: 'string' },
  ],
};
const BASE = Date.parse('2024-05-01T00:00:00Z');

function rowsFrom(first: number, count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => {
    const n = first + i;
    return {
      customer_id: `c${n}`,
      ts: new Date(BASE + n * 1000).toISOString(),
      amount: (n * 31) / 7,
      count_7d: n % 1000,
      merchant: `merchant_${n % 5000}`,
      flagged: n % 2 === 0,
      score: (n % 997) / 997,
      country: ['DE', 'FR', 'US', 'JP'][n % 4]!,
    };
  });
}

const rate = (rows: number, ms: number) => Math.round((rows / ms) * 1000);
const fmt = (value: number) => value.toLocaleString('en');

let fs: FeatureStore | undefined;
let featureSetId: string | undefined;
let storeDir: string | undefined;

async function featurestoreRun(): Promise<{ pushMs: number; readableMs: number }> {
  storeDir = await mkdtemp(join(tmpdir(), 'featurestore-bench-'));
  fs = await openFeatureStore({
    store: storeDir,
    metadata: env.FEATURESTORE_TEST_POSTGRES_URL,
    metadataSchema: RUN,
    online: env.FEATURESTORE_TEST_REDIS_URL,
    queue: `kafka://${brokers.join(',')}`,
    // This run's own topic and groups.
    queueNamespace: RUN,
  });
  const { engine, principal } = fs;
  const online = engine.online!;
  await engine.projects.create(principal, { name: 'bench' });
  featureSetId = (await engine.featureSets.register(principal, 'bench', 'customers', customers)).id;
  await online.startWorker();

  // Warm up: topic, producer, group, metadata lookups, the Redis script.
  const warmup = rowsFrom(ROWS, WARMUP_ROWS);
  for (let i = 0; i < warmup.length; i += BATCH) {
    await online.push(principal, 'bench', 'customers', warmup.slice(i, i + BATCH));
  }
  await online.waitApplied(principal, 'bench', 'customers', warmup, { timeoutMs: 120_000 });

  console.error(`featurestore: pushing ${fmt(ROWS)} rows in pushes of ${BATCH}…`);
  const rows = rowsFrom(0, ROWS);
  recording = true;
  const started = performance.now();
  for (let i = 0; i < ROWS; i += BATCH) {
    await online.push(principal, 'bench', 'customers', rows.slice(i, i + BATCH));
  }
  const pushMs = performance.now() - started;
  recording = false;
  await online.waitApplied(principal, 'bench', 'customers', rows, { timeoutMs: 600_000 });
  const readableMs = performance.now() - started;
  return { pushMs, readableMs };
}

type RawMessage = { key: string; value: Buffer };

/** The rows as one JSON message per row, as pushes were published before format 1. */
function perRowMessages(): RawMessage[][] {
  const sends: RawMessage[][] = [];
  const rows = rowsFrom(0, ROWS);
  let sequence = Date.now() * 1000;
  for (let i = 0; i < ROWS; i += BATCH) {
    const pushId = randomUUID();
    sends.push(
      rows.slice(i, i + BATCH).map(({ customer_id, ts, ...values }) => {
        const key = [customer_id as string];
        const row = {
          pushId,
          featureSetId,
          major: 1,
          key,
          eventTime: Date.parse(ts as string),
          writeSequence: sequence++,
          values,
        };
        return {
          key: JSON.stringify([featureSetId, 1, key]),
          value: Buffer.from(JSON.stringify(row)),
        };
      }),
    );
  }
  return sends;
}

async function rawRun(
  name: string,
  sends: RawMessage[][],
): Promise<{ produceMs: number; consumedMs: number }> {
  const topic = `${RAW_TOPIC}.${name}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: PARTITIONS }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  // The driver's consumer defaults.
  const consumer = kafka.consumer({
    groupId: `${RAW_GROUP}.${name}`,
    maxWaitTimeInMs: 1000,
    maxBytesPerPartition: 1024 * 1024,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let received = 0;
  let target = 0;
  let allArrived = () => {};
  const joined = new Promise<void>((resolve) => {
    consumer.on(consumer.events.GROUP_JOIN, () => resolve());
  });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      received += batch.messages.length;
      if (received >= target) allArrived();
    },
  });
  await joined;
  const produceAll = async (list: RawMessage[][]) => {
    const arrived = new Promise<void>((resolve) => {
      allArrived = resolve;
    });
    target = received + list.reduce((sum, send) => sum + send.length, 0);
    const started = performance.now();
    for (const messages of list) await producer.send({ topic, messages, acks: -1 });
    const produced = performance.now() - started;
    await arrived;
    return { produced, consumed: performance.now() - started };
  };
  // Warm up like the featurestore run: connections to every partition leader, the fetches.
  await produceAll(sends.slice(0, Math.ceil(WARMUP_ROWS / BATCH)));

  const count = sends.reduce((sum, send) => sum + send.length, 0);
  console.error(`raw kafkajs (${name}): producing ${fmt(count)} messages…`);
  const { produced: produceMs, consumed: consumedMs } = await produceAll(sends);
  await consumer.disconnect();
  await producer.disconnect();
  return { produceMs, consumedMs };
}

async function cleanUp(): Promise<void> {
  await fs?.close().catch(() => undefined);
  const steps: (() => Promise<unknown>)[] = [
    async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin
          .deleteGroups([
            named(ONLINE_APPLY_GROUP),
            named(OFFLINE_SYNC_GROUP),
            ...RAW_RUNS.map((name) => `${RAW_GROUP}.${name}`),
          ])
          .catch(() => undefined);
        const topics = [
          named(ONLINE_INGEST_TOPIC),
          ...RAW_RUNS.map((name) => `${RAW_TOPIC}.${name}`),
        ];
        const existing = await admin.listTopics();
        await admin.deleteTopics({ topics: topics.filter((t) => existing.includes(t)) });
      } finally {
        await admin.disconnect();
      }
    },
    async () => {
      const client = new pg.Client({ connectionString: env.FEATURESTORE_TEST_POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${RUN}" CASCADE`);
      } finally {
        await client.end();
      }
    },
    async () => {
      if (featureSetId === undefined) return;
      const online = RedisOnlineStore.fromUrl(env.FEATURESTORE_TEST_REDIS_URL!);
      try {
        await online.drop({ featureSetId, major: 1 });
      } finally {
        await online.close();
      }
    },
    async () => {
      if (storeDir) await rm(storeDir, { recursive: true, force: true });
    },
  ];
  for (const step of steps) {
    await step().catch((error: unknown) => console.error(`clean-up: ${(error as Error).message}`));
  }
}

try {
  const loadBefore = loadavg()[0]!;
  console.error(`kafka ${brokers.join(',')}; redis ${env.FEATURESTORE_TEST_REDIS_URL}; run ${RUN}`);
  const ours = await featurestoreRun();
  const same = await rawRun(
    RAW_RUNS[0],
    published.map((send) =>
      send.map((message) => ({
        key: message.key,
        value: Buffer.from(
          message.value.buffer,
          message.value.byteOffset,
          message.value.byteLength,
        ),
      })),
    ),
  );
  const perRow = await rawRun(RAW_RUNS[1], perRowMessages());
  const messages = published.flat();
  const bytes = messages.reduce((sum, m) => sum + m.value.byteLength + m.key.length, 0);
  console.log(
    `\nload average (1 min) ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end, on ${cpus().length} cores`,
  );
  console.log(
    `\nOnline push — ${fmt(ROWS)} rows × ${customers.features.length} features in ${fmt(messages.length)} messages (${Math.round(bytes / ROWS)} bytes per row), pushes of ${BATCH}, ${PARTITIONS} partitions\n`,
  );
  const line = (label: string, run: { produceMs: number; consumedMs: number }) =>
    `| ${label} | ${fmt(rate(ROWS, run.produceMs))} | ${fmt(rate(ROWS, run.consumedMs))} | ${(run.consumedMs / 1000).toFixed(1)} |`;
  const ratio = (label: string, run: { produceMs: number; consumedMs: number }) =>
    `| ${label} | ${(run.produceMs / ours.pushMs).toFixed(2)}× | ${(run.consumedMs / ours.readableMs).toFixed(2)}× | |`;
  console.log('| | pushed/produced (rows/s) | readable/consumed (rows/s) | total s |');
  console.log('|---|---|---|---|');
  console.log(
    line('featurestore push → Kafka → apply worker → Redis', {
      produceMs: ours.pushMs,
      consumedMs: ours.readableMs,
    }),
  );
  console.log(line('raw kafkajs produce → consume (same messages)', same));
  console.log(ratio('featurestore / raw (same messages)', same));
  console.log(line('raw kafkajs, one JSON message per row (for reference)', perRow));
  console.log(ratio('featurestore / raw (one message per row)', perRow));
} finally {
  KafkaMessageQueue.fromUrl = fromUrl;
  await cleanUp();
}
