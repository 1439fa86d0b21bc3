/**
 * Offline-engine benchmark: ingestion and the point-in-time join through Featurestore,
 * each beside a raw DuckDB baseline on the same files in the same run. Every measurement
 * runs in its own child process, so peak RSS belongs to that step alone.
 *
 *   node --conditions=@featurestore/source --import tsx bench/offline.bench.ts \
 *     [--rows 10000000] [--entities 1000000] [--keys 1000000] [--heap-mb 256] \
 *     [--repeat 1] [--memory-limit 1GB] [--threads 2] [--curve 4GB,2GB,1GB,512MB] [--only historical]
 *
 * `--repeat N` runs the raw baseline and the ingest steps N times, interleaved, and prints the
 * ratio of each round and their median: on a busy machine one run says little.
 * `--memory-limit` and `--threads` set the DuckDB driver's `memoryLimit` and `threads`
 * (`drivers.duckdb`) for the point-in-time join; `--curve` measures the join once per memory
 * limit (time and peak RSS against the limit). `--only ingest|historical` skips the other part.
 *
 * Data goes to bench/data/ (git-ignored); it is generated once per size and reused.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    entities: { type: 'string', default: '1000000' },
    keys: { type: 'string', default: '1000000' },
    'heap-mb': { type: 'string', default: '256' },
    repeat: { type: 'string', default: '1' },
    'memory-limit': { type: 'string' },
    threads: { type: 'string' },
    curve: { type: 'string' },
    only: { type: 'string' },
    child: { type: 'string' },
  },
});
const ROWS = Number(args.rows);
const ENTITIES = Number(args.entities);
const KEYS = Number(args.keys);
const HEAP_MB = Number(args['heap-mb']);
const REPEAT = Math.max(1, Number(args.repeat));

/** The `drivers.duckdb` block of the point-in-time join's store (from the command line). */
function duckDbOptions(): { memoryLimit?: string; threads?: number } {
  return {
    ...(args['memory-limit'] ? { memoryLimit: args['memory-limit'] } : {}),
    ...(args.threads ? { threads: Number(args.threads) } : {}),
  };
}
const DATA = fileURLToPath(new URL(`./data/offline-${ROWS}`, import.meta.url));
const csv = (name: string) => join(DATA, `${name}.csv`);
const STORE = join(DATA, 'store');
/** Named by its size too: the data folder is per row count, entity files differ within it. */
const ENTITY_FILE = `entities-${ENTITIES}`;
const SETS = ['fs_a', 'fs_b', 'fs_c'];
const START = '2025-01-01';

const schema = {
  primaryKey: ['id'],
  eventTime: 'ts',
  // The offline path alone: no offline → online materialization after each ingestion.
  tags: { 'featurestore.online': 'off' },
  features: [
    { name: 'id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'f_int', type: 'int32' },
    { name: 'f_big', type: 'int64' },
    { name: 'f_d1', type: 'float64' },
    { name: 'f_d2', type: 'float64' },
    { name: 'f_f', type: 'float32' },
    { name: 'f_s1', type: 'string' },
    { name: 'f_s2', type: 'string' },
    { name: 'f_b', type: 'bool' },
  ],
};

async function duck() {
  const instance = await DuckDBInstance.create(':memory:', {
    threads: '2',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  return instance.connect();
}

/** A 10-column CSV of `ROWS` rows over `KEYS` keys, made by DuckDB (fast, deterministic). */
async function generate(): Promise<void> {
  await mkdir(DATA, { recursive: true });
  const db = await duck();
  for (const [i, name] of ['ingest', ...SETS].entries()) {
    if (existsSync(csv(name))) continue;
    console.error(`generating ${csv(name)} …`);
    await db.run(`COPY (
      SELECT (hash(i * 7 + ${i}) % ${KEYS})::BIGINT AS id,
             TIMESTAMP '${START}' + to_seconds((hash(i * 13 + ${i}) % (365 * 86400))::BIGINT) AS ts,
             (i % 1000)::INTEGER AS f_int, (i * 31)::BIGINT AS f_big,
             (i % 9973) / 7.0 AS f_d1, (hash(i) % 100000) / 100.0 AS f_d2, (i % 77)::FLOAT / 3 AS f_f,
             'merchant_' || (i % 5000) AS f_s1, 'cat_' || (i % 37) AS f_s2, (i % 2 = 0) AS f_b
      FROM range(${ROWS}) t(i)) TO '${csv(name)}' (HEADER)`);
  }
  if (!existsSync(csv(ENTITY_FILE))) {
    await db.run(`COPY (
      SELECT (hash(i * 17) % ${KEYS})::BIGINT AS id,
             TIMESTAMP '${START}' + to_seconds((hash(i * 19) % (400 * 86400))::BIGINT) AS at,
             (i % 2)::INTEGER AS label
      FROM range(${ENTITIES}) t(i)) TO '${csv(ENTITY_FILE)}' (HEADER)`);
  }
}

interface Measured {
  seconds: number;
  maxRssMb: number;
  rows: number;
}

/** Runs one step in a child process and returns its timing and peak RSS. */
function measure(step: string, nodeOptions: string[] = [], extra: string[] = []): Measured {
  const result = spawnSync(
    process.execPath,
    [
      ...nodeOptions,
      '--conditions=@featurestore/source',
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--child',
      step,
      '--rows',
      String(ROWS),
      '--entities',
      String(ENTITIES),
      '--keys',
      String(KEYS),
      ...extra,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
  );
  if (result.status !== 0) throw new Error(`step ${step} failed (exit ${result.status})`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

async function child(step: string): Promise<void> {
  const started = performance.now();
  let rows = 0;
  if (step === 'raw-ingest') {
    const db = await duck();
    const out = join(DATA, 'raw-ingest.parquet');
    const reader = await db.runAndReadAll(
      `COPY (SELECT * FROM read_csv('${csv('ingest')}', header = true)) TO '${out}' (FORMAT parquet)`,
    );
    rows = Number(reader.getRows()[0]?.[0] ?? ROWS);
    await rm(out, { force: true });
  } else if (step === 'raw-historical') {
    const db = await duck();
    // The same Parquet files Featurestore reads (its ingestions), so only the query differs.
    const { openFeatureStore } = await import('@featurestore/server');
    const fs = await openFeatureStore({ store: STORE });
    const ids: string[] = [];
    for (const name of SETS)
      ids.push((await fs.engine.featureSets.get(fs.principal, 'bench', name)).id);
    await fs.close();
    for (const [s, id] of ids.entries()) {
      await db.run(
        `CREATE VIEW t${s} AS SELECT * FROM read_parquet('${join(STORE, 'data', 'featuresets', id)}/v1/*/part-*.parquet')`,
      );
    }
    const started2 = performance.now();
    const select = SETS.map(
      (_, s) => `t${s}.f_d1 AS ${SETS[s]}__f_d1, t${s}.f_s1 AS ${SETS[s]}__f_s1`,
    ).join(', ');
    const joins = SETS.map(
      (_, s) => `ASOF LEFT JOIN t${s} ON e.id = t${s}.id AND e.at >= t${s}.ts`,
    ).join(' ');
    const out = join(DATA, 'raw-historical.parquet');
    await db.run(
      `COPY (SELECT e.id, e.at, e.label, ${select} FROM (SELECT *, row_number() OVER () AS __r FROM read_csv('${csv(ENTITY_FILE)}', header = true)) e ${joins} ORDER BY e.__r) TO '${out}' (FORMAT parquet)`,
    );
    rows = ENTITIES;
    await rm(out, { force: true });
    process.stdout.write(
      `${JSON.stringify({ seconds: (performance.now() - started2) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, rows })}\n`,
    );
    return;
  } else {
    const { openFeatureStore } = await import('@featurestore/server');
    // DuckDB settings come only with the historical step (see `main`).
    const fs = await openFeatureStore({ store: STORE, drivers: { duckdb: duckDbOptions() } });
    const { engine, principal } = fs;
    try {
      if (step === 'ingest' || step === 'ingest-small-heap' || step === 'ingest-basic') {
        const name = `ingest_${Date.now()}`;
        const basic = step === 'ingest-basic' ? { 'featurestore.statistics': 'basic' } : {};
        await engine.featureSets.register(principal, 'bench', name, {
          ...schema,
          tags: { ...schema.tags, ...basic },
        });
        const t0 = performance.now();
        const result = await (await engine.offline.ingest(principal, 'bench', name, csv('ingest')))
          .result;
        rows = result.rowCount;
        await engine.featureSets.delete(principal, 'bench', name);
        await engine.offline.collectGarbage({ graceMs: 0 });
        process.stdout.write(
          `${JSON.stringify({ seconds: (performance.now() - t0) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, rows })}\n`,
        );
        return;
      }
      if (step === 'setup-historical') {
        for (const name of SETS) {
          await engine.featureSets.register(principal, 'bench', name, schema);
          await (await engine.offline.ingest(principal, 'bench', name, csv(name))).result;
        }
      } else if (step === 'historical') {
        const t0 = performance.now();
        const result = await (
          await engine.offline.historical(principal, {
            entities: csv(ENTITY_FILE),
            entityTime: 'at',
            features: SETS.map((name) => `bench/${name}:f_d1,bench/${name}:f_s1`).join(','),
            format: 'parquet',
          })
        ).result;
        rows = result.rowCount;
        await fs.storage.delete([result.outputKey]);
        process.stdout.write(
          `${JSON.stringify({ seconds: (performance.now() - t0) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, rows })}\n`,
        );
        return;
      }
    } finally {
      await fs.close();
    }
  }
  process.stdout.write(
    `${JSON.stringify({ seconds: (performance.now() - started) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, rows })}\n`,
  );
}

function line(label: string, m: Measured, baseline?: Measured): string {
  const rate = Math.round(m.rows / m.seconds).toLocaleString('en-US');
  const ratio = baseline ? `  ${(m.seconds / baseline.seconds).toFixed(2)}× raw` : '';
  return `${label.padEnd(44)} ${m.seconds.toFixed(2).padStart(7)} s  ${rate.padStart(11)} rows/s  ${Math.round(m.maxRssMb).toString().padStart(6)} MB peak RSS${ratio}`;
}

async function main(): Promise<void> {
  if (args.child) return child(args.child);
  await generate();
  const size = (await stat(csv('ingest'))).size;
  console.log(
    `offline benchmark: ${ROWS.toLocaleString('en-US')} rows × 10 columns (${(size / 1e9).toFixed(2)} GB CSV), ${ENTITIES.toLocaleString('en-US')} entity rows, ${KEYS.toLocaleString('en-US')} keys, Node ${process.version}\n`,
  );
  await rm(STORE, { recursive: true, force: true });
  const { openFeatureStore } = await import('@featurestore/server');
  const fs = await openFeatureStore({ store: STORE });
  await fs.engine.projects.create(fs.principal, { name: 'bench' });
  await fs.close();

  if (args.only !== 'historical') {
    const ratios: { full: number; basic: number }[] = [];
    for (let round = 1; round <= REPEAT; round++) {
      if (REPEAT > 1)
        console.log(`round ${round} of ${REPEAT} (load average ${loadavg()[0]!.toFixed(1)})`);
      const rawIngest = measure('raw-ingest');
      console.log(line('raw DuckDB COPY read_csv → parquet', rawIngest));
      const ingest = measure('ingest');
      console.log(line('featurestore ingest (validate, stats, commit)', ingest, rawIngest));
      const basic = measure('ingest-basic');
      console.log(line('featurestore ingest, statistics: basic', basic, rawIngest));
      ratios.push({
        full: ingest.seconds / rawIngest.seconds,
        basic: basic.seconds / rawIngest.seconds,
      });
    }
    if (REPEAT > 1) {
      const median = (values: number[]) => {
        const sorted = [...values].sort((a, b) => a - b);
        const middle = sorted.length >> 1;
        return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
      };
      const full = ratios.map((r) => r.full);
      const basic = ratios.map((r) => r.basic);
      const range = (values: number[]) =>
        `median ${median(values).toFixed(2)}× (${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}×)`;
      console.log(`ingest, full statistics: ${range(full)}; basic: ${range(basic)}`);
    }
    const smallHeap = measure('ingest-small-heap', [`--max-old-space-size=${HEAP_MB}`]);
    console.log(line(`featurestore ingest, Node heap ${HEAP_MB} MB`, smallHeap));
    console.log(`  (the CSV is ${Math.round(size / 1024 / 1024 / HEAP_MB)}× the heap limit)\n`);
  }

  if (ENTITIES > 0 && args.only !== 'ingest') {
    measure('setup-historical');
    const rawJoin = measure('raw-historical');
    console.log(line('raw DuckDB: 3 ASOF LEFT JOINs, order restored', rawJoin));
    const settings = (limit: string | undefined) => [
      ...(limit ? ['--memory-limit', limit] : []),
      ...(args.threads ? ['--threads', args.threads] : []),
    ];
    const limits = args.curve ? args.curve.split(',') : [args['memory-limit']];
    for (const limit of limits) {
      const historical = measure('historical', [], settings(limit));
      const label = `featurestore historical${limit ? `, memoryLimit ${limit}` : ''}${args.threads ? `, ${args.threads} threads` : ''}`;
      console.log(line(label, historical, rawJoin));
    }
  }
  await writeFile(join(DATA, 'last-run.txt'), new Date().toISOString());
}

await main();
