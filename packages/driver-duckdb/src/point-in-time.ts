import {
  CancelledError,
  type FeatureSpec,
  FeatureStoreError,
  type HistoricalFeatureSetSpec,
  type HistoricalJobSpec,
  type OutputJobResult,
  ValidationError,
} from '@featurestore/core/driver';
import { sqlType } from './column-types.js';
import {
  type IngestionFiles,
  inputFiles,
  largestIngestion,
  positionedScan,
} from './feature-data.js';
import type { JobRun } from './job-run.js';
import { fileListLiteral } from './local-paths.js';
import { type OutputColumn, outputList, writeOutputFile } from './output-files.js';
import { type ColumnParser, columnParser, typeHint, whyInvalid } from './parse-values.js';
import { checkSchema, featureNamed } from './schema-checks.js';
import { columnList, openSource, type SourceFile } from './sources.js';
import { ident, literal } from './sql.js';

/*
 * The point-in-time join (docs/architecture.md, "The point-in-time contract"), as DuckDB SQL:
 *
 * 1. Entity rows ASOF LEFT JOIN each feature set's rows on the key and
 *    `(entity time, +inf, +inf) >= (event time, sequence, row)`, which picks the newest row at
 *    or before the entity time, ties going to the greatest sequence, then the last row: the
 *    whole contract in one ASOF join, with no pass to deduplicate (key, event time) first.
 *    The triple is packed into one BIGINT when the feature set's times and row numbers fit
 *    (DuckDB sorts and compares a BIGINT fastest), else compared as a STRUCT.
 * 2. A time to live applies after the join: if that newest row is too old, no row qualifies
 *    (every other candidate is older still), so the features are NULL.
 *
 * Entity rows keep their order (their row number in the file) and their duplicates.
 */

/** What the join fails with on an entity row with a problem; the exact report comes after. */
const ENTITY_PROBLEM = 'featurestore: an entity row failed validation';
/** Packed orders stay below this, far from BIGINT overflow. */
const PACKED_LIMIT = 1n << 62n;

interface KeyColumn {
  /** The entity column holding the key. */
  entityColumn: number;
  feature: FeatureSpec;
  parser: ColumnParser;
}

interface JoinedSet {
  spec: HistoricalFeatureSetSpec;
  keys: KeyColumn[];
  features: FeatureSpec[];
}

function checkFeatureSets(spec: HistoricalJobSpec): void {
  if (spec.featureSets.length === 0) {
    throw new ValidationError('the historical job requests no feature sets: name at least one', {
      details: { field: 'featureSets' },
    });
  }
  const names = new Set<string>();
  for (const set of spec.featureSets) {
    if (names.has(set.name)) {
      throw new ValidationError(
        `feature set "${set.name}" is requested twice: its output columns would clash`,
        {
          details: { featureSet: set.name },
        },
      );
    }
    names.add(set.name);
    checkSchema(set.schema, `feature set "${set.name}"`);
    if (set.timeToLiveMs !== undefined && !(set.timeToLiveMs > 0)) {
      throw new ValidationError(
        `feature set "${set.name}" has time to live ${set.timeToLiveMs} ms: it must be a positive number of milliseconds`,
        { details: { featureSet: set.name, timeToLiveMs: set.timeToLiveMs } },
      );
    }
    for (const feature of set.features) {
      if (!featureNamed(set.schema, feature)) {
        throw new ValidationError(
          `feature set "${set.name}" has no feature "${feature}" (it has ${set.schema.features.map((f) => f.name).join(', ')})`,
          { details: { featureSet: set.name, feature } },
        );
      }
    }
  }
}

function entityColumn(entities: SourceFile, name: string, role: string): number {
  const index = entities.columns.findIndex((column) => column.name === name);
  if (index < 0) {
    throw new ValidationError(
      `${entities.name} has no column "${name}" (${role}; found: ${columnList(entities.columns)}): add it to the entity file`,
      { details: { file: entities.uri, column: name } },
    );
  }
  return index;
}

function parserFor(entities: SourceFile, index: number, type: FeatureSpec['type']): ColumnParser {
  const column = entities.columns[index]!;
  const parser = columnParser(type, entities.column(column.name).kind);
  if (!parser) {
    throw new ValidationError(
      `${entities.name} column "${column.name}" has type ${column.sqlType}, which cannot be compared with ${type}: write it as ${type}`,
      { details: { file: entities.uri, column: column.name, expected: type } },
    );
  }
  return parser;
}

/** The entity file's columns as `__c<i>` (a JSON line's values as text). */
function entityColumnsSql(entities: SourceFile): string[] {
  return entities.columns.map((column, i) => `${entities.column(column.name).raw} AS __c${i}`);
}

/** Entity rows with their time `__fs_t`, keys `__fs_k<s>_<j>` and order `__fs_erow`. */
function entityRowsSql(
  entities: SourceFile,
  time: { index: number; parser: ColumnParser },
  sets: readonly JoinedSet[],
): string {
  const raw = (index: number) => entities.column(entities.columns[index]!.name).raw;
  const nested = (index: number) =>
    entities.column(entities.columns[index]!.name).nested ?? 'false';
  const passthrough = entityColumnsSql(entities);
  const normalized = [`${time.parser.normalize(raw(time.index))} AS __fs_tn`];
  const parsed = [`${time.parser.parse('__fs_tn')} AS __fs_t`];
  const flags = [
    `(__fs_tn IS NULL) AS __fs_t_empty`,
    `${time.parser.invalid('__fs_tn', '__fs_t')} AS __fs_t_invalid`,
  ];
  sets.forEach((set, s) => {
    set.keys.forEach((key, j) => {
      const name = `__fs_k${s}_${j}`;
      normalized.push(
        `${key.parser.normalize(raw(key.entityColumn))} AS ${name}n`,
        `${nested(key.entityColumn)} AS ${name}x`,
      );
      parsed.push(`${key.parser.parse(`${name}n`)} AS ${name}`);
      flags.push(
        `(${key.parser.invalid(`${name}n`, name)} OR (${name}n IS NOT NULL AND ${name}x)) AS ${name}_invalid`,
      );
    });
  });
  // Each checked column as shown in messages, `__fs_d<i>` (JSON lines: its JSON text).
  const checked = new Set([
    time.index,
    ...sets.flatMap((set) => set.keys.map((key) => key.entityColumn)),
  ]);
  const shown = [...checked].map(
    (i) => `${entities.column(entities.columns[i]!.name).display} AS __fs_d${i}`,
  );
  return (
    `SELECT *, ${flags.join(', ')} FROM (SELECT *, ${parsed.join(', ')} FROM (` +
    `SELECT ${[...passthrough, '__ord - 1 AS __fs_erow', '__ord', ...normalized, ...shown].join(', ')} ` +
    `FROM ${entities.from}))`
  );
}

/** Fails on the first entity row with an empty or unparsable time, or an unparsable key. */
async function validateEntities(
  run: JobRun,
  entities: SourceFile,
  rows: string,
  time: { index: number },
  sets: readonly JoinedSet[],
): Promise<void> {
  const display = (index: number) => `__fs_d${index}`;
  // JSON values are shown as their JSON text, CSV and Parquet values quoted.
  const shown = (value: unknown) =>
    entities.format === 'json' ? String(value) : JSON.stringify(String(value));
  const checks: { sql: string; value: string; message: (value: unknown) => string }[] = [];
  const timeName = entities.columns[time.index]!.name;
  checks.push({
    sql: '__fs_t_empty',
    value: 'NULL',
    message: () => `column "${timeName}": the time is empty: every entity row needs a time`,
  });
  checks.push({
    sql: '__fs_t_invalid',
    value: display(time.index),
    message: (value) =>
      `column "${timeName}": ${shown(value)} ${whyInvalid('timestamp', String(value), entities.format === 'json') ?? `is not a time (expected ${typeHint('timestamp')})`}`,
  });
  sets.forEach((set, s) => {
    set.keys.forEach((key, j) => {
      checks.push({
        sql: `__fs_k${s}_${j}_invalid`,
        value: display(key.entityColumn),
        message: (value) =>
          `column "${key.feature.name}": ${shown(value)} is not a ${key.feature.type} key of feature set "${set.spec.name}" (expected ${typeHint(key.feature.type)})`,
      });
    });
  });
  const aggregates = checks.flatMap((check, k) => [
    `min(__ord) FILTER (WHERE ${check.sql}) AS r${k}`,
    `arg_min(${check.value}, __ord) FILTER (WHERE ${check.sql}) AS v${k}`,
  ]);
  const [row = {}] = await run.query(`SELECT ${aggregates.join(', ')} FROM (${rows})`);
  let first: { line: bigint; k: number } | undefined;
  checks.forEach((_, k) => {
    const line = row[`r${k}`];
    if (line === null || line === undefined) return;
    if (!first || BigInt(line as bigint) < first.line) first = { line: BigInt(line as bigint), k };
  });
  if (!first) return;
  const value = row[`v${first.k}`];
  throw new ValidationError(
    `${entities.name} row ${first.line} (${entities.rowsAre}), ${checks[first.k]!.message(value)}: fix the entity file`,
    { details: { file: entities.uri, row: Number(first.line), value } },
  );
}

/**
 * Entity rows for the join, parsed by the fast path: the file's columns, `__fs_erow`, the time
 * `__fs_t` and keys `__fs_k<s>_<j>`. An empty or unparsable time or an unparsable key fails
 * the statement through `error()` (riding on the time, which the join reads for every row);
 * `validateEntities` then names the row.
 */
function entityJoinRowsSql(
  entities: SourceFile,
  time: { index: number; parser: ColumnParser },
  sets: readonly JoinedSet[],
): string {
  const raw = (index: number) => entities.column(entities.columns[index]!.name).raw;
  const passthrough = entities.columns.map((_, i) => `__c${i}`);
  const values = [`${time.parser.value(raw(time.index))} AS __fs_tv`];
  const keys: string[] = [];
  const suspect = ['__fs_tv IS NULL'];
  const problems = ['__fs_tv IS NULL'];
  sets.forEach((set, s) => {
    set.keys.forEach((key, j) => {
      const name = `__fs_k${s}_${j}`;
      values.push(
        `${raw(key.entityColumn)} AS ${name}r`,
        `${key.parser.value(raw(key.entityColumn))} AS ${name}`,
      );
      keys.push(name);
      suspect.push(`${name} IS NULL`);
      problems.push(key.parser.problem(`${name}r`, name));
      const nested = entities.column(entities.columns[key.entityColumn]!.name).nested;
      if (nested) {
        // A JSON object or array where a key belongs: its text would pass as a string key.
        values.push(`${nested} AS ${name}x`);
        suspect.push(`${name}x`);
        problems.push(`(${name}r IS NOT NULL AND ${name}x)`);
      }
    });
  });
  const checkedTime =
    `CASE WHEN (${suspect.join(' OR ')}) AND (${problems.join(' OR ')}) ` +
    `THEN error(${literal(ENTITY_PROBLEM)}) ELSE __fs_tv END AS __fs_t`;
  return (
    `SELECT ${[...passthrough, '__fs_erow', checkedTime, ...keys].join(', ')} FROM (` +
    `SELECT ${[...entityColumnsSql(entities), '__ord - 1 AS __fs_erow', ...values].join(', ')} FROM ${entities.from})`
  );
}

/**
 * How one feature set's rows are ordered for the ASOF join, (event time, sequence, row):
 * SQL over the feature side (`__fs_et`, `__fs_rank`, `__seq`, `__row`) and over the entity
 * time (which sorts after every row with the same event time).
 */
interface JoinOrder {
  feature: string;
  entity(time: string): string;
}

const STRUCT_ORDER: JoinOrder = {
  feature: 'struct_pack(t := __fs_et, s := __seq, r := __row)',
  entity: (time) =>
    `struct_pack(t := ${time}, s := 9223372036854775807::BIGINT, r := 9223372036854775807::BIGINT)`,
};

/**
 * The BIGINT packing of (event time, sequence, row) for one feature set, when it fits:
 * `((epoch_us(time) - first) / unit) * N + rank * R + __row`, where `unit` is the coarsest
 * of 1 s, 1 ms, 1 µs that every event time is a whole multiple of, `R` the row count of the
 * largest ingestion (every `__row` is below it), `rank` the ingestion's place in sequence
 * order and `N` = ingestions × `R`, so ties on time go to the greater sequence, then the
 * later row. An entity time becomes the greatest packed
 * value of its time slot (clamped to the feature set's range), so `entity >= feature` holds
 * exactly when the row's event time is at or before the entity time. Falls back to a STRUCT
 * when the product does not stay below 2^62, when two ingestions share a sequence, or for
 * times DuckDB calls infinite.
 */
async function joinOrder(
  run: JobRun,
  files: readonly IngestionFiles[],
  eventTime: string,
): Promise<JoinOrder> {
  const paths = files.flatMap((file) => file.paths);
  if (paths.length === 0) return STRUCT_ORDER;
  if (new Set(files.map((file) => file.sequence)).size !== files.length) return STRUCT_ORDER;
  const et = `CAST(${ident(eventTime)} AS TIMESTAMPTZ)`;
  const from = `FROM read_parquet(${fileListLiteral(paths)})`;
  // Minima and maxima come from the Parquet footers: no data is read.
  const [row] = await run.query(
    `SELECT isfinite(min(${et})) AND isfinite(max(${et})) AS finite, ` +
      `epoch_us(min(${et})) AS first, epoch_us(max(${et})) AS last ${from}`,
  );
  if (row?.finite !== true || row.first === null) return STRUCT_ORDER;
  const first = BigInt(row.first as bigint);
  const last = BigInt(row.last as bigint);
  const rows = largestIngestion(files);
  const n = BigInt(files.length) * rows;
  const fits = (unit: bigint) => ((last - first) / unit + 1n) * n < PACKED_LIMIT;
  let unit = 1n;
  if (!fits(unit)) {
    // The coarsest unit every event time is a whole multiple of (one scan of the column).
    const [units] = await run.query(
      `SELECT max(CASE WHEN e % 1000000 = 0 THEN 0 WHEN e % 1000 = 0 THEN 1 ELSE 2 END) AS u ` +
        `FROM (SELECT epoch_us(${et}) AS e ${from})`,
    );
    unit = [1_000_000n, 1000n, 1n][Number(units?.u ?? 2)] ?? 1n;
    if (!fits(unit)) return STRUCT_ORDER;
  }
  const slots = (last - first) / unit + 1n;
  const slot = (time: string) => `((epoch_us(${time}) - ${first}) // ${unit})`;
  return {
    feature: `${slot('__fs_et')} * ${n} + __fs_rank * ${rows} + __row`,
    // Compared as times, so that -infinity matches nothing and infinity the newest row.
    entity: (time) =>
      `CASE WHEN ${time} < CAST(make_timestamp(${first}) AS TIMESTAMPTZ) THEN CAST(-1 AS BIGINT) ` +
      `WHEN ${time} >= CAST(make_timestamp(${last}) AS TIMESTAMPTZ) THEN CAST(${slots * n - 1n} AS BIGINT) ` +
      `ELSE ${slot(time)} * ${n} + ${n - 1n} END`,
  };
}

/**
 * One feature set's rows for the join: keys `__fs_k<s>_<j>`, event time `__fs_et`, order
 * `__fs_o` and the requested features `__fs_v<m>`, read straight from the typed Parquet parts
 * (already of the schema's types: nothing is parsed again).
 */
async function featureJoinRows(
  run: JobRun,
  set: JoinedSet,
  s: number,
): Promise<{ sql: string; order: JoinOrder }> {
  // The event time travels through the join only for the time to live: every column of the
  // feature side is held in memory, sorted, until the join has read every entity row.
  const withEventTime = set.spec.timeToLiveMs !== undefined;
  const { schema } = set.spec;
  const files = [...(await inputFiles(run, set.spec.inputs))].sort(
    (a, b) => a.sequence - b.sequence,
  );
  const order = await joinOrder(run, files, schema.eventTime);
  const typed = (feature: FeatureSpec) =>
    `CAST(${ident(feature.name)} AS ${sqlType(feature.type)})`;
  const eventTime: FeatureSpec = { name: schema.eventTime, type: 'timestamp' };
  const columns = (source: (feature: FeatureSpec, alias: string) => string) => [
    ...set.keys.map((key, j) => source(key.feature, `__fs_k${s}_${j}`)),
    source(eventTime, '__fs_et'),
    ...set.features.map((feature, m) => source(feature, `__fs_v${m}`)),
  ];
  const parts = files.map((ingestion, rank) =>
    positionedScan(
      ingestion,
      `${columns((feature, alias) => `${typed(feature)} AS ${alias}`).join(', ')}, ` +
        `CAST(${ingestion.sequence} AS BIGINT) AS __seq, CAST(${rank} AS BIGINT) AS __fs_rank`,
    ),
  );
  const rows =
    parts.length > 0
      ? parts.join(' UNION ALL ')
      : `SELECT ${columns((feature, alias) => `CAST(NULL AS ${sqlType(feature.type)}) AS ${alias}`).join(', ')}, ` +
        'CAST(NULL AS BIGINT) AS __seq, CAST(NULL AS BIGINT) AS __fs_rank, CAST(NULL AS BIGINT) AS __row WHERE false';
  const select = [
    ...set.keys.map((_, j) => `__fs_k${s}_${j}`),
    ...(withEventTime ? ['__fs_et'] : []),
    `${order.feature} AS __fs_o`,
    ...set.features.map((_, m) => `__fs_v${m}`),
  ];
  return { sql: `SELECT ${select.join(', ')} FROM (${rows})`, order };
}

/** Runs the point-in-time join of an entity file with one or more feature sets. */
export async function runHistorical(
  run: JobRun,
  spec: HistoricalJobSpec,
): Promise<OutputJobResult> {
  checkFeatureSets(spec);
  run.report({ fraction: 0, phase: 'read entities', phaseFraction: 0 });
  const entities = await openSource(run, spec.entities.uri, spec.entities.format, {
    role: 'entity file',
  });
  const timeIndex = entityColumn(entities, spec.entities.timeColumn, 'the entity time column');
  const time = { index: timeIndex, parser: parserFor(entities, timeIndex, 'timestamp') };
  const sets: JoinedSet[] = spec.featureSets.map((set) => ({
    spec: set,
    keys: set.schema.primaryKey.map((name) => {
      const feature = featureNamed(set.schema, name)!;
      const index = entityColumn(entities, name, `a primary key of feature set "${set.name}"`);
      return { entityColumn: index, feature, parser: parserFor(entities, index, feature.type) };
    }),
    features: set.features.map((name) => featureNamed(set.schema, name)!),
  }));

  const columns: OutputColumn[] = entities.columns.map((column, i) => ({
    sql: `__fs_e.__c${i}`,
    name: column.name,
    ...(entities.column(column.name).kind.kind === 'native' ? { nativeType: column.sqlType } : {}),
  }));
  const seen = new Set(columns.map((column) => column.name));
  sets.forEach((set) => {
    set.features.forEach((feature) => {
      const name = `${set.spec.name}__${feature.name}`;
      if (seen.has(name)) {
        throw new ValidationError(
          `output column "${name}" would appear twice: rename the entity file's column or the feature set`,
          { details: { column: name } },
        );
      }
      seen.add(name);
    });
  });

  // Entity problems are reported before problems with the feature sets' files, as ever.
  const validate = () =>
    validateEntities(run, entities, entityRowsSql(entities, time, sets), time, sets);
  run.report({ fraction: 0.05, phase: 'plan the join' });
  const joins: { sql: string; on: string }[] = [];
  for (const [s, set] of sets.entries()) {
    const alias = `__fs_f${s}`;
    const { sql, order } = await featureJoinRows(run, set, s).catch(async (error: unknown) => {
      if (!(error instanceof CancelledError)) await validate();
      throw error;
    });
    const on = set.keys.map((_, j) => `__fs_e.__fs_k${s}_${j} = ${alias}.__fs_k${s}_${j}`);
    on.push(`${order.entity('__fs_e.__fs_t')} >= ${alias}.__fs_o`);
    joins.push({ sql: `(${sql}) AS ${alias}`, on: on.join(' AND ') });
    set.features.forEach((feature, m) => {
      columns.push({
        sql: `__fs_r${s}.__fs_v${m}`,
        name: `${set.spec.name}__${feature.name}`,
        type: feature.type,
      });
    });
  }

  // One feature set at a time, so that memory holds one feature set's sorted rows rather
  // than all of them (a chain of ASOF joins builds every one before the first entity row
  // goes through): the parsed entity rows, then per feature set the features of each entity
  // row (`__fs_r<s>`, by `__fs_erow`), then the output in entity order. Temporary tables
  // belong to the job's connection and go with it; DuckDB spills them beyond its memory limit.
  let rowCount: number;
  try {
    await run.queryWithProgress(
      `CREATE TEMPORARY TABLE __fs_e AS ${entityJoinRowsSql(entities, time, sets)}`,
      (fraction) =>
        run.report({
          fraction: 0.1 + 0.1 * fraction,
          phase: 'read entities',
          phaseFraction: fraction,
        }),
    );
    for (const [s, set] of sets.entries()) {
      const alias = `__fs_f${s}`;
      const ttlUs =
        set.spec.timeToLiveMs === undefined
          ? undefined
          : BigInt(Math.round(set.spec.timeToLiveMs * 1000));
      const values = set.features.map((_, m) => {
        const value = `${alias}.__fs_v${m}`;
        const sql =
          ttlUs === undefined
            ? value
            : `CASE WHEN epoch_us(${alias}.__fs_et) > epoch_us(__fs_e.__fs_t) - ${ttlUs} THEN ${value} END`;
        return `${sql} AS __fs_v${m}`;
      });
      const join = joins[s]!;
      // One phase per feature set: its join has its own progress.
      const phase = `join ${set.spec.name} (${s + 1} of ${sets.length})`;
      const joined = (fraction: number) =>
        run.report({
          fraction: 0.2 + (0.6 * (s + fraction)) / sets.length,
          phase,
          phaseFraction: fraction,
        });
      joined(0);
      await run.queryWithProgress(
        `CREATE TEMPORARY TABLE __fs_r${s} AS SELECT ${['__fs_e.__fs_erow', ...values].join(', ')} ` +
          `FROM __fs_e ASOF LEFT JOIN ${join.sql} ON ${join.on}`,
        joined,
      );
      joined(1);
    }
    run.report({ fraction: 0.8, phase: 'write output', phaseFraction: 0 });
    const results = sets
      .map((_, s) => `LEFT JOIN __fs_r${s} ON __fs_r${s}.__fs_erow = __fs_e.__fs_erow`)
      .join(' ');
    const query =
      `SELECT ${outputList(columns, spec.output.format)} ` +
      `FROM __fs_e ${results} ORDER BY __fs_e.__fs_erow`;
    rowCount = await writeOutputFile(run, query, spec.output);
  } catch (error) {
    if (error instanceof CancelledError) throw error;
    run.progress(0.9, 'finding the entity row with a problem');
    await validate();
    if (error instanceof Error && error.message.includes(ENTITY_PROBLEM)) {
      throw new FeatureStoreError(
        'INTERNAL',
        'the fast validation of the entity file refused a row that the exact validation accepts: please report this with the entity file',
        { cause: error },
      );
    }
    throw error;
  }
  run.report({ fraction: 1, phase: 'write output', phaseFraction: 1, rows: rowCount });
  return { rowCount, uri: spec.output.uri };
}
