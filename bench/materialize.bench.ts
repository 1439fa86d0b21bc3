/**
 * `materialize` into Redis beside the Redis store's own write of the same records, in one run
 * (issue 11, "materialize is ten times slower than the store it writes to": goal ≥ 0.8× the
 * store's write rate).
 *
 * A feature set of `--features` values (floats, int64, strings, bools) with the online apply
 * switched off is ingested from a generated CSV of `--rows` keys (not timed); then:
 *
 * - materialize: the `materialize` job into an empty Redis feature set version (the compute
 *   engine's latest row per key, decoded, and written newest-wins), timed end to end;
 * - store write: the very records it wrote (scanned back), written by `RedisOnlineStore.write`
 *   into another version, `--batch` records per call, `--concurrency` calls in flight, as
 *   `bench/online-redis.bench.ts` measures it.
 *
 *   node --conditions=@featurestore/source --import tsx bench/materialize.bench.ts \
 *     [--rows 200000] [--features 50] [--batch 1000] [--concurrency 4]
 *
 * Reads the Redis URL from .services/env (`scripts/services up`); the run's keys and files are
 * removed at the end.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type { OnlineRecord } from '@featurestore/core';
import { RedisOnlineStore } from '@featurestore/driver-redis';
import { openFeatureStore } from '@featurestore/server';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    features: { type: 'string', default: '50' },
    batch: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '4' },
  },
});
const ROWS = Number(args.rows);
const FEATURES = Number(args.features);
const BATCH = Number(args.batch);
const CONCURRENCY = Number(args.concurrency);

function redisUrl(): string {
  const env = readFileSync(new URL('../.services/env', import.meta.url), 'utf8');
  const url = /^FEATURESTORE_TEST_REDIS_URL=(.*)$/m.exec(env)?.[1];
  if (!url) throw new Error('FEATURESTORE_TEST_REDIS_URL missing: run scripts/services up');
  return url;
}

const kinds = ['float64', 'int64', 'string', 'bool'] as const;
const names = Array.from({ length: FEATURES }, (_, i) => `f${i}`);
const typeOf = (i: number) => kinds[i % kinds.length]!;

function cellOf(row: number, i: number): string {
  switch (typeOf(i)) {
    case 'float64':
      return String((row * 31 + i) / 7);
    case 'int64':
      return String(row * 13 + i);
    case 'string':
      return `v${(row + i) % 997}`;
    default:
      return (row + i) % 2 === 0 ? 'true' : 'false';
  }
}

const seconds = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;

const work = await mkdtemp(join(tmpdir(), 'featurestore-bench-'));
const fs = await openFeatureStore({ store: join(work, 'store'), online: redisUrl() });
const store = RedisOnlineStore.fromUrl(redisUrl());
const { engine, principal } = fs;
try {
  await engine.projects.create(principal, { name: 'bench' });
  const featureSet = await engine.featureSets.register(principal, 'bench', 'customers', {
    primaryKey: ['id'],
    eventTime: 'ts',
    features: [
      { name: 'id', type: 'string' },
      { name: 'ts', type: 'timestamp' },
      ...names.map((name, i) => ({ name, type: typeOf(i) })),
    ],
    tags: { 'featurestore.online': 'off' },
  });
  const file = join(work, 'customers.csv');
  const out = createWriteStream(file);
  out.write(`id,ts,${names.join(',')}\n`);
  const base = Date.parse('2026-01-01T00:00:00Z');
  for (let row = 0; row < ROWS; row++) {
    const values = names.map((_, i) => cellOf(row, i));
    const ts = new Date(base + (row % 86_400) * 1000).toISOString();
    if (!out.write(`c${row},${ts},${values.join(',')}\n`)) {
      await new Promise((resolve) => out.once('drain', resolve));
    }
  }
  out.end();
  await finished(out);
  console.error(`ingesting ${ROWS} rows × ${FEATURES} features…`);
  await (await engine.offline.ingest(principal, 'bench', 'customers', file)).result;

  console.error('materialize…');
  let started = process.hrtime.bigint();
  const result = await (await engine.online!.materialize(principal, 'bench', 'customers')).result;
  const materializeSeconds = seconds(started);
  if (result.written !== ROWS) throw new Error(`materialize wrote ${result.written} of ${ROWS}`);

  const ref = { featureSetId: featureSet.id, major: 1 };
  const records: OnlineRecord[] = [];
  for await (const record of store.scan(ref)) records.push(record);
  const copy = { featureSetId: `${featureSet.id}_copy`, major: 1 };
  console.error('store write of the same records…');
  let next = 0;
  started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < records.length) {
        const start = next;
        next += BATCH;
        await store.write(copy, records.slice(start, start + BATCH));
      }
    }),
  );
  const writeSeconds = seconds(started);
  await store.drop(copy);
  await store.drop(ref);

  const materializeRate = ROWS / materializeSeconds;
  const writeRate = ROWS / writeSeconds;
  console.log(
    `\n${ROWS} keys × ${FEATURES} features into Redis; ${cpus().length} cores, load ${loadavg()
      .map((n) => n.toFixed(1))
      .join(' ')}\n`,
  );
  console.log('| | seconds | rows/s |');
  console.log('|---|---|---|');
  console.log(
    `| materialize (compute + decode + write) | ${materializeSeconds.toFixed(2)} | ${Math.round(materializeRate).toLocaleString('en')} |`,
  );
  console.log(
    `| store write, ${BATCH} per call, ${CONCURRENCY} in flight | ${writeSeconds.toFixed(2)} | ${Math.round(writeRate).toLocaleString('en')} |`,
  );
  console.log(
    `\nmaterialize / store write: ${(materializeRate / writeRate).toFixed(2)}× (goal ≥ 0.8×)`,
  );
} finally {
  await store.close();
  await fs.close();
  await rm(work, { recursive: true, force: true });
}
