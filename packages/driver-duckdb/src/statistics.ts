import {
  elementType,
  type FeatureSetSchema,
  type FeatureStatistics,
  type StatisticsLevel,
} from '@featurestore/core/driver';
import { isList, isoTimeSql } from './column-types.js';
import type { JobRun } from './job-run.js';
import { fileListLiteral } from './local-paths.js';
import { ident } from './sql.js';

const NUMERIC = new Set(['int32', 'int64', 'float32', 'float64']);
const FLOATS = new Set(['float32', 'float64']);

const toNumber = (value: unknown) =>
  typeof value === 'bigint' ? Number(value) : (value as number | null);

/**
 * Row count and per-feature statistics of Parquet files, computed by DuckDB in one scan.
 * `count` is the number of non-null values (as in pandas and Spark `describe`); min, max,
 * mean and stddev of a float feature are those of its finite values.
 */
export async function computeStatistics(
  run: JobRun,
  paths: readonly string[],
  schema: FeatureSetSchema,
  level: StatisticsLevel = 'full',
): Promise<{ rowCount: number; statistics: Record<string, FeatureStatistics> }> {
  const full = level === 'full';
  const select = ['count(*) AS __rows'];
  schema.features.forEach((feature, i) => {
    const column = ident(feature.name);
    const scalar = elementType(feature.type);
    select.push(`count(${column}) AS c${i}`);
    // HyperLogLog hashes every value: the most expensive statistic by far.
    if (full) select.push(`approx_count_distinct(${column}) AS d${i}`);
    if (isList(feature.type) || scalar === 'bytes') return;
    if (NUMERIC.has(scalar)) {
      // NaN and ±infinity have no place in JSON statistics and make the mean and stddev
      // meaningless (DuckDB's stddev even fails): the numbers describe the finite values.
      // (A CASE, not a FILTER clause: four filtered aggregates cost a third more.)
      const value = FLOATS.has(scalar)
        ? `CASE WHEN isfinite(${column}) THEN ${column} END`
        : column;
      select.push(
        `CAST(min(${value}) AS DOUBLE) AS lo${i}`,
        `CAST(max(${value}) AS DOUBLE) AS hi${i}`,
      );
      if (full) select.push(`avg(${value}) AS mean${i}`, `stddev_samp(${value}) AS sd${i}`);
    } else if (scalar === 'timestamp') {
      select.push(
        `${isoTimeSql(`min(${column})`)} AS lo${i}`,
        `${isoTimeSql(`max(${column})`)} AS hi${i}`,
      );
    } else if (scalar === 'date') {
      select.push(
        `strftime(min(${column}), '%Y-%m-%d') AS lo${i}`,
        `strftime(max(${column}), '%Y-%m-%d') AS hi${i}`,
      );
    } else {
      select.push(`min(${column}) AS lo${i}`, `max(${column}) AS hi${i}`);
    }
  });
  const [row = {}] = await run.query(
    `SELECT ${select.join(', ')} FROM read_parquet(${fileListLiteral(paths)})`,
  );
  const rowCount = toNumber(row.__rows) ?? 0;
  const statistics: Record<string, FeatureStatistics> = {};
  schema.features.forEach((feature, i) => {
    const count = toNumber(row[`c${i}`]) ?? 0;
    const stats: FeatureStatistics = { count, nulls: rowCount - count };
    const approxDistinct = toNumber(row[`d${i}`]);
    if (approxDistinct !== null && approxDistinct !== undefined)
      stats.approxDistinct = approxDistinct;
    const lo = row[`lo${i}`];
    const hi = row[`hi${i}`];
    if (lo !== null && lo !== undefined) stats.min = lo as number | string | boolean;
    if (hi !== null && hi !== undefined) stats.max = hi as number | string | boolean;
    const mean = toNumber(row[`mean${i}`]);
    const stddev = toNumber(row[`sd${i}`]);
    if (typeof mean === 'number') stats.mean = mean;
    if (typeof stddev === 'number') stats.stddev = stddev;
    statistics[feature.name] = stats;
  });
  return { rowCount, statistics };
}
