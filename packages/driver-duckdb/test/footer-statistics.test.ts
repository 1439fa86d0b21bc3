import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { FeatureSetSchema, FeatureType } from '@featurestore/core/driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlType } from '../src/column-types.js';
import { JobRun, type Row } from '../src/job-run.js';
import { literal } from '../src/sql.js';
import { computeStatistics, type WrittenPart, writtenPartOf } from '../src/statistics.js';

// Ingestion takes count, nulls, min and max from what the Parquet writer reports
// (`COPY … RETURN_STATS`) instead of scanning the parts again. They must equal what the scan
// computes, for every type and every awkward value: a table of cases, each written as one or
// more parts (SQL values per part) and given to `computeStatistics` both ways.
interface Case {
  name: string;
  type: FeatureType;
  parts: string[][];
  /** The footers answer min and max themselves (no scan of this column for them). */
  fromFooters: boolean;
}

const longA = `repeat('a', 300)`;
const CASES: Case[] = [
  { name: 'int32', type: 'int32', parts: [['1', 'NULL', '-7'], ['42']], fromFooters: true },
  {
    name: 'int64 beyond 2^53',
    type: 'int64',
    parts: [['9007199254740993', '-9223372036854775808', '9223372036854775807']],
    fromFooters: true,
  },
  {
    name: 'float64',
    type: 'float64',
    parts: [['1.5', '0.1', '5e-324', '-2.25']],
    fromFooters: true,
  },
  { name: 'float64 zeros', type: 'float64', parts: [['-0.0', '0.0'], ['-0.0']], fromFooters: true },
  {
    name: 'float64 with NaN',
    type: 'float64',
    parts: [[`'nan'`, '2.5', '-1']],
    fromFooters: false,
  },
  {
    name: 'float64 with inf',
    type: 'float64',
    parts: [[`'inf'`, '2.5', `'-inf'`]],
    fromFooters: false,
  },
  { name: 'float64 only -inf', type: 'float64', parts: [[`'-inf'`, 'NULL']], fromFooters: false },
  { name: 'float64 all NaN', type: 'float64', parts: [[`'nan'`, `'nan'`]], fromFooters: false },
  {
    name: 'float64 NaN in one part',
    type: 'float64',
    parts: [['1'], [`'nan'`, '3']],
    fromFooters: false,
  },
  {
    name: 'float32',
    type: 'float32',
    parts: [['1.1', '0.1', '3.4e38', '-1e-45']],
    fromFooters: true,
  },
  { name: 'float32 with inf', type: 'float32', parts: [['1.1', `'inf'`]], fromFooters: false },
  { name: 'bool', type: 'bool', parts: [['true', 'NULL'], ['false']], fromFooters: true },
  { name: 'bool only true', type: 'bool', parts: [['true', 'true']], fromFooters: true },
  {
    name: 'strings',
    type: 'string',
    parts: [
      [`'b'`, `''`, `'é'`, `'ß'`, `'Z'`],
      [`'it''s'`, `' a'`, 'NULL', `'日本'`],
    ],
    fromFooters: true,
  },
  {
    name: 'long strings (the footer cuts them)',
    type: 'string',
    parts: [[`${longA} || 'b'`, `${longA} || 'c'`, `repeat('é', 200)`]],
    fromFooters: false,
  },
  {
    name: 'a long string in one part only',
    type: 'string',
    parts: [[`'m'`], [`${longA}`, `'z'`]],
    fromFooters: false,
  },
  {
    name: 'timestamps',
    type: 'timestamp',
    parts: [
      [`'2024-01-31 12:00:00.123456+00'`, `'2024-01-31 12:00:00.123+00'`],
      [`'0001-01-01 00:00:00+00'`, `'9999-12-31 23:59:59.999999+00'`, 'NULL'],
    ],
    fromFooters: true,
  },
  {
    name: 'dates',
    type: 'date',
    parts: [[`'2024-02-29'`, `'0001-01-01'`, `'9999-12-31'`]],
    fromFooters: true,
  },
  { name: 'bytes', type: 'bytes', parts: [[`'\\x00ab'::BLOB`, 'NULL']], fromFooters: true },
  {
    name: 'list<int64>',
    type: 'list<int64>',
    parts: [['[1, 2]', '[]', 'NULL', '[NULL]']],
    fromFooters: false,
  },
  {
    name: 'list<string>',
    type: 'list<string>',
    parts: [[`['a']`, '[]', 'NULL']],
    fromFooters: false,
  },
  { name: 'all-null int64', type: 'int64', parts: [['NULL', 'NULL']], fromFooters: true },
  { name: 'all-null float64', type: 'float64', parts: [['NULL']], fromFooters: true },
  { name: 'all-null string', type: 'string', parts: [['NULL'], ['NULL']], fromFooters: true },
  { name: 'all-null timestamp', type: 'timestamp', parts: [['NULL']], fromFooters: true },
  { name: 'all-null list', type: 'list<float64>', parts: [['NULL']], fromFooters: false },
  {
    name: 'one part all null',
    type: 'date',
    parts: [['NULL'], [`'2024-01-01'`]],
    fromFooters: true,
  },
];

/** A JobRun that records the statements that read the parts' data. */
class CountingRun extends JobRun {
  scans: string[] = [];
  override async query(sql: string): Promise<Row[]> {
    if (sql.includes('read_parquet')) this.scans.push(sql);
    return super.query(sql);
  }
}

let root: string;
let instance: DuckDBInstance;
let connection: DuckDBConnection;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'featurestore-footer-stats-'));
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
  await connection.run(`SET TimeZone = 'UTC'`);
});

afterAll(async () => {
  connection?.closeSync();
  instance?.closeSync();
  await rm(root, { recursive: true, force: true });
});

const newRun = () =>
  new CountingRun(
    connection,
    { signal: new AbortController().signal, reportProgress: () => {} },
    'statistics test',
  );

describe('statistics from the Parquet footers equal those of the scan', () => {
  it.each(CASES)('$name', async ({ name, type, parts, fromFooters }) => {
    const schema: FeatureSetSchema = {
      primaryKey: ['k'],
      eventTime: 'k',
      features: [
        { name: 'k', type: 'int64' },
        { name: 'v', type },
      ],
    };
    const folder = await mkdtemp(join(root, 'case-'));
    const paths: string[] = [];
    const written: WrittenPart[] = [];
    for (const [p, values] of parts.entries()) {
      const path = join(folder, `part-${p}.parquet`);
      const rows = values.map((value, r) => `(${r}, CAST(${value} AS ${sqlType(type)}))`);
      const [result] = await newRun().query(
        `COPY (SELECT * FROM (VALUES ${rows.join(', ')}) AS t(k, v)) TO ${literal(path)} ` +
          '(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880, RETURN_STATS)',
      );
      paths.push(path);
      written.push(writtenPartOf(result));
    }
    for (const level of ['full', 'basic'] as const) {
      const scanned = await computeStatistics(newRun(), paths, schema, level);
      const run = newRun();
      const footers = await computeStatistics(run, paths, schema, level, written);
      // Mean and stddev are float sums over threads: equal to 12 significant digits, not bits.
      expect(roundSums(footers), `${name}, ${level}`).toEqual(roundSums(scanned));
      if (level === 'basic') {
        // With basic statistics, a column the footers answer needs no scan at all.
        expect(run.scans.length, `${name}: scans`).toBe(fromFooters ? 0 : 1);
      }
    }
  });
});

/** A result with every `mean` and `stddev` rounded to 12 significant digits. */
function roundSums<T>(result: T): T {
  return JSON.parse(JSON.stringify(result), (key, value) =>
    (key === 'mean' || key === 'stddev') && typeof value === 'number'
      ? Number(value.toPrecision(12))
      : value,
  ) as T;
}

describe('mean and stddev of finite doubles beyond 1e154', () => {
  it('are taken of the values scaled down, not refused (DuckDB: STDDEV_SAMP is out of range)', async () => {
    const schema: FeatureSetSchema = {
      primaryKey: ['k'],
      eventTime: 'k',
      features: [
        { name: 'k', type: 'int64' },
        { name: 'v', type: 'float64' },
        { name: 'small', type: 'float64' },
      ],
    };
    const folder = await mkdtemp(join(root, 'huge-'));
    const path = join(folder, 'part-0.parquet');
    const [result] = await newRun().query(
      `COPY (SELECT * FROM (VALUES (0, 1e300::DOUBLE, 1e-300::DOUBLE), (1, -1e300::DOUBLE, 3e-300::DOUBLE), ` +
        `(2, 3.0::DOUBLE, NULL)) AS t(k, v, small)) TO ${literal(path)} (FORMAT parquet, RETURN_STATS)`,
    );
    for (const written of [undefined, [writtenPartOf(result)]]) {
      const { statistics } = await computeStatistics(newRun(), [path], schema, 'full', written);
      const v = statistics.v!;
      expect(v).toMatchObject({ count: 3, min: -1e300, max: 1e300 });
      expect(v.mean).toBeCloseTo(1, 6);
      // The sample stddev of ±1e300 and 3: sqrt((2 × 1e600) / 2) = 1e300, to 12 digits.
      expect(Number(v.stddev!.toPrecision(12))).toBe(1e300);
      // The other float column keeps its own precision (its own scale).
      expect(statistics.small!.mean! / 2e-300).toBeCloseTo(1, 9);
      expect(statistics.small!.stddev! / (Math.SQRT2 * 1e-300)).toBeCloseTo(1, 9);
    }
  });
});
