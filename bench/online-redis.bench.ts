/**
 * Online-store benchmark on the test Redis: read latency of the engine's `getOnlineFeatures`
 * (in process, metadata in the test PostgreSQL) and of `RedisOnlineStore` alone, and the
 * store's write throughput, each beside raw baselines measured in the same run:
 *
 * - raw: `ioredis` MGET of the store's own keys + decoding with its codec (the store's overhead);
 * - Feast-style: one hash per entity, one field per feature (HMGET per key, pipelined; HSET
 *   pipelined for writes, without any newest-wins check).
 *
 * Plus the record codec against JSON, which it was chosen over.
 *
 *   node --conditions=@featurestore/source --import tsx bench/online-redis.bench.ts \
 *     [--rows 1000000] [--iterations 3000] [--features 50] [--batch 1000] [--concurrency 4]
 *
 * Reads the Redis and PostgreSQL URLs from .services/env (`scripts/services up`); the run's keys
 * and its metadata schema are removed at the end.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { OnlineRecord, OnlineValue } from '@featurestore/core';
import {
  encodeKey,
  RecordDecoder,
  RecordEncoder,
  RedisOnlineStore,
  readHeader,
  versionPrefix,
} from '@featurestore/driver-redis';
import { type FeatureStore, openFeatureStore } from '@featurestore/server';
import { Redis } from 'ioredis';
import pg from 'pg';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    iterations: { type: 'string', default: '3000' },
    features: { type: 'string', default: '50' },
    batch: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '4' },
  },
});
const ROWS = Number(args.rows);
const ITERATIONS = Number(args.iterations);
const FEATURES = Number(args.features);
const BATCH = Number(args.batch);
const CONCURRENCY = Number(args.concurrency);
const READ_KEYS = 10_000;
const RUN = `bench_${Date.now().toString(36)}`;

function serviceUrl(name: 'REDIS' | 'POSTGRES'): string {
  const env = readFileSync(new URL('../.services/env', import.meta.url), 'utf8');
  const url = new RegExp(`^FEATURESTORE_TEST_${name}_URL=(.*)$`, 'm').exec(env)?.[1];
  if (!url) throw new Error(`FEATURESTORE_TEST_${name}_URL missing: run scripts/services up`);
  return url;
}
const redisUrl = () => serviceUrl('REDIS');

/** The feature set the engine reads, registered in a metadata schema of this run's own. */
let engineFeatureSetId: string | undefined;
async function openEngine(): Promise<FeatureStore> {
  const fs = await openFeatureStore({
    store: await mkdtemp(join(tmpdir(), 'featurestore-bench-')),
    metadata: serviceUrl('POSTGRES'),
    metadataSchema: RUN,
    online: redisUrl(),
  });
  const { engine, principal } = fs;
  await engine.projects.create(principal, { name: 'bench' });
  const type = { float: 'float64', int: 'int64', string: 'string', bool: 'bool' } as const;
  const featureSet = await engine.featureSets.register(principal, 'bench', 'customers', {
    primaryKey: ['id'],
    eventTime: 'ts',
    features: [
      { name: 'id', type: 'string' },
      { name: 'ts', type: 'timestamp' },
      ...names.map((name, i) => ({ name, type: type[kinds[i]!] })),
    ],
  });
  engineFeatureSetId = featureSet.id;
  return fs;
}

// A realistic mix: floats, ints, short strings and booleans, under ~10-character names.
type Kind = 'float' | 'int' | 'string' | 'bool';
const KINDS: Kind[] = ['float', 'float', 'int', 'string', 'float', 'bool', 'int', 'float'];
const names = Array.from({ length: FEATURES }, (_, i) => `feature_${String(i).padStart(2, '0')}`);
const kinds = names.map((_, i) => KINDS[i % KINDS.length]!);

function valuesFor(row: number): Record<string, OnlineValue> {
  const values: Record<string, OnlineValue> = {};
  for (const [i, name] of names.entries()) {
    const kind = kinds[i]!;
    values[name] =
      kind === 'float'
        ? (row * 31 + i) / 7
        : kind === 'int'
          ? (row * 17 + i) % 100_000
          : kind === 'string'
            ? `merchant_${(row + i) % 5000}`
            : (row + i) % 2 === 0;
  }
  return values;
}

/** Feast-style: every value as a string field, parsed back by the schema's type. */
function feastFields(
  values: Record<string, OnlineValue>,
  eventTime: number,
): Record<string, string> {
  const fields: Record<string, string> = { _ts: String(eventTime) };
  for (const name of names) {
    const value = values[name];
    fields[name] = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  }
  return fields;
}

function parseFeast(fields: (string | null)[]): Record<string, OnlineValue> | undefined {
  if (fields[0] === null) return undefined;
  const values: Record<string, OnlineValue> = {};
  for (let i = 0; i < names.length; i++) {
    const raw = fields[i + 1]!;
    const kind = kinds[i];
    values[names[i]!] =
      kind === 'string' ? raw : kind === 'bool' ? raw === '1' : raw === null ? null : Number(raw);
  }
  return values;
}

interface Latency {
  p50: number;
  p99: number;
}

/**
 * Latencies of several cases, run in turn within each iteration (in a rotating order), so
 * that whatever else the machine is doing weighs on every case alike.
 */
async function latencies(cases: ((i: number) => Promise<unknown>)[]): Promise<Latency[]> {
  for (let i = 0; i < Math.min(500, ITERATIONS); i++) for (const run of cases) await run(i);
  const samples = cases.map(() => new Float64Array(ITERATIONS));
  for (let i = 0; i < ITERATIONS; i++) {
    for (let j = 0; j < cases.length; j++) {
      const c = (i + j) % cases.length;
      const start = process.hrtime.bigint();
      await cases[c]!(i);
      samples[c]![i] = Number(process.hrtime.bigint() - start) / 1e6;
    }
  }
  return samples.map((sorted) => {
    sorted.sort();
    return {
      p50: sorted[Math.floor(ITERATIONS * 0.5)]!,
      p99: sorted[Math.floor(ITERATIONS * 0.99)]!,
    };
  });
}

async function unlinkMatching(client: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
}

const ms = (value: number) => value.toFixed(2);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

async function main(): Promise<void> {
  const url = redisUrl();
  const raw = new Redis(url);
  const store = RedisOnlineStore.fromUrl(url);
  const run = RUN;
  const featureSet = { featureSetId: run, major: 1 };
  const prefix = versionPrefix(featureSet);
  const feastKey = (row: number) => `feast:${run}:e${row}`;
  const eventTime = Date.UTC(2025, 0, 1);
  console.error(`redis ${url}; ${FEATURES} features; ${ITERATIONS} iterations per read case`);
  const loadBefore = loadavg()[0]!;

  // --- codec: binary against JSON (the alternative), per record --------------------------
  const sample = Array.from({ length: 2000 }, (_, i) => valuesFor(i));
  const codec = (
    label: string,
    encode: (v: Record<string, OnlineValue>) => Buffer,
    decode: (b: Buffer) => unknown,
  ) => {
    const encoded = sample.map(encode);
    let encodeUs = Infinity;
    let decodeUs = Infinity;
    // The best of 20 rounds: the least disturbed by the rest of the machine.
    for (let round = 0; round < 20; round++) {
      let start = process.hrtime.bigint();
      for (const values of sample) encode(values);
      encodeUs = Math.min(encodeUs, Number(process.hrtime.bigint() - start) / 1e3 / sample.length);
      start = process.hrtime.bigint();
      for (const bytes of encoded) decode(bytes);
      decodeUs = Math.min(decodeUs, Number(process.hrtime.bigint() - start) / 1e3 / sample.length);
    }
    const bytes = encoded.reduce((sum, b) => sum + b.length, 0) / encoded.length;
    return { label, encodeUs, decodeUs, bytes };
  };
  const binary = () => {
    const encoder = new RecordEncoder();
    const decoder = new RecordDecoder();
    return codec(
      'binary record (chosen)',
      (values) => encoder.encode(eventTime, 1, values),
      (bytes) => {
        readHeader(bytes);
        return decoder.values(bytes);
      },
    );
  };
  const json = () =>
    codec(
      'header + JSON',
      (values) => {
        const body = Buffer.from(JSON.stringify(values));
        const out = Buffer.allocUnsafe(17 + body.length);
        out[0] = 1;
        out.writeDoubleLE(eventTime, 1);
        out.writeDoubleLE(1, 9);
        body.copy(out, 17);
        return out;
      },
      (bytes) => {
        bytes.readDoubleLE(1);
        return JSON.parse(bytes.toString('utf8', 17));
      },
    );
  binary();
  json();
  const codecs = [binary(), json()];

  // --- reads -------------------------------------------------------------------------------
  console.error(`loading ${READ_KEYS} keys in both layouts…`);
  const records: OnlineRecord[] = Array.from({ length: READ_KEYS }, (_, row) => ({
    key: [`e${row}`],
    eventTime,
    writeSequence: 1,
    values: valuesFor(row),
  }));
  const fs = await openEngine();
  const engineSet = { featureSetId: engineFeatureSetId!, major: 1 };
  for (let i = 0; i < records.length; i += BATCH) {
    await store.write(featureSet, records.slice(i, i + BATCH));
    await store.write(engineSet, records.slice(i, i + BATCH));
    const pipeline = raw.pipeline();
    for (let row = i; row < Math.min(i + BATCH, READ_KEYS); row++) {
      pipeline.hset(feastKey(row), feastFields(records[row]!.values, eventTime));
    }
    await pipeline.exec();
  }

  const pickKeys = (i: number, count: number) =>
    Array.from({ length: count }, (_, j) => ((i * 7919 + j * 104_729) % READ_KEYS) | 0);
  const readCases = [];
  for (const count of [1, 100]) {
    const keysOf = (i: number) => pickKeys(i, count);
    const [engine, ours, mget, feast] = await latencies([
      // The whole in-process call: authorization and the feature set lookup (cached for a
      // second, as a serving process does), the read, the result rows.
      (i) =>
        fs.engine.online!.getOnlineFeatures(fs.principal, {
          entities: keysOf(i).map((row) => ({ id: `e${row}` })),
          features: 'bench/customers:*',
        }),
      (i) => store.read({ featureSet, keys: keysOf(i).map((row) => [`e${row}`]) }),
      async (i) => {
        const decoder = new RecordDecoder();
        const found = await raw.mgetBuffer(keysOf(i).map((row) => encodeKey(prefix, [`e${row}`])));
        return found.map((bytes) => {
          if (!bytes) return undefined;
          readHeader(bytes);
          return decoder.values(bytes);
        });
      },
      async (i) => {
        const rows = keysOf(i);
        const fields = ['_ts', ...names];
        if (rows.length === 1) return parseFeast(await raw.hmget(feastKey(rows[0]!), ...fields));
        const pipeline = raw.pipeline();
        for (const row of rows) pipeline.hmget(feastKey(row), ...fields);
        const replies = (await pipeline.exec()) ?? [];
        return replies.map(([, reply]) => parseFeast(reply as (string | null)[]));
      },
    ]);
    readCases.push({ count, engine: engine!, ours: ours!, mget: mget!, feast: feast! });
  }
  const storeDir = fs.config.store;
  await fs.close();
  await rm(storeDir, { recursive: true, force: true });

  // --- writes ------------------------------------------------------------------------------
  const pool = Array.from({ length: 10_000 }, (_, i) => valuesFor(i));
  const batchOf = (start: number) =>
    // Starts past ROWS are warm-up batches, on keys of their own.
    Array.from({ length: start >= ROWS ? BATCH : Math.min(BATCH, ROWS - start) }, (_, j) => ({
      key: [`w${start + j}`],
      eventTime: eventTime + ((start + j) % 1000),
      writeSequence: 1,
      values: pool[(start + j) % pool.length]!,
    }));
  const throughput = async (label: string, write: (start: number) => Promise<unknown>) => {
    console.error(`${label}: writing ${ROWS} rows…`);
    // Warm up (the JIT, the connection) on other keys, so the first method measured is not
    // the only one paying for it.
    for (let k = 0; k < 20; k++) await write(ROWS + k * BATCH);
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < ROWS) {
          const start = next;
          next += BATCH;
          await write(start);
        }
      }),
    );
    return ROWS / (Number(process.hrtime.bigint() - started) / 1e9);
  };
  const writeSet = { featureSetId: `${run}_w`, major: 1 };
  const usedMemory = async () => {
    // UNLINK frees in the background: wait until it is done before measuring.
    for (;;) {
      const info = await raw.info('memory');
      if (/lazyfree_pending_objects:0\b/.test(info)) {
        return Number(/used_memory:(\d+)/.exec(info)![1]);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  let applied = 0;
  const beforeOurs = await usedMemory();
  const oursRate = await throughput('featurestore write', async (start) => {
    const count = await store.write(writeSet, batchOf(start));
    if (start < ROWS) applied += count;
  });
  if (applied !== ROWS) throw new Error(`applied ${applied} of ${ROWS} rows`);
  // The warm-up batches are stored too: count the measured rows' share.
  const share = ROWS / (ROWS + 20 * BATCH);
  const oursMemory = ((await usedMemory()) - beforeOurs) * share;
  await store.drop(writeSet);

  // Our layout without the newest-wins script: what the check costs.
  const rawPrefix = versionPrefix({ featureSetId: `${run}_raw`, major: 1 });
  const msetRate = await throughput('raw MSET of the same records', async (start) => {
    const encoder = new RecordEncoder(BATCH * 512);
    const args: (string | Buffer)[] = [];
    for (const record of batchOf(start)) {
      args.push(
        encodeKey(rawPrefix, record.key),
        encoder.encode(record.eventTime, 1, record.values),
      );
    }
    await raw.mset(...args);
  });
  await unlinkMatching(raw, `${rawPrefix}*`);

  const beforeFeast = await usedMemory();
  const feastRate = await throughput('Feast-style HSET', async (start) => {
    const pipeline = raw.pipeline();
    for (const record of batchOf(start)) {
      pipeline.hset(
        `feast:${run}:w:${record.key[0]}`,
        feastFields(record.values, record.eventTime),
      );
    }
    await pipeline.exec();
  });
  const feastMemory = ((await usedMemory()) - beforeFeast) * share;
  await unlinkMatching(raw, `feast:${run}:w:*`);

  await store.close();
  await raw.quit();

  // --- report ------------------------------------------------------------------------------
  console.log(
    `\nload average (1 min) ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end, on ${cpus().length} cores`,
  );
  console.log(
    `\nOnline store on Redis — ${FEATURES} features, ${ITERATIONS} reads per case, the four cases in turn\n`,
  );
  console.log(
    '| read | engine get p50 / p99 ms | store read p50 / p99 | raw MGET+decode p50 / p99 | Feast-style HMGET p50 / p99 | p99 engine, store vs raw | p99 engine vs Feast |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const { count, engine, ours, mget, feast } of readCases) {
    console.log(
      `| ${count} key${count > 1 ? 's' : ''} × ${FEATURES} | ${ms(engine.p50)} / ${ms(engine.p99)} | ${ms(ours.p50)} / ${ms(ours.p99)} | ${ms(mget.p50)} / ${ms(mget.p99)} | ${ms(feast.p50)} / ${ms(feast.p99)} | ${ratio(engine.p99, mget.p99)}, ${ratio(ours.p99, mget.p99)} | ${ratio(engine.p99, feast.p99)} |`,
    );
  }
  console.log(
    `\n| write ${ROWS} rows × ${FEATURES}, batches of ${BATCH}, ${CONCURRENCY} in flight | rows/s | memory (MB, approx.) |`,
  );
  console.log('|---|---|---|');
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  console.log(
    `| featurestore write (newest-wins script) | ${Math.round(oursRate).toLocaleString('en')} | ${mb(oursMemory)} |`,
  );
  console.log(
    `| raw MSET, same layout, no check | ${Math.round(msetRate).toLocaleString('en')} | (same) |`,
  );
  console.log(
    `| Feast-style pipelined HSET, no check | ${Math.round(feastRate).toLocaleString('en')} | ${mb(feastMemory)} |`,
  );
  console.log(
    `| featurestore vs raw MSET / vs Feast | ${ratio(oursRate, msetRate)} / ${ratio(oursRate, feastRate)} | ${ratio(oursMemory, feastMemory)} of Feast's |`,
  );
  console.log('\n| codec, per record | encode µs | decode µs | bytes |');
  console.log('|---|---|---|---|');
  for (const c of codecs) {
    console.log(
      `| ${c.label} | ${c.encodeUs.toFixed(2)} | ${c.decodeUs.toFixed(2)} | ${c.bytes.toFixed(0)} |`,
    );
  }
}

/** Every key the run wrote starts with one of these, whether it finished or failed. */
async function cleanUp(): Promise<void> {
  const client = new Redis(redisUrl());
  const patterns = [`fs:{${RUN}*`, `feast:${RUN}:*`];
  if (engineFeatureSetId) patterns.push(`fs:{${engineFeatureSetId}*`);
  for (const pattern of patterns) await unlinkMatching(client, pattern);
  await client.quit();
  const metadata = new pg.Client({ connectionString: serviceUrl('POSTGRES') });
  await metadata.connect();
  await metadata.query(`DROP SCHEMA IF EXISTS "${RUN}" CASCADE`);
  await metadata.end();
}

try {
  await main();
} finally {
  await cleanUp();
}
