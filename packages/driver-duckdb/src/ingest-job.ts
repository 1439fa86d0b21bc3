import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CancelledError,
  type FeatureSetSchema,
  type FeatureSpec,
  FeatureStoreError,
  type IngestJobResult,
  type IngestJobSpec,
  PRIVATE_FILE_MODE,
  PRIVATE_FOLDER_MODE,
  ValidationError,
} from '@featurestore/core/driver';
import { shownName } from './column-names.js';
import { isList } from './column-types.js';
import { IngestProgress } from './ingest-progress.js';
import type { JobRun, Row } from './job-run.js';
import { joinUri, localPath } from './local-paths.js';
import { ensureFolder, PARQUET_OPTIONS } from './output-files.js';
import { type ColumnParser, columnParser, typeHint, whyInvalid } from './parse-values.js';
import { checkSchema } from './schema-checks.js';
import { columnList, openSource, type RawColumn, type SourceFile } from './sources.js';
import { ident, literal } from './sql.js';
import { computeStatistics, type WrittenPart, writtenPartOf } from './statistics.js';

/** What the first pass fails with on a row with a problem; the exact report comes after. */
const ROW_PROBLEM = 'featurestore: a row failed validation';

interface PlannedColumn {
  feature: FeatureSpec;
  raw: RawColumn;
  parser: ColumnParser;
  /** Key or event-time column: may not be empty. */
  required: 'primary key' | 'event time' | undefined;
}

interface PlannedFile {
  file: SourceFile;
  index: number;
  columns: PlannedColumn[];
}

/** A per-row condition of the validation pass and how to report its first failing row. */
interface Check {
  sql: string;
  /** The value shown in the message. */
  value?: string;
  describe(value: unknown): { message: string; column?: string };
}

function checkColumns(files: readonly SourceFile[], spec: IngestJobSpec): void {
  const [first] = files;
  if (!first) {
    throw new ValidationError('the ingestion names no source files: give at least one', {
      details: { field: 'sources' },
    });
  }
  const names = (file: SourceFile) => new Set(file.columns.map((column) => column.name));
  const firstNames = names(first);
  for (const file of files.slice(1)) {
    const other = names(file);
    const same = other.size === firstNames.size && [...other].every((name) => firstNames.has(name));
    if (!same) {
      throw new ValidationError(
        `${first.name} and ${file.name} have different columns (${first.name}: ${columnList(first.columns)}; ` +
          `${file.name}: ${columnList(file.columns)}): all files of one ingestion need the same columns; ingest them separately or fix the odd file`,
        { details: { files: [first.uri, file.uri] } },
      );
    }
  }
  for (const feature of spec.schema.features) {
    if (!firstNames.has(feature.name)) {
      const only = first.columns.length === 1 ? first.columns[0]!.name : '';
      const delimiter = /[;\t|]/.exec(only)?.[0];
      const hint = delimiter
        ? `: the file seems to use ${JSON.stringify(delimiter)} between values; write it with commas`
        : ': add the column to the file or fix the schema';
      throw new ValidationError(
        `${first.name} has no column "${feature.name}" (found: ${columnList(first.columns)})${hint}`,
        { details: { file: first.uri, column: feature.name } },
      );
    }
  }
  if (spec.ignoreExtraColumns) return;
  const known = new Set(spec.schema.features.map((feature) => feature.name));
  const extra = first.columns.find((column) => !known.has(column.name));
  if (extra) {
    throw new ValidationError(
      `${first.name} has column ${shownName(extra.name)}, which the schema does not define: remove it from the file, add it to the schema, or set ignoreExtraColumns (--ignore-extra-columns on the command line)`,
      { details: { file: first.uri, column: extra.name } },
    );
  }
}

function planFile(file: SourceFile, index: number, schema: FeatureSetSchema): PlannedFile {
  const columns = schema.features.map((feature): PlannedColumn => {
    const raw = file.column(feature.name);
    const parser = columnParser(feature.type, raw.kind);
    if (!parser) {
      const found = raw.kind.kind === 'native' ? raw.kind.sqlType : 'text';
      throw new ValidationError(
        `${file.name} column "${feature.name}" has type ${found}, which cannot hold ${feature.type} values: write it as ${feature.type} or change the feature's type`,
        { details: { file: file.uri, column: feature.name, found, expected: feature.type } },
      );
    }
    const required = schema.primaryKey.includes(feature.name)
      ? 'primary key'
      : feature.name === schema.eventTime
        ? 'event time'
        : undefined;
    return { feature, raw, parser, required };
  });
  return { file, index, columns };
}

/**
 * One file's rows for the exact validation pass: per feature the parsed value `__p<i>` (by
 * the strict rules), the display text `__d<i>` and the flags `__invalid<i>` (present but not
 * a valid value) and `__empty<i>` (absent), with `__ord`, the row's number in its file.
 */
function fileChecksSql(plan: PlannedFile): string {
  const raw = ['__ord'];
  plan.columns.forEach(({ raw: column, parser }, i) => {
    raw.push(
      `${parser.normalize(column.raw)} AS __n${i}`,
      `${column.display} AS __d${i}`,
      `${column.nested ?? 'false'} AS __x${i}`,
    );
  });
  raw.push(`${plan.file.badRecord ?? 'false'} AS __bad_record`);
  const parsed = plan.columns.map(({ parser }, i) => `${parser.parse(`__n${i}`)} AS __p${i}`);
  const out = [`${plan.index} AS __file`, '__ord'];
  plan.columns.forEach(({ feature, parser }, i) => {
    const nested = isList(feature.type) ? '' : ` OR (__n${i} IS NOT NULL AND __x${i})`;
    out.push(
      `__p${i}`,
      `__d${i}`,
      `(${parser.invalid(`__n${i}`, `__p${i}`)}${nested}) AS __invalid${i}`,
      `(__n${i} IS NULL) AS __empty${i}`,
    );
  });
  out.push('__bad_record');
  return (
    `SELECT ${out.join(', ')} FROM (SELECT *, ${parsed.join(', ')} ` +
    `FROM (SELECT ${raw.join(', ')} FROM ${plan.file.from}))`
  );
}

function shown(raw: RawColumn, value: unknown): string {
  return raw.displayIsJson ? String(value) : JSON.stringify(String(value));
}

/** The checks of the validation pass, in the order reported when two fail on one row. */
function checksOf(plan: PlannedFile): Check[] {
  const checks: Check[] = [
    {
      sql: '__bad_record',
      describe: () => ({ message: ': the record is not a JSON object: write one object per line' }),
    },
  ];
  plan.columns.forEach(({ feature, raw, required }, i) => {
    checks.push({
      sql: `__invalid${i}`,
      value: `__d${i}`,
      describe: (value) => {
        const why = whyInvalid(feature.type, String(value), raw.displayIsJson);
        return {
          message: `, column "${feature.name}": ${shown(raw, value)} ${why ?? `is not a ${feature.type} (expected ${typeHint(feature.type)})`}: fix the value or change the feature's type`,
          column: feature.name,
        };
      },
    });
    if (required) {
      checks.push({
        sql: `__empty${i}`,
        describe: () => ({
          message: `, column "${feature.name}": the ${required} is empty: every row needs a ${required} value`,
          column: feature.name,
        }),
      });
    }
  });
  return checks;
}

/**
 * The exact validation pass, one streaming pass over every file: the first row (in file
 * order) failing a check, as the `ValidationError` users see, or undefined.
 */
async function findProblem(
  run: JobRun,
  plans: readonly PlannedFile[],
): Promise<ValidationError | undefined> {
  const checks = plans[0] ? checksOf(plans[0]) : [];
  const aggregates = ['__file'];
  checks.forEach((check, k) => {
    aggregates.push(`min(__ord) FILTER (WHERE ${check.sql}) AS r${k}`);
    if (check.value) {
      aggregates.push(`arg_min(${check.value}, __ord) FILTER (WHERE ${check.sql}) AS v${k}`);
    }
  });
  const rows = plans.map((plan) => fileChecksSql(plan)).join(' UNION ALL ');
  const result = await run.query(
    `SELECT ${aggregates.join(', ')} FROM (${rows}) GROUP BY __file ORDER BY __file`,
  );
  const byFile = new Map<number, Row>(result.map((row) => [Number(row.__file), row]));
  for (const plan of plans) {
    const row = byFile.get(plan.index);
    if (!row) continue;
    let best: { line: bigint; check: Check; k: number } | undefined;
    checks.forEach((check, k) => {
      const line = row[`r${k}`];
      if (line === null || line === undefined) return;
      const at = BigInt(line as bigint);
      if (!best || at < best.line) best = { line: at, check, k };
    });
    if (!best) continue;
    const { line, check, k } = best;
    const value = row[`v${k}`];
    const { message, column } = check.describe(value);
    return new ValidationError(`${plan.file.name} row ${line} (${plan.file.rowsAre})${message}`, {
      details: {
        file: plan.file.uri,
        row: Number(line),
        ...(column === undefined ? {} : { column }),
        ...(value === undefined || value === null ? {} : { value: String(value) }),
      },
    });
  }
  return undefined;
}

/**
 * One file's rows typed for the first pass, without row numbers (which would make DuckDB read
 * on one thread): the parsed value of each feature as `__p<i>`. Every check of `findProblem`
 * is folded in: a row with a problem fails the statement through `error()`, and only then
 * does the exact (slower) validation pass run to say which row and why. A problem with a
 * scalar always leaves a NULL value (or a JSON object where a scalar belongs), so its checks
 * run only on rows with one.
 */
function typedRowsSql(plan: PlannedFile): string {
  const raw: string[] = [];
  const values: string[] = [];
  const suspect: string[] = [];
  const problems: string[] = [];
  if (plan.file.badRecord) {
    raw.push(`${plan.file.badRecord} AS __bad_record`);
    suspect.push('__bad_record');
    problems.push('__bad_record');
  }
  plan.columns.forEach(({ feature, raw: column, parser, required }, i) => {
    raw.push(`${column.raw} AS __r${i}`);
    values.push(`${parser.value(`__r${i}`)} AS __v${i}`);
    const problem = parser.problem(`__r${i}`, `__v${i}`);
    // A list with an element that does not parse is a problem with a value.
    suspect.push(isList(feature.type) ? problem : `__v${i} IS NULL`);
    problems.push(problem);
    if (required) problems.push(`__v${i} IS NULL`);
    if (column.nested && !isList(feature.type)) {
      raw.push(`${column.nested} AS __x${i}`);
      suspect.push(`__x${i}`);
      problems.push(`(__r${i} IS NOT NULL AND __x${i})`);
    }
  });
  // The check rides on the first column, so DuckDB evaluates it for every row.
  const check =
    `CASE WHEN (${suspect.join(' OR ')}) AND (${problems.join(' OR ')}) ` +
    `THEN error(${literal(ROW_PROBLEM)}) ELSE __v0 END AS __p0`;
  const rest = plan.columns.slice(1).map((_, k) => `__v${k + 1} AS __p${k + 1}`);
  return (
    `SELECT ${[check, ...rest].join(', ')} FROM (SELECT *, ${values.join(', ')} ` +
    `FROM (SELECT ${raw.join(', ')} FROM ${plan.file.scan}))`
  );
}

/**
 * Writes the source's typed rows with `COPY … TO … (RETURN_STATS)`, each file after the other,
 * and returns what was written per file (rows and the Parquet writer's column statistics), or
 * throws the exact `ValidationError` of the first bad row (found by the validation pass, run
 * only when the fast pass failed).
 */
async function writeTypedRows(
  run: JobRun,
  plans: readonly PlannedFile[],
  copy: (plan: PlannedFile) => string,
  progress: IngestProgress,
): Promise<WrittenPart[]> {
  const written: WrittenPart[] = [];
  try {
    for (const [i, plan] of plans.entries()) {
      const [result] = await run.queryWithProgress(copy(plan), (fraction) =>
        progress.reading(i, fraction),
      );
      const part = writtenPartOf(result);
      progress.written(i, part.rows);
      written.push(part);
    }
    return written;
  } catch (error) {
    if (error instanceof CancelledError) throw error;
    run.progress(0.3, 'finding the row with a problem');
    const problem = await findProblem(run, plans);
    if (problem) throw problem;
    if (error instanceof Error && error.message.includes(ROW_PROBLEM)) {
      throw new FeatureStoreError(
        'INTERNAL',
        'the fast validation of the source refused a row that the exact validation accepts: please report this with the source',
        { cause: error },
      );
    }
    throw error;
  }
}

/** The part files DuckDB wrote, in part order. */
async function partFiles(folder: string): Promise<string[]> {
  const names = (await readdir(folder)).filter((name) => /^part-\d+\.parquet$/.test(name));
  const number = (name: string) => Number(/\d+/.exec(name)![0]);
  return names.sort((a, b) => number(a) - number(b));
}

/**
 * Validates a source against its schema and writes it as typed Parquet parts in one pass over
 * the data, one part per source file (`part-<file index>.parquet`, row groups of 122,880 rows):
 * DuckDB reads, validates and writes in parallel and keeps the file's row order (its default
 * `preserve_insertion_order`), so a row's position is its place in the parts
 * (`feature-data.ts`) and nothing is stored or sorted for it. One `COPY` per part: a `COPY`
 * that splits its output into several files (`FILE_SIZE_BYTES`) does not keep the order.
 * Nothing is committed before validation passes, and a failure removes whatever was written.
 */
export async function runIngest(run: JobRun, spec: IngestJobSpec): Promise<IngestJobResult> {
  checkSchema(spec.schema);
  const prefix = localPath(spec.outputPrefix);
  run.report({ fraction: 0, phase: 'read source', phaseFraction: 0 });
  const files: SourceFile[] = [];
  for (const uri of spec.sources) files.push(await openSource(run, uri, spec.format));
  checkColumns(files, spec);
  const progress = await IngestProgress.of(run, files);
  const plans = files.map((file, index) => planFile(file, index, spec.schema));

  await ensureFolder(run, prefix);
  const staging = join(prefix, `.staging-${randomUUID()}`);
  run.onFailure(() => rm(staging, { recursive: true, force: true }));
  await mkdir(staging, { recursive: true, mode: PRIVATE_FOLDER_MODE });
  const named = spec.schema.features.map((feature, i) => `__p${i} AS ${ident(feature.name)}`);
  const part = (plan: PlannedFile) => `part-${plan.index}.parquet`;

  progress.start();
  // RETURN_STATS: the writer's own count, nulls, min and max per column, so that the
  // statistics need not scan for them again.
  const written = await writeTypedRows(
    run,
    plans,
    (plan) =>
      `COPY (SELECT ${named.join(', ')} FROM (${typedRowsSql(plan)})) ` +
      `TO ${literal(join(staging, part(plan)))} (${PARQUET_OPTIONS}, RETURN_STATS)`,
    progress,
  );
  const total = written.reduce((sum, part) => sum + part.rows, 0);
  if (total === 0) {
    const names = files.map((file) => file.name).join(', ');
    throw new ValidationError(`${names}: the source has no rows, only a header: add rows`, {
      details: { files: files.map((file) => file.uri) },
    });
  }
  // A file with a header only adds no part.
  const kept = plans.flatMap((plan, i) =>
    (written[i]?.rows ?? 0) > 0 ? [{ name: part(plan), written: written[i]! }] : [],
  );
  const parts = kept.map(({ name }) => name);

  progress.statistics(0, total);
  const { rowCount, statistics } = await computeStatistics(
    run,
    parts.map((name) => join(staging, name)),
    spec.schema,
    spec.statistics,
    kept.map((k) => k.written),
  );

  run.throwIfCancelled();
  // Parts of an earlier, failed attempt at the same prefix would otherwise mix in.
  for (const stale of await partFiles(prefix)) await rm(join(prefix, stale), { force: true });
  for (const name of parts) {
    // COPY creates files with the process umask: data files are the owner's alone.
    await chmod(join(staging, name), PRIVATE_FILE_MODE);
    await rename(join(staging, name), join(prefix, name));
    run.onFailure(() => rm(join(prefix, name), { force: true }));
  }
  await rm(staging, { recursive: true, force: true });
  progress.statistics(1, rowCount);
  return {
    rowCount,
    files: parts.map((name) => joinUri(spec.outputPrefix, name)),
    statistics,
  };
}
