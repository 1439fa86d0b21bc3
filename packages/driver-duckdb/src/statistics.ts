import {
  elementType,
  type FeatureSetSchema,
  type FeatureStatistics,
  type FeatureType,
  type StatisticsLevel,
} from '@featurestore/core/driver';
import { isList, isoTimeSql, sqlType } from './column-types.js';
import type { JobRun, Row } from './job-run.js';
import { fileListLiteral } from './local-paths.js';
import { ident, literal } from './sql.js';

const NUMERIC = new Set(['int32', 'int64', 'float32', 'float64']);
const FLOATS = new Set(['float32', 'float64']);

/**
 * DuckDB's Parquet writer keeps at most this many bytes of a string's min and max (it cuts
 * longer ones): a footer string this long may not be the whole value.
 */
const FOOTER_STRING_BYTES = 256;

const toNumber = (value: unknown) =>
  typeof value === 'bigint' ? Number(value) : (value as number | null);

/** -0 and 0 are one value in JSON (and to people): statistics say 0 either way. */
const positiveZero = (value: unknown) => (value === 0 ? 0 : value);

/**
 * What `COPY … TO … (FORMAT parquet, RETURN_STATS)` reports of one part it wrote: its row
 * count and, per column (keyed by its quoted name, `"amount"`; list elements as
 * `"tags"."element"`), the Parquet writer's statistics as text (`null_count`, `min`, `max`,
 * `has_nan`). They cost nothing: the writer computes them for the footer anyway.
 */
export interface WrittenPart {
  rows: number;
  columns: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

type MapEntries = readonly { key: unknown; value: unknown }[];

/** The `WrittenPart` of a `COPY … RETURN_STATS` result row. */
export function writtenPartOf(row: Row | undefined): WrittenPart {
  const columns = new Map<string, Map<string, string>>();
  for (const { key, value } of (row?.column_statistics as MapEntries | null) ?? []) {
    const stats = new Map<string, string>();
    for (const entry of (value as MapEntries | null) ?? []) {
      if (entry.value !== null && entry.value !== undefined) {
        stats.set(String(entry.key), String(entry.value));
      }
    }
    columns.set(String(key), stats);
  }
  return { rows: toNumber(row?.count ?? 0) ?? 0, columns };
}

/** A feature's count, nulls and footer min/max texts when the footers give them exactly. */
interface FooterFacts {
  count: number;
  bounds: { min: string; max: string }[];
}

/**
 * Count, nulls, min and max of one feature from the parts' footers, or undefined when they do
 * not give exactly what the scan computes: lists (a footer counts elements, and cannot tell an
 * empty list from NULL), floats with NaN or ±infinity (the statistics describe finite values;
 * the footer's min and max include infinities), strings whose bound may have been cut, and any
 * part whose values lack a bound.
 */
function footerFacts(
  type: FeatureType,
  name: string,
  parts: readonly WrittenPart[],
): FooterFacts | undefined {
  if (isList(type)) return undefined;
  const scalar = elementType(type);
  const key = ident(name);
  let count = 0;
  const bounds: { min: string; max: string }[] = [];
  for (const part of parts) {
    const stats = part.columns.get(key);
    const nullCount = stats?.get('null_count');
    if (!stats || nullCount === undefined) return undefined;
    const values = part.rows - Number(nullCount);
    count += values;
    if (values === 0 || scalar === 'bytes') continue;
    const min = stats.get('min');
    const max = stats.get('max');
    if (min === undefined || max === undefined) return undefined;
    if (FLOATS.has(scalar)) {
      if (stats.get('has_nan') !== 'false') return undefined;
      if (!Number.isFinite(Number(min)) || !Number.isFinite(Number(max))) return undefined;
    }
    if (scalar === 'string') {
      const longest = Math.max(Buffer.byteLength(min), Buffer.byteLength(max));
      if (longest >= FOOTER_STRING_BYTES) return undefined;
    }
    bounds.push({ min, max });
  }
  return { count, bounds };
}

/**
 * SQL of a feature's min and max as the statistics show them (numbers as DOUBLE, times ISO
 * 8601, dates `YYYY-MM-DD`), from a column of values `value`; undefined for lists and bytes.
 */
function boundsSql(type: FeatureType, value: string): [string, string] | undefined {
  const scalar = elementType(type);
  if (isList(type) || scalar === 'bytes') return undefined;
  if (NUMERIC.has(scalar))
    return [`CAST(min(${value}) AS DOUBLE)`, `CAST(max(${value}) AS DOUBLE)`];
  if (scalar === 'timestamp') return [isoTimeSql(`min(${value})`), isoTimeSql(`max(${value})`)];
  if (scalar === 'date') {
    return [`strftime(min(${value}), '%Y-%m-%d')`, `strftime(max(${value}), '%Y-%m-%d')`];
  }
  return [`min(${value})`, `max(${value})`];
}

/**
 * Row count and per-feature statistics of Parquet parts. `count` is the number of non-null
 * values (as in pandas and Spark `describe`); min, max, mean and stddev of a float feature are
 * those of its finite values.
 *
 * Given the parts' `RETURN_STATS` (`written`, one per path), count, nulls, min and max come
 * from them wherever they are exact (`footerFacts`), typed and formatted by DuckDB from the
 * footer texts so that they equal what the scan gives; the scan of the data then computes only
 * the rest (mean, stddev and distinct values with `full`, and the features the footers cannot
 * answer), and is skipped when nothing is left.
 */
export async function computeStatistics(
  run: JobRun,
  paths: readonly string[],
  schema: FeatureSetSchema,
  level: StatisticsLevel = 'full',
  written?: readonly WrittenPart[],
): Promise<{ rowCount: number; statistics: Record<string, FeatureStatistics> }> {
  const full = level === 'full';
  const footers = written?.length === paths.length ? written : undefined;
  const facts = schema.features.map((feature) =>
    footers ? footerFacts(feature.type, feature.name, footers) : undefined,
  );
  // Each float feature's largest magnitude, when the mean and stddev must be taken of the
  // values scaled down by it (see below); none on the first try.
  const build = (scales: ReadonlyMap<number, string> = new Map()) => {
    const scan: string[] = footers ? [] : ['count(*) AS __rows'];
    const fromFooters: string[] = [];
    schema.features.forEach((feature, i) => {
      const column = ident(feature.name);
      const scalar = elementType(feature.type);
      const known = facts[i];
      if (!known) scan.push(`count(${column}) AS c${i}`);
      // HyperLogLog hashes every value: the most expensive statistic by far.
      if (full) scan.push(`approx_count_distinct(${column}) AS d${i}`);
      // NaN and ±infinity have no place in JSON statistics and make the mean and stddev
      // meaningless (DuckDB's stddev even fails): the numbers describe the finite values.
      // (A CASE, not a FILTER clause: four filtered aggregates cost a third more.)
      // When the footers show no NaN and finite bounds, every value is finite: no test needed.
      const value =
        FLOATS.has(scalar) && !known ? `CASE WHEN isfinite(${column}) THEN ${column} END` : column;
      if (full && NUMERIC.has(scalar) && !isList(feature.type)) {
        const scale = scales.get(i);
        scan.push(
          scale === undefined
            ? `avg(${value}) AS mean${i}`
            : `avg(${value} / ${scale}) * ${scale} AS mean${i}`,
          scale === undefined
            ? `stddev_samp(${value}) AS sd${i}`
            : `stddev_samp(${value} / ${scale}) * ${scale} AS sd${i}`,
        );
      }
      if (!known) {
        const sql = boundsSql(feature.type, value);
        if (sql) scan.push(`${sql[0]} AS lo${i}`, `${sql[1]} AS hi${i}`);
        return;
      }
      const sql = boundsSql(feature.type, '__v');
      if (!sql || known.bounds.length === 0) return;
      // The footer texts typed as the column, then min and max as the scan would take them.
      const type = sqlType(feature.type);
      const minima = known.bounds.map((b) => `(CAST(${literal(b.min)} AS ${type}))`).join(', ');
      const maxima = known.bounds.map((b) => `(CAST(${literal(b.max)} AS ${type}))`).join(', ');
      fromFooters.push(
        `(SELECT ${sql[0]} FROM (VALUES ${minima}) AS t(__v)) AS lo${i}`,
        `(SELECT ${sql[1]} FROM (VALUES ${maxima}) AS t(__v)) AS hi${i}`,
      );
    });
    return { scan, fromFooters };
  };
  let { scan, fromFooters } = build();
  const source = `read_parquet(${fileListLiteral(paths)})`;
  let scanned: Row = {};
  try {
    [scanned = {}] =
      scan.length > 0 ? await run.query(`SELECT ${scan.join(', ')} FROM ${source}`) : [];
  } catch (error) {
    // Finite doubles beyond ~1e154 overflow the sums of squares behind stddev (DuckDB: "STDDEV_SAMP
    // is out of range") and the mean's sum: take both of the values divided by the largest
    // magnitude, which keeps every quotient within ±1, and scale the results back.
    if (!/out of range/i.test((error as Error).message)) throw error;
    const floats = schema.features.flatMap((feature, i) =>
      FLOATS.has(elementType(feature.type)) && !isList(feature.type) ? [i] : [],
    );
    const column = (i: number) => ident(schema.features[i]!.name);
    const [magnitudes = {}] = await run.query(
      `SELECT ${floats
        .map((i) => `max(abs(CASE WHEN isfinite(${column(i)}) THEN ${column(i)} END)) AS m${i}`)
        .join(', ')} FROM ${source}`,
    );
    const scales = new Map<number, string>();
    for (const i of floats) {
      const magnitude = toNumber(magnitudes[`m${i}`]);
      if (typeof magnitude === 'number' && magnitude > 0) scales.set(i, String(magnitude));
    }
    ({ scan, fromFooters } = build(scales));
    [scanned = {}] = await run.query(`SELECT ${scan.join(', ')} FROM ${source}`);
  }
  const [bounded = {}] =
    fromFooters.length > 0 ? await run.query(`SELECT ${fromFooters.join(', ')}`) : [];
  const row: Row = { ...scanned, ...bounded };
  const rowCount = footers
    ? footers.reduce((sum, part) => sum + part.rows, 0)
    : (toNumber(row.__rows) ?? 0);
  const statistics: Record<string, FeatureStatistics> = {};
  schema.features.forEach((feature, i) => {
    const count = facts[i]?.count ?? toNumber(row[`c${i}`]) ?? 0;
    const stats: FeatureStatistics = { count, nulls: rowCount - count };
    const approxDistinct = toNumber(row[`d${i}`]);
    if (approxDistinct !== null && approxDistinct !== undefined)
      stats.approxDistinct = approxDistinct;
    const lo = row[`lo${i}`];
    const hi = row[`hi${i}`];
    if (lo !== null && lo !== undefined) stats.min = positiveZero(lo) as number | string | boolean;
    if (hi !== null && hi !== undefined) stats.max = positiveZero(hi) as number | string | boolean;
    const mean = toNumber(row[`mean${i}`]);
    const stddev = toNumber(row[`sd${i}`]);
    if (typeof mean === 'number') stats.mean = mean;
    if (typeof stddev === 'number') stats.stddev = stddev;
    statistics[feature.name] = stats;
  });
  return { rowCount, statistics };
}
