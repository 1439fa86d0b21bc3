import {
  type FeatureSpec,
  type HistoricalFeatureSetSpec,
  type HistoricalJobSpec,
  type OutputJobResult,
  ValidationError,
} from '@featurestore/core';
import { sqlType } from './column-types.js';
import { featureRowsSql } from './feature-data.js';
import type { JobRun } from './job-run.js';
import { type OutputColumn, outputList, writeOutputFile } from './output-files.js';
import { type ColumnParser, columnParser, typeHint } from './parse-values.js';
import { checkSchema, featureNamed } from './schema-checks.js';
import { columnList, openSource, type SourceFile } from './sources.js';
import { ident } from './sql.js';

/*
 * The point-in-time join (ARCHITECTURE.md, "Point-in-time correctness"), as DuckDB SQL:
 *
 * 1. Each feature set's rows are reduced to one per (key, event time): the greatest
 *    ingestion sequence, then the last row of that ingestion.
 * 2. Entity rows ASOF LEFT JOIN those rows on the key and `entity time >= event time`,
 *    which picks the newest row at or before the entity time.
 * 3. A time to live applies after the join: if that newest row is too old, no row qualifies
 *    (every other candidate is older still), so the features are NULL.
 *
 * Entity rows keep their order (their row number in the file) and their duplicates.
 */

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

/** Entity rows with their time `__fs_t`, keys `__fs_k<s>_<j>` and order `__fs_erow`. */
function entityRowsSql(
  entities: SourceFile,
  time: { index: number; parser: ColumnParser },
  sets: readonly JoinedSet[],
): string {
  const raw = (index: number) => entities.column(entities.columns[index]!.name).raw;
  const passthrough = entities.columns.map((_, i) => `__c${i}`);
  const normalized = [`${time.parser.normalize(raw(time.index))} AS __fs_tn`];
  const parsed = [`${time.parser.parse('__fs_tn')} AS __fs_t`];
  const flags = [
    `(__fs_tn IS NULL) AS __fs_t_empty`,
    `${time.parser.invalid('__fs_tn', '__fs_t')} AS __fs_t_invalid`,
  ];
  sets.forEach((set, s) => {
    set.keys.forEach((key, j) => {
      const name = `__fs_k${s}_${j}`;
      normalized.push(`${key.parser.normalize(raw(key.entityColumn))} AS ${name}n`);
      parsed.push(`${key.parser.parse(`${name}n`)} AS ${name}`);
      flags.push(`${key.parser.invalid(`${name}n`, name)} AS ${name}_invalid`);
    });
  });
  return (
    `SELECT *, ${flags.join(', ')} FROM (SELECT *, ${parsed.join(', ')} FROM (` +
    `SELECT ${[...passthrough, '__ord - 1 AS __fs_erow', '__ord', ...normalized].join(', ')} ` +
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
  const display = (index: number) => entities.column(entities.columns[index]!.name).display;
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
      `column "${timeName}": ${JSON.stringify(String(value))} is not a time (expected ${typeHint('timestamp')})`,
  });
  sets.forEach((set, s) => {
    set.keys.forEach((key, j) => {
      checks.push({
        sql: `__fs_k${s}_${j}_invalid`,
        value: display(key.entityColumn),
        message: (value) =>
          `column "${key.feature.name}": ${JSON.stringify(String(value))} is not a ${key.feature.type} key of feature set "${set.spec.name}" (expected ${typeHint(key.feature.type)})`,
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

/** One feature set's rows, one per (key, event time): the greatest sequence, then last row. */
async function latestPerTimeSql(run: JobRun, set: JoinedSet, s: number): Promise<string> {
  const rows = await featureRowsSql(run, set.spec.schema, set.spec.inputs);
  const keys = set.keys.map((key) => ident(key.feature.name));
  const eventTime = `CAST(${ident(set.spec.schema.eventTime)} AS TIMESTAMPTZ)`;
  const select = [
    ...set.keys.map(
      (key, j) =>
        `CAST(${ident(key.feature.name)} AS ${sqlType(key.feature.type)}) AS __fs_k${s}_${j}`,
    ),
    `${eventTime} AS __fs_et`,
    ...set.features.map((feature, m) => `${ident(feature.name)} AS __fs_v${m}`),
  ];
  return (
    `SELECT ${select.join(', ')} FROM (${rows}) ` +
    `QUALIFY row_number() OVER (PARTITION BY ${[...keys, eventTime].join(', ')} ORDER BY __seq DESC, __row DESC) = 1`
  );
}

/** Runs the point-in-time join of an entity file with one or more feature sets. */
export async function runHistorical(
  run: JobRun,
  spec: HistoricalJobSpec,
): Promise<OutputJobResult> {
  checkFeatureSets(spec);
  run.progress(0, 'reading the entity file');
  const entities = await openSource(run, spec.entities.uri, spec.entities.format, {
    role: 'entity file',
    typedJson: true,
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
  const joins: string[] = [];
  sets.forEach((set, s) => {
    const alias = `__fs_f${s}`;
    const on = set.keys.map((_, j) => `__fs_e.__fs_k${s}_${j} = ${alias}.__fs_k${s}_${j}`);
    joins.push(
      `ASOF LEFT JOIN ${alias} ON ${[...on, `__fs_e.__fs_t >= ${alias}.__fs_et`].join(' AND ')}`,
    );
    const ttlUs =
      set.spec.timeToLiveMs === undefined
        ? undefined
        : BigInt(Math.round(set.spec.timeToLiveMs * 1000));
    set.features.forEach((feature, m) => {
      const name = `${set.spec.name}__${feature.name}`;
      if (seen.has(name)) {
        throw new ValidationError(
          `output column "${name}" would appear twice: rename the entity file's column or the feature set`,
          { details: { column: name } },
        );
      }
      seen.add(name);
      const value = `${alias}.__fs_v${m}`;
      const sql =
        ttlUs === undefined
          ? value
          : `CASE WHEN epoch_us(${alias}.__fs_et) > epoch_us(__fs_e.__fs_t) - ${ttlUs} THEN ${value} END`;
      columns.push({ sql, name, type: feature.type });
    });
  });

  const entityRows = entityRowsSql(entities, time, sets);
  run.progress(0.1, 'validating the entity rows');
  await validateEntities(run, entities, entityRows, time, sets);

  run.progress(0.3, 'joining');
  const ctes = [`__fs_e AS (${entityRows})`];
  for (const [s, set] of sets.entries()) {
    ctes.push(`__fs_f${s} AS (${await latestPerTimeSql(run, set, s)})`);
  }
  const query =
    `WITH ${ctes.join(', ')} SELECT ${outputList(columns, spec.output.format)} ` +
    `FROM __fs_e ${joins.join(' ')} ORDER BY __fs_e.__fs_erow`;
  const rowCount = await writeOutputFile(run, query, spec.output);
  run.progress(1, `wrote ${rowCount} rows`);
  return { rowCount, uri: spec.output.uri };
}
