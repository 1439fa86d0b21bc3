import {
  type FeatureType,
  type InferredFeature,
  type InferSchemaJobResult,
  type InferSchemaJobSpec,
  ValidationError,
} from '@featurestore/core/driver';
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
 * Schema inference. The kinds of the values (JSON kinds; for Parquet the column types, read
 * without rows) tell the types to try per column, narrowest first (`type-candidates.ts`);
 * ingestion's own strict parsers (`parse-values.ts`) then try them on every value, and each
 * column keeps the first type that accepts all of its values. So ingesting the same files
 * with the inferred types succeeds. How the passes over the data are arranged to stay close
 * to the cost of one read: `runInferSchema`.
 */

/** What a pass found for one type tried on one column. */
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

/** A text column's value as JSON text (NULL when absent), as SQL over `__r<i>`/`__d<i>`. */
function jsonTextSql(raw: RawColumn, i: number): string {
  return raw.displayIsJson ? `__d${i}` : `NULLIF(trim(__r${i}), '')`;
}

/** The kind of a text column's value (a JSON kind; CSV: `ARRAY` or `VARCHAR`), as SQL. */
function kindSql(raw: RawColumn, i: number): string {
  const json = jsonTextSql(raw, i);
  if (raw.displayIsJson) return `json_type(${json})`;
  // The prefix test first: json_valid costs as much as reading the value.
  return (
    `CASE WHEN ${json} IS NULL THEN NULL WHEN starts_with(${json}, '[') AND json_valid(${json}) ` +
    `AND json_type(${json}) = 'ARRAY' THEN 'ARRAY' ELSE 'VARCHAR' END`
  );
}

/** What one pass over one file (or its first rows) found. */
interface Scan {
  rows: number;
  /** Per column: the kinds of the values (text formats, when asked for). */
  profiles: TextProfile[] | undefined;
  /** Per column: the values present (not absent or blank). */
  present: number[];
  /** Per column: one per type tried, in the order given. */
  trials: Trial[][];
}

interface ScanOptions {
  /** Only the first rows of each file. */
  limit?: number;
  /**
   * The kinds of the values of text columns, and of the elements of their arrays where
   * `elements[i]` is set (only list columns need them: JSON has to be parsed for them).
   */
  profile?: { elements: readonly boolean[] };
}

/**
 * One pass over one file, or its first `limit` rows: the kinds of the values per column when
 * `profile` is set, and per column each type of `tries`: the values it refuses and its nulls.
 * A JSON line that is not an object fails as it would in ingestion.
 */
async function scanFile(
  run: JobRun,
  file: SourceFile,
  names: readonly string[],
  tries: readonly (readonly FeatureType[])[],
  options: ScanOptions,
): Promise<Scan> {
  const raws: string[] = [];
  const derived: string[] = [];
  const elements: string[] = [];
  const aggregates = ['count(*) AS __rows'];
  if (file.badRecord) {
    raws.push(`${file.badRecord} AS __bad`);
    aggregates.push('count(*) FILTER (WHERE __bad) AS __bad_records');
  }
  names.forEach((name, i) => {
    const raw = file.column(name);
    raws.push(`${raw.raw} AS __r${i}`, `${raw.display} AS __d${i}`);
    const blankIsAbsent = raw.kind.kind === 'text' || raw.kind.sqlType === 'VARCHAR';
    aggregates.push(`count(${blankIsAbsent ? `NULLIF(trim(__r${i}), '')` : `__r${i}`}) AS __p${i}`);
    if (options.profile && raw.kind.kind === 'text') {
      const withElements = options.profile.elements[i] === true;
      derived.push(`${kindSql(raw, i)} AS __k${i}`);
      if (withElements) {
        elements.push(
          `CASE WHEN __k${i} = 'ARRAY' THEN list_transform(json_extract(${jsonTextSql(raw, i)}, '$[*]'), lambda __e: json_type(__e)) END AS __e${i}`,
        );
      }
      JSON_KINDS.forEach((kind, k) => {
        // A CSV value is text or an array.
        if (raw.displayIsJson || kind === 'VARCHAR' || kind === 'ARRAY') {
          aggregates.push(`count(*) FILTER (WHERE __k${i} = ${literal(kind)}) AS __k${i}_${k}`);
        }
        if (withElements) {
          aggregates.push(
            `coalesce(bool_or(list_contains(__e${i}, ${literal(kind)})), false) AS __e${i}_${k}`,
          );
        }
      });
    }
    tries[i]!.forEach((type, j) => {
      const parser = columnParser(type, raw.kind);
      if (!parser) {
        aggregates.push(
          `count(*) AS __b${i}_${j}`,
          `NULL AS __s${i}_${j}`,
          `count(*) AS __n${i}_${j}`,
        );
        return;
      }
      derived.push(`${parser.value(`__r${i}`)} AS __v${i}_${j}`);
      const kept = keptFrom(type, { ...raw, raw: `__r${i}` });
      const refused = `(${parser.problem(`__r${i}`, `__v${i}_${j}`)}${kept ? ` OR ${kept}` : ''})`;
      aggregates.push(
        `count(*) FILTER (WHERE ${refused}) AS __b${i}_${j}`,
        `any_value(__d${i}) FILTER (WHERE ${refused}) AS __s${i}_${j}`,
        `count(*) FILTER (WHERE __v${i}_${j} IS NULL) AS __n${i}_${j}`,
      );
    });
  });
  const limit = options.limit === undefined ? '' : ` LIMIT ${options.limit}`;
  const select = (extra: string[]) => (extra.length === 0 ? '*' : `*, ${extra.join(', ')}`);
  const [row = {}] = await run.query(
    `SELECT ${aggregates.join(', ')} FROM (SELECT ${select(elements)} FROM (SELECT ${select(derived)} ` +
      `FROM (SELECT ${raws.join(', ')} FROM ${file.scan}${limit})))`,
  );
  if (Number(row.__bad_records ?? 0) > 0) {
    const [first] = await run.query(
      `SELECT min(__ord) AS line FROM ${file.from} WHERE ${file.badRecord}`,
    );
    const line = Number(first?.line);
    throw new ValidationError(
      `${file.name} row ${line} (${file.rowsAre}): the record is not a JSON object: write one object per line`,
      { details: { file: file.uri, row: line } },
    );
  }
  return {
    rows: Number(row.__rows ?? 0),
    profiles: options.profile
      ? names.map((_, i) => ({
          kinds: Object.fromEntries(
            JSON_KINDS.map((kind, k) => [kind, Number(row[`__k${i}_${k}`] ?? 0)]),
          ),
          elementKinds: new Set(JSON_KINDS.filter((_, k) => row[`__e${i}_${k}`] === true)),
        }))
      : undefined,
    present: names.map((_, i) => Number(row[`__p${i}`] ?? 0)),
    trials: tries.map((types, i) =>
      types.map((type, j) => ({
        type,
        refused: Number(row[`__b${i}_${j}`] ?? 0),
        sample: sampleOf(row, `__s${i}_${j}`),
        nulls: Number(row[`__n${i}_${j}`] ?? 0),
      })),
    ),
  };
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

/** The same pass over every file, added up. */
async function scanFiles(
  run: JobRun,
  files: readonly SourceFile[],
  names: readonly string[],
  tries: readonly (readonly FeatureType[])[],
  options: ScanOptions,
): Promise<Scan> {
  let total: Scan | undefined;
  for (const file of files) {
    const scan = await scanFile(run, file, names, tries, options);
    total = total
      ? {
          rows: total.rows + scan.rows,
          profiles: total.profiles?.map((profile, i) =>
            mergeProfiles([profile, scan.profiles![i]!]),
          ),
          present: total.present.map((count, i) => count + scan.present[i]!),
          trials: total.trials.map((column, i) => mergeTrials(column, scan.trials[i]!)),
        }
      : scan;
  }
  return total!;
}

/** The row (and value) where a JSON column first holds what no type holds, for the message. */
async function unholdableError(
  run: JobRun,
  files: readonly SourceFile[],
  name: string,
  { problem }: Unholdable,
): Promise<ValidationError> {
  const where = async (file: SourceFile, condition: (json: string) => string) => {
    const raw = file.column(name);
    const json = raw.displayIsJson ? raw.display : `NULLIF(trim(${raw.raw}), '')`;
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

/**
 * The types to try per column: for Parquet from the column types, for text formats from the
 * kinds of the values (`profiles`, one per column).
 */
async function planColumns(
  run: JobRun,
  files: readonly SourceFile[],
  format: InferSchemaJobSpec['format'],
  profiles: readonly TextProfile[] | undefined,
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
  const plans: ColumnPlan[] = [];
  for (const [i, name] of names.entries()) {
    const profile = profiles![i]!;
    const candidates =
      format === 'csv' ? csvCandidates(name, profile) : jsonCandidates(name, profile);
    if ('problem' in candidates) throw await unholdableError(run, files, name, candidates);
    plans.push({ name, candidates });
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
    // `0` then a digit, after an optional sign; by character codes, cheaper than a pattern.
    const code = (at: number) => `ascii(substr(${text}, ${at}, 1))`;
    return (
      `coalesce((${code(1)} = 48 AND ${code(2)} BETWEEN 48 AND 57) OR ` +
      `(${code(1)} IN (43, 45) AND ${code(2)} = 48 AND ${code(3)} BETWEEN 48 AND 57), false)`
    );
  }
  return undefined;
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

/** Rows read first from each file to rule out types before reading everything. */
const SAMPLE_ROWS = 10_000;

/**
 * Which types of one column to try on every row next, from the rest of its plan: those that
 * accepted some of the first rows (a type that refused every value there refuses the
 * column; the last type is always kept, it may hold anything), up to and including the first
 * that accepted them all, the likely outcome. The narrower ones before it are tried in the
 * same pass for the notes. Types the first rows did not try all go in one pass.
 */
function nextTypes(
  rest: FeatureType[],
  sample: Trial[] | undefined,
  present: number,
): FeatureType[] {
  const batch: FeatureType[] = [];
  while (rest.length > 0) {
    const type = rest.shift()!;
    const trial = sample?.find((tried) => tried.type === type);
    if (trial && trial.refused > 0 && trial.refused >= present && rest.length > 0) continue;
    batch.push(type);
    // Without a trial on the first rows (a column they left empty), all go in one pass.
    if (trial && trial.refused === 0) break;
  }
  return batch;
}

/**
 * Infers a feature type per source column by ingestion's strict rules (see
 * `InferSchemaJobSpec`), and writes nothing. The first rows of each file tell the types to
 * try (trying every type on every row would cost several times an ingestion); then a pass
 * over every row finds the kinds of all values and tries, per column, the type the first rows
 * point to (with the narrower ones that fitted some of them). A column whose type refuses a
 * later value, or whose later values are of other kinds, takes another pass with the next
 * types: rare, since files are seldom typed differently at the end than at the start.
 */
export async function runInferSchema(
  run: JobRun,
  spec: InferSchemaJobSpec,
): Promise<InferSchemaJobResult> {
  run.progress(0, 'reading the source headers');
  const files: SourceFile[] = [];
  for (const uri of spec.sources) files.push(await openSource(run, uri, spec.format));
  checkSameColumns(files);
  const names = files[0]!.columns.map((column) => column.name);
  if (names.length === 0) {
    throw new ValidationError(`${files[0]!.name} has no columns: nothing to infer`, {
      details: { file: files[0]!.uri },
    });
  }
  const text = spec.format !== 'parquet';
  const every = names.map(() => true);

  run.progress(0.05, `reading the first ${SAMPLE_ROWS} rows of ${files.length} file(s)`);
  let sample: Scan | undefined;
  let plans: ColumnPlan[];
  if (text) {
    const first = { limit: SAMPLE_ROWS, profile: { elements: every } };
    const kinds = await scanFiles(
      run,
      files,
      names,
      names.map(() => []),
      first,
    );
    plans = await planColumns(run, files, spec.format, kinds.profiles);
    const types = plans.map((plan) => plan.candidates.types);
    sample = await scanFiles(run, files, names, types, { limit: SAMPLE_ROWS });
  } else {
    plans = await planColumns(run, files, spec.format, undefined);
  }

  run.progress(0.2, 'trying the types on every row');
  const rest = plans.map((plan) => [...plan.candidates.types]);
  const tried: Trial[][] = names.map(() => []);
  const done = names.map(() => false);
  const batchOf = (i: number) => nextTypes(rest[i]!, sample?.trials[i], sample?.present[i] ?? 0);
  // Element kinds where a list is possible: list columns, and columns the first rows left empty.
  const elements = plans.map(
    ({ candidates }, i) => candidates.types.some(isList) || (sample?.present[i] ?? 0) === 0,
  );
  const full = await scanFiles(
    run,
    files,
    names,
    names.map((_, i) => batchOf(i)),
    {
      ...(text ? { profile: { elements } } : {}),
    },
  );
  if (full.rows === 0) {
    throw new ValidationError(
      `${files.map((file) => file.name).join(', ')}: the source has no rows, only a header: types are inferred from the values; add rows`,
      { details: { files: files.map((file) => file.uri) } },
    );
  }
  names.forEach((_, i) => {
    tried[i]!.push(...full.trials[i]!);
  });
  if (text) {
    // The kinds of all values decide the plan; a column planned otherwise starts again.
    const all = await planColumns(run, files, spec.format, full.profiles);
    all.forEach((plan, i) => {
      if (plan.candidates.types.join() === plans[i]!.candidates.types.join()) return;
      plans[i] = plan;
      rest[i] = [...plan.candidates.types];
      tried[i] = [];
    });
  }
  for (;;) {
    names.forEach((_, i) => {
      done[i] = tried[i]!.some((trial) => trial.refused === 0) || rest[i]!.length === 0;
    });
    if (done.every(Boolean)) break;
    run.progress(0.6, 'trying the next types on every row');
    const batch = names.map((_, i) => (done[i] ? [] : batchOf(i)));
    const again = await scanFiles(run, files, names, batch, {});
    names.forEach((_, i) => {
      tried[i]!.push(...again.trials[i]!);
    });
  }

  const notes: string[] = [];
  const json = spec.format === 'json';
  const features = plans.map((plan, i) => choose(plan, tried[i]!, full.present[i]!, json, notes));
  run.progress(1, `inferred ${features.length} column types from ${full.rows} rows`);
  return { features, rowCount: full.rows, notes };
}
