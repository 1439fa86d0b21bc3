import { stat } from 'node:fs/promises';
import { type DataFormat, ValidationError } from '@featurestore/core/driver';
import { shownName } from './column-names.js';
import { isGzip } from './compressed-files.js';
import { readCsvHeader } from './csv-header.js';
import type { KnownFile } from './duckdb-errors.js';
import { CSV_BUFFER_BYTES, MAX_COLUMNS, MAX_LINE_BYTES } from './input-limits.js';
import type { JobRun } from './job-run.js';
import { checkJsonLimits } from './json-limits.js';
import { displayName, fileLiteral, localPath } from './local-paths.js';
import type { RawKind } from './parse-values.js';
import { literal } from './sql.js';

export { columnList } from './column-names.js';

/*
 * How each input format is opened in DuckDB, one file at a time. `from` reads it `WITH
 * ORDINALITY`, so `__ord` is the 1-based row within the file (CSV: data rows, the header
 * excluded; JSON: records) and rows keep file order; numbering rows in order makes DuckDB read
 * on one thread, so `scan` (the same columns, no `__ord`) is there for passes that do not need
 * row numbers and read in parallel.
 */

export interface SourceColumn {
  name: string;
  /** The DuckDB type of the column as read: VARCHAR for CSV and JSON lines. */
  sqlType: string;
}

/** One source column as SQL over the file's FROM item. */
export interface RawColumn {
  raw: string;
  kind: RawKind;
  /** The value as users would recognise it, for messages (VARCHAR). */
  display: string;
  /** `display` is JSON text already (JSON lines), not to be quoted again. */
  displayIsJson?: boolean;
  /** True when a JSON value is an object or array where a scalar belongs. */
  nested?: string;
}

export interface SourceFile extends KnownFile {
  format: DataFormat;
  columns: SourceColumn[];
  /** A FROM item over the file exposing `__ord`. */
  from: string;
  /** A FROM item over the file with the same columns as `from` but no `__ord`. */
  scan: string;
  /** What a row number counts, for messages. */
  rowsAre: string;
  /** True for a JSON line that is not an object. */
  badRecord?: string;
  column(name: string): RawColumn;
}

const CSV_DIALECT = `delim = ',', quote = '"', escape = '"', encoding = 'utf-8'`;

/** Fails with a `ValidationError` unless the URI names an existing, non-empty file. */
export async function existingFile(uri: string, role = 'source'): Promise<KnownFile> {
  const path = localPath(uri);
  const name = displayName(uri);
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') {
      throw new ValidationError(`${role} ${name} does not exist (${uri}): check the path`, {
        details: { file: uri },
      });
    }
    throw error;
  });
  if (info.isDirectory()) {
    throw new ValidationError(`${role} ${name} is a folder (${uri}): list the files in it`, {
      details: { file: uri },
    });
  }
  if (info.size === 0) {
    throw new ValidationError(
      `${role} ${name} is empty (${uri}): it has no header and no rows; remove it or fill it`,
      { details: { file: uri } },
    );
  }
  return { path, uri, name };
}

async function csvHeader(file: KnownFile, gzip: boolean): Promise<string[]> {
  const names = await readCsvHeader(file, gzip);
  const seen = new Set<string>();
  names.forEach((name, i) => {
    if (name.trim() === '') {
      throw new ValidationError(
        `${file.name} header: column ${i + 1} has no name: name every column in the first line`,
        { details: { file: file.uri, position: i + 1 } },
      );
    }
    if (seen.has(name)) {
      throw new ValidationError(
        `${file.name} header names column ${shownName(name)} twice: column names must be unique`,
        { details: { file: file.uri, position: i + 1 } },
      );
    }
    seen.add(name);
  });
  return names;
}

/** Fails before any SQL is built from a file with more columns than MAX_COLUMNS. */
function checkColumnCount(file: KnownFile, count: number, what: string): void {
  if (count > MAX_COLUMNS) {
    throw new ValidationError(
      `${file.name} has ${count.toLocaleString('en-US')} ${what}, more than ${MAX_COLUMNS.toLocaleString('en-US')}, the limit for one file: split its columns over several files`,
      { details: { file: file.uri, columns: count, limit: MAX_COLUMNS } },
    );
  }
}

/**
 * The top-level column names of a Parquet file as written (footer only). DuckDB renames one
 * of two names that differ only in case (`AGE` becomes `AGE_1`), since its names are
 * case-insensitive: such a file is refused here, naming both, rather than reported later as
 * missing a column it has.
 */
async function checkParquetNames(run: JobRun, file: KnownFile): Promise<void> {
  const rows = await run.query(
    `SELECT name, num_children FROM parquet_schema(${fileLiteral(file.path)})`,
  );
  const [root, ...nodes] = rows;
  const count = Number(root?.num_children ?? 0);
  checkColumnCount(file, count, 'columns');
  // The schema is a depth-first list: skip the descendants of each top-level column.
  const names: string[] = [];
  let skip = 0;
  for (const node of nodes) {
    if (skip > 0) {
      skip += Number(node.num_children ?? 0) - 1;
      continue;
    }
    names.push(String(node.name));
    skip = Number(node.num_children ?? 0);
  }
  const byCase = new Map<string, string>();
  for (const name of names) {
    const other = byCase.get(name.toLowerCase());
    if (other !== undefined) {
      throw new ValidationError(
        `${file.name} has two columns whose names differ only in case, ${shownName(other)} and ${shownName(name)}: column names are case-insensitive; rename or drop one of them`,
        { details: { file: file.uri, columns: [other, name] } },
      );
    }
    byCase.set(name.toLowerCase(), name);
  }
}

async function describe(run: JobRun, from: string): Promise<SourceColumn[]> {
  const rows = await run.query(`DESCRIBE SELECT * FROM ${from}`);
  return rows.map((row) => ({ name: String(row.column_name), sqlType: String(row.column_type) }));
}

async function jsonKeys(run: JobRun, from: string): Promise<SourceColumn[]> {
  const rows = await run.query(
    `SELECT k FROM (SELECT __ord, unnest(json_keys(__json)) AS k, ` +
      `unnest(range(len(json_keys(__json)))) AS i FROM ${from} WHERE json_type(__json) = 'OBJECT') ` +
      'GROUP BY k ORDER BY min(__ord), min(i)',
  );
  return rows.map((row) => ({ name: String(row.k), sqlType: 'VARCHAR' }));
}

function positional(columns: SourceColumn[], ordinal = true): string {
  return [...columns.map((_, i) => `__c${i}`), ...(ordinal ? ['__ord'] : [])].join(', ');
}

/**
 * Opens one file for reading: checks it exists and is within the limits (input-limits.ts),
 * finds its columns, and builds its FROM item. CSV and JSON lines may be gzip-compressed.
 * JSON lines are read as text per value (exact numbers, strict parsing), entity files as well:
 * DuckDB's typed JSON reader recurses once per nesting level and crashed on deep files.
 */
export async function openSource(
  run: JobRun,
  uri: string,
  format: DataFormat,
  options: { role?: string } = {},
): Promise<SourceFile> {
  const file = await existingFile(uri, options.role);
  run.knowFile(file);
  const path = fileLiteral(file.path);
  const base = { ...file, format };
  const gzip = await isGzip(file.path);
  const byPosition = (columns: SourceColumn[], kind: 'text' | 'native') => {
    const index = new Map(columns.map((column, i) => [column.name, i]));
    return (name: string): RawColumn => {
      const i = index.get(name);
      if (i === undefined) throw new Error(`no column ${name} in ${file.name}`);
      const raw = `__c${i}`;
      const sqlType = columns[i]!.sqlType;
      return {
        raw,
        kind: kind === 'text' ? { kind: 'text' } : { kind: 'native', sqlType },
        display: sqlType === 'VARCHAR' ? raw : `CAST(${raw} AS VARCHAR)`,
      };
    };
  };

  if (format === 'csv') {
    const names = await csvHeader(file, gzip);
    const columns = names.map((name) => ({ name, sqlType: 'VARCHAR' }));
    const spec = columns.map((_, i) => `'__c${i}': 'VARCHAR'`).join(', ');
    const read =
      `read_csv(${path}, header = true, auto_detect = false, columns = {${spec}}, ${CSV_DIALECT}, ` +
      `strict_mode = true, null_padding = false, allow_quoted_nulls = false, nullstr = '', ` +
      `max_line_size = ${MAX_LINE_BYTES}, buffer_size = ${CSV_BUFFER_BYTES}, compression = '${gzip ? 'gzip' : 'none'}')`;
    return {
      ...base,
      columns,
      from: `${read} WITH ORDINALITY AS __src(${positional(columns)})`,
      scan: `${read} AS __src(${positional(columns, false)})`,
      rowsAre: 'data rows counted from 1, the header excluded',
      column: byPosition(columns, 'text'),
    };
  }

  if (format === 'parquet') {
    if (gzip) {
      throw new ValidationError(
        `${file.name} is gzip-compressed, not a Parquet file: Parquet compresses inside the file; decompress it (gunzip) and ingest the .parquet file`,
        { details: { file: file.uri } },
      );
    }
    await checkParquetNames(run, file);
    const plain = `read_parquet(${path})`;
    const columns = await describe(run, plain);
    return {
      ...base,
      columns,
      from: `${plain} WITH ORDINALITY AS __src(${positional(columns)})`,
      scan: `${plain} AS __src(${positional(columns, false)})`,
      rowsAre: 'rows counted from 1',
      column: byPosition(columns, 'native'),
    };
  }

  await checkJsonLimits(file, gzip);
  const objects =
    `read_json_objects(${path}, format = 'newline_delimited', ` +
    `maximum_object_size = ${MAX_LINE_BYTES}, compression = '${gzip ? 'gzip' : 'uncompressed'}')`;
  const from = `${objects} WITH ORDINALITY AS __src(__json, __ord)`;
  const columns = await jsonKeys(run, from);
  checkColumnCount(file, columns.length, 'distinct keys');
  return {
    ...base,
    columns,
    from,
    scan: `${objects} AS __src(__json)`,
    rowsAre: 'JSON records counted from 1',
    badRecord: `json_type(__json) <> 'OBJECT'`,
    column: (name) => ({
      raw: `(__json ->> ${literal(name)})`,
      kind: { kind: 'text' },
      display: `CAST(__json -> ${literal(name)} AS VARCHAR)`,
      displayIsJson: true,
      nested: `coalesce(json_type(__json -> ${literal(name)}) IN ('OBJECT', 'ARRAY'), false)`,
    }),
  };
}
