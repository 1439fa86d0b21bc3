import {
  type FeatureType,
  type InferredFeature,
  type InferSchemaJobResult,
  type InferSchemaJobSpec,
  ValidationError,
} from '@featurestore/core';
import { isList } from './column-types.js';
import type { JobRun, Row } from './job-run.js';
import { columnParser, typeHint } from './parse-values.js';
import { columnList, openSource, type RawColumn, type SourceFile } from './sources.js';
import { literal } from './sql.js';
import {
  type Candidates,
  csvCandidates,
  JSON_KINDS,
  type JsonKind,
  jsonCandidates,
  parquetCandidates,
  type TextProfile,
  type Unholdable,
} from './type-candidates.js';

/*
 * Schema inference in two passes over every row: the first finds the kinds of the values
 * (JSON kinds, or the Parquet column types without reading rows) and from them the types to
 * try per column; the second runs ingestion's own strict parsers for those types
 * (`parse-values.ts`) and keeps, per column, the first that accepts every value. So
 * ingesting the same files with the inferred types succeeds.
 */

/** What the second pass found for one candidate type of one column. */
interface Trial {
  type: FeatureType;
  /** Values the type's parser refuses (or that the inference rules keep from it). */
  refused: number;
  /** One refused value, as users would recognise it. */
  sample: string | undefined;
  /** Rows without a value of the type (absent, or refused). */
  nulls: number;
}

interface ColumnPlan {
  name: string;
  candidates: Candidates;
}

/** Text values with a leading zero before another digit: `007`, `-01.5`. */
const LEADING_ZERO = `'^[+-]?0[0-9]'`;

/** Files of one source with the same columns, or a `ValidationError` naming two that differ. */
function checkSameColumns(files: readonly SourceFile[]): void {
  const [first] = files;
  if (!first) {
    throw new ValidationError('the inference names no source files: give at least one', {
      details: { field: 'sources' },
    });
  }
  const names = (file: SourceFile) => new Set(file.columns.map((column) => column.name));
  const firstNames = names(first);
  for (const file of files.slice(1)) {
    const other = names(file);
    if (other.size !== firstNames.size || ![...other].every((name) => firstNames.has(name))) {
      throw new ValidationError(
        `${first.name} and ${file.name} have different columns (${first.name}: ${columnList(first.columns)}; ` +
          `${file.name}: ${columnList(file.columns)}): the files of one source need the same columns; infer from one of them or fix the odd file`,
        { details: { files: [first.uri, file.uri] } },
      );
    }
  }
}

/** A text column's value as JSON text (NULL when absent) and its kind, as SQL. */
function textValueSql(raw: RawColumn): { json: string; kind: string } {
  if (raw.displayIsJson) return { json: raw.display, kind: `json_type(${raw.display})` };
  const text = `NULLIF(trim(${raw.raw}), '')`;
  return {
    json: text,
    kind:
      `CASE WHEN ${text} IS NULL THEN NULL ` +
      `WHEN json_valid(${text}) AND json_type(${text}) = 'ARRAY' THEN 'ARRAY' ELSE 'VARCHAR' END`,
  };
}

/** The first pass over a text file: value kinds and element kinds per column. */
async function profileTextFile(run: JobRun, file: SourceFile): Promise<TextProfile[]> {
  const inner: string[] = [];
  const aggregates: string[] = [];
  file.columns.forEach((column, i) => {
    const { json, kind } = textValueSql(file.column(column.name));
    inner.push(
      `${kind} AS k${i}`,
      `CASE WHEN ${kind} = 'ARRAY' THEN list_transform(json_extract(${json}, '$[*]'), lambda __e: json_type(__e)) END AS e${i}`,
    );
    JSON_KINDS.forEach((k, j) => {
      aggregates.push(
        `count(*) FILTER (WHERE k${i} = ${literal(k)}) AS k${i}_${j}`,
        `coalesce(bool_or(list_contains(e${i}, ${literal(k)})), false) AS e${i}_${j}`,
      );
    });
  });
  if (file.badRecord) {
    inner.push(`${file.badRecord} AS __bad_record`);
    aggregates.push('count(*) FILTER (WHERE __bad_record) AS bad_records');
  }
  const [row = {}] = await run.query(
    `SELECT ${aggregates.join(', ')} FROM (SELECT ${inner.join(', ')} FROM ${file.scan})`,
  );
  if (Number(row.bad_records ?? 0) > 0) {
    const [first] = await run.query(
      `SELECT min(__ord) AS line FROM ${file.from} WHERE ${file.badRecord}`,
    );
    const line = Number(first?.line);
    throw new ValidationError(
      `${file.name} row ${line} (${file.rowsAre}): the record is not a JSON object: write one object per line`,
      { details: { file: file.uri, row: line } },
    );
  }
  return file.columns.map((_, i) => ({
    kinds: Object.fromEntries(JSON_KINDS.map((k, j) => [k, Number(row[`k${i}_${j}`] ?? 0)])),
    elementKinds: new Set(JSON_KINDS.filter((_, j) => row[`e${i}_${j}`] === true)),
  }));
}

function mergeProfiles(profiles: readonly TextProfile[]): TextProfile {
  const kinds: Partial<Record<JsonKind, number>> = {};
  const elementKinds = new Set<JsonKind>();
  for (const profile of profiles) {
    for (const kind of JSON_KINDS) kinds[kind] = (kinds[kind] ?? 0) + (profile.kinds[kind] ?? 0);
    for (const kind of profile.elementKinds) elementKinds.add(kind);
  }
  return { kinds, elementKinds };
}

/** The row (and value) where a JSON column first holds what no type holds, for the message. */
async function unholdableError(
  run: JobRun,
  files: readonly SourceFile[],
  name: string,
  { problem }: Unholdable,
): Promise<ValidationError> {
  const where = async (file: SourceFile, condition: (json: string) => string) => {
    const { json } = textValueSql(file.column(name));
    const [row] = await run.query(
      `SELECT min(__ord) AS line, arg_min(${json}, __ord) AS value FROM ${file.from} WHERE ${condition(json)}`,
    );
    return row?.line === null || row?.line === undefined
      ? undefined
      : { line: Number(row.line), value: String(row.value) };
  };
  const first = async (condition: (json: string) => string) => {
    for (const file of files) {
      const found = await where(file, condition);
      if (found) return { file, ...found };
    }
    return undefined;
  };
  const details = (file: SourceFile, line: number) => ({ file: file.uri, row: line, column: name });
  if (problem === 'mixed-array') {
    const array = await first((json) => `json_type(${json}) = 'ARRAY'`);
    const single = await first((json) => `json_type(${json}) NOT IN ('ARRAY', 'NULL')`);
    const at = (found: typeof array) => (found ? `${found.file.name} row ${found.line}` : '?');
    return new ValidationError(
      `column "${name}" holds both arrays (first at ${at(array)}: ${array?.value}) and single values ` +
        `(first at ${at(single)}: ${single?.value}), which no feature type holds together: write every value of the column as an array, or none`,
      { details: { column: name, ...(array ? { file: array.file.uri, row: array.line } : {}) } },
    );
  }
  const found =
    problem === 'object'
      ? await first((json) => `json_type(${json}) = 'OBJECT'`)
      : await first(
          (json) =>
            `json_type(${json}) = 'ARRAY' AND len(list_filter(list_transform(json_extract(${json}, '$[*]'), lambda __e: json_type(__e)), lambda __k: __k IN ('ARRAY', 'OBJECT'))) > 0`,
        );
  const what =
    problem === 'object'
      ? 'is a JSON object, which no feature type holds: flatten it into columns of their own, or leave the column out of the file'
      : 'is a list of lists or objects, which no feature type holds: lists hold single values (list<string>, list<int64>…)';
  if (!found) {
    return new ValidationError(`column "${name}": a value ${what}`, { details: { column: name } });
  }
  return new ValidationError(
    `${found.file.name} row ${found.line} (${found.file.rowsAre}), column "${name}": ${found.value} ${what}`,
    { details: { ...details(found.file, found.line), value: found.value } },
  );
}

/** The types to try per column, from the first pass. */
async function planColumns(
  run: JobRun,
  files: readonly SourceFile[],
  format: InferSchemaJobSpec['format'],
): Promise<ColumnPlan[]> {
  const names = files[0]!.columns.map((column) => column.name);
  if (format === 'parquet') {
    return names.map((name) => {
      let plan: Candidates | undefined;
      for (const file of files) {
        const sqlType = file.columns.find((column) => column.name === name)!.sqlType;
        const found = parquetCandidates(name, sqlType);
        if (!found) {
          throw new ValidationError(
            `${file.name} column "${name}" has type ${sqlType}, which no feature type holds: write it as a boolean, number, string, binary, date, timestamp or a list of those, or leave it out of the file`,
            { details: { file: file.uri, column: name, found: sqlType } },
          );
        }
        // Files typed differently: the types that fit all of them, narrowest first.
        plan = plan
          ? {
              types: plan.types.filter((type) => found.types.includes(type)),
              notes: [...new Set([...plan.notes, ...found.notes])],
            }
          : found;
        if (plan.types.length === 0) {
          throw new ValidationError(
            `column "${name}" has type ${sqlType} in ${file.name} and a type no feature type shares with it in ${files[0]!.name}: write the column with one type in every file`,
            { details: { file: file.uri, column: name, found: sqlType } },
          );
        }
      }
      return { name, candidates: plan! };
    });
  }
  const perFile: TextProfile[][] = [];
  for (const file of files) perFile.push(await profileTextFile(run, file));
  const plans: ColumnPlan[] = [];
  for (const [i, name] of names.entries()) {
    const profile = mergeProfiles(
      perFile.map((profiles, f) => {
        const index = files[f]!.columns.findIndex((column) => column.name === name);
        return profiles[index]!;
      }),
    );
    const candidates =
      format === 'csv' ? csvCandidates(name, profile) : jsonCandidates(name, profile);
    if ('problem' in candidates) throw await unholdableError(run, files, name, candidates);
    plans[i] = { name, candidates };
  }
  return plans;
}

/**
 * What the inference rules keep from a type on top of its parser, as SQL over the value's
 * trimmed text: `yes`, `1` or `t` are booleans to DuckDB but not to a reader, and a number
 * with leading zeros (a zip code, an account number) would lose them.
 */
function keptFrom(type: FeatureType, raw: RawColumn): string | undefined {
  if (raw.kind.kind !== 'text' || raw.displayIsJson) return undefined;
  const text = `NULLIF(trim(${raw.raw}), '')`;
  if (type === 'bool') return `(${text} IS NOT NULL AND lower(${text}) NOT IN ('true', 'false'))`;
  if (type === 'int64' || type === 'float64') {
    return `coalesce(regexp_matches(${text}, ${LEADING_ZERO}), false)`;
  }
  return undefined;
}

/** The second pass over one file: each candidate's refusals and nulls, and the row count. */
async function tryTypes(
  run: JobRun,
  file: SourceFile,
  plans: readonly ColumnPlan[],
): Promise<{ rows: number; present: number[]; trials: Trial[][] }> {
  const raws: string[] = [];
  const values: string[] = [];
  const aggregates = ['count(*) AS __rows'];
  plans.forEach((plan, i) => {
    const raw = file.column(plan.name);
    const present =
      raw.kind.kind === 'text' || raw.kind.sqlType === 'VARCHAR'
        ? `NULLIF(trim(__r${i}), '')`
        : `__r${i}`;
    raws.push(`${raw.raw} AS __r${i}`, `${raw.display} AS __d${i}`);
    aggregates.push(`count(${present}) AS present${i}`);
    plan.candidates.types.forEach((type, j) => {
      const parser = columnParser(type, raw.kind);
      if (!parser) {
        aggregates.push(`count(*) AS b${i}_${j}`, `NULL AS s${i}_${j}`, `count(*) AS n${i}_${j}`);
        return;
      }
      values.push(`${parser.value(`__r${i}`)} AS __v${i}_${j}`);
      const kept = keptFrom(type, { ...raw, raw: `__r${i}` });
      const refused = `(${parser.problem(`__r${i}`, `__v${i}_${j}`)}${kept ? ` OR ${kept}` : ''})`;
      aggregates.push(
        `count(*) FILTER (WHERE ${refused}) AS b${i}_${j}`,
        `any_value(__d${i}) FILTER (WHERE ${refused}) AS s${i}_${j}`,
        `count(*) FILTER (WHERE __v${i}_${j} IS NULL) AS n${i}_${j}`,
      );
    });
  });
  const typed = values.length === 0 ? '*' : `*, ${values.join(', ')}`;
  const [row = {}] = await run.query(
    `SELECT ${aggregates.join(', ')} FROM (SELECT ${typed} FROM (SELECT ${raws.join(', ')} FROM ${file.scan}))`,
  );
  return {
    rows: Number(row.__rows ?? 0),
    present: plans.map((_, i) => Number(row[`present${i}`] ?? 0)),
    trials: plans.map((plan, i) =>
      plan.candidates.types.map((type, j) => ({
        type,
        refused: Number(row[`b${i}_${j}`] ?? 0),
        sample: sampleOf(row, `s${i}_${j}`),
        nulls: Number(row[`n${i}_${j}`] ?? 0),
      })),
    ),
  };
}

function sampleOf(row: Row, key: string): string | undefined {
  const value = row[key];
  return value === null || value === undefined ? undefined : String(value);
}

function mergeTrials(a: Trial[], b: Trial[]): Trial[] {
  return a.map((trial, j) => ({
    type: trial.type,
    refused: trial.refused + b[j]!.refused,
    sample: trial.sample ?? b[j]!.sample,
    nulls: trial.nulls + b[j]!.nulls,
  }));
}

/** An integer column with a value beyond int64 is worth a note; one with decimals is not. */
function widens(trial: Trial, to: FeatureType): boolean {
  if (trial.type === 'date' && to === 'timestamp') return true;
  return (
    trial.type === 'int64' && to === 'float64' && !/^\s*[+-]?[0-9]+\s*$/.test(trial.sample ?? '')
  );
}

const quoted = (sample: string, json: boolean) => (json ? sample : JSON.stringify(sample));

/** Why a value kept a column from a narrower type, for the notes. */
function whyNot(trial: Trial, json: boolean): string {
  const sample = trial.sample === undefined ? 'some values' : quoted(trial.sample, json);
  if (trial.sample !== undefined && /^\s*[+-]?0[0-9]/.test(trial.sample) && !json) {
    return `${sample} has a leading zero, which ${trial.type} would drop`;
  }
  if (trial.type === 'bool') return `${sample} is not true or false`;
  if (trial.type === 'int64' && /^\s*[+-]?[0-9]+\s*$/.test(trial.sample ?? '')) {
    return `${sample} is beyond the range of int64 (float64 keeps about 15 significant digits: make the column a string if it holds identifiers)`;
  }
  return `${sample} does not parse as ${trial.type} (expected ${typeHint(trial.type)})`;
}

/**
 * The chosen type of one column: the first trial without refusals. A note when a narrower
 * type fitted some values but not all (the reviewer may want to fix those values instead).
 */
function choose(
  plan: ColumnPlan,
  trials: readonly Trial[],
  present: number,
  json: boolean,
  notes: string[],
): InferredFeature {
  const index = trials.findIndex((trial) => trial.refused === 0);
  const chosen = trials[index];
  if (!chosen) {
    const last = trials.at(-1);
    throw new ValidationError(
      `column "${plan.name}": no feature type holds every value (${last ? whyNot(last, json) : 'no type to try'}): fix the values, or leave the column out of the file`,
      { details: { column: plan.name, ...(last?.sample ? { value: last.sample } : {}) } },
    );
  }
  notes.push(...plan.candidates.notes);
  // The narrower type that refused the fewest values, unless the chosen one merely widens
  // it the expected way (ints and floats make float64; dates and times make timestamp).
  // Not for lists, where an empty list fits every list type.
  const near = trials
    .slice(0, index)
    .filter(
      (trial) => trial.refused < present && !isList(trial.type) && !widens(trial, chosen.type),
    )
    .sort((a, b) => a.refused - b.refused)[0];
  if (near) {
    notes.push(
      `column "${plan.name}" is inferred as ${chosen.type}, not ${near.type}: ${whyNot(near, json)}; values that do not fit: ${near.refused} of ${present}`,
    );
  }
  return { name: plan.name, type: chosen.type, nullable: chosen.nulls > 0 };
}

/**
 * Infers a feature type per source column by ingestion's strict rules (see
 * `InferSchemaJobSpec`): every row is read twice, and nothing is written.
 */
export async function runInferSchema(
  run: JobRun,
  spec: InferSchemaJobSpec,
): Promise<InferSchemaJobResult> {
  run.progress(0, 'reading the source headers');
  const files: SourceFile[] = [];
  for (const uri of spec.sources) files.push(await openSource(run, uri, spec.format));
  checkSameColumns(files);
  if (files[0]!.columns.length === 0) {
    throw new ValidationError(`${files[0]!.name} has no columns: nothing to infer`, {
      details: { file: files[0]!.uri },
    });
  }
  run.progress(0.1, `reading the kinds of values in ${files.length} file(s)`);
  const plans = await planColumns(run, files, spec.format);

  run.progress(0.5, 'trying the types on every value');
  let rowCount = 0;
  let present = plans.map(() => 0);
  let trials: Trial[][] | undefined;
  for (const file of files) {
    const tried = await tryTypes(run, file, plans);
    rowCount += tried.rows;
    present = present.map((count, i) => count + tried.present[i]!);
    trials = trials
      ? trials.map((column, i) => mergeTrials(column, tried.trials[i]!))
      : tried.trials;
  }
  if (rowCount === 0) {
    const names = files.map((file) => file.name).join(', ');
    throw new ValidationError(
      `${names}: the source has no rows, only a header: types are inferred from the values; add rows`,
      { details: { files: files.map((file) => file.uri) } },
    );
  }
  const notes: string[] = [];
  const json = spec.format === 'json';
  const features = plans.map((plan, i) => choose(plan, trials![i]!, present[i]!, json, notes));
  run.progress(1, `inferred ${features.length} column types from ${rowCount} rows`);
  return { features, rowCount, notes };
}
