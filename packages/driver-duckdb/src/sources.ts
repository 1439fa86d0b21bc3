import { open, stat } from 'node:fs/promises';
import { type DataFormat, ValidationError } from '@featurestore/core';
import type { KnownFile } from './duckdb-errors.js';
import type { JobRun } from './job-run.js';
import { displayName, localPath } from './local-paths.js';
import type { RawKind } from './parse-values.js';
import { literal } from './sql.js';

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
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

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

/**
 * An upper bound on the header's field count: commas in the first line, plus one. Quoted
 * commas only make it larger than needed; DuckDB parses the header itself.
 */
async function headerFieldBound(file: KnownFile): Promise<number> {
  const handle = await open(file.path, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    let commas = 0;
    for (let position = 0; position < MAX_HEADER_BYTES; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      for (let i = 0; i < bytesRead; i++) {
        if (buffer[i] === 0x0a) return commas + 1;
        if (buffer[i] === 0x2c) commas++;
      }
      position += bytesRead;
    }
    return commas + 1;
  } finally {
    await handle.close();
  }
}

async function csvHeader(run: JobRun, file: KnownFile): Promise<string[]> {
  const bound = await headerFieldBound(file);
  const columns = Array.from({ length: bound }, (_, i) => `${literal(`h${i}`)}: 'VARCHAR'`);
  // NULL only for fields the header lacks; an empty name stays '' and is reported.
  const [row] = await run.query(
    `SELECT * FROM read_csv(${literal(file.path)}, header = false, auto_detect = false, ` +
      `columns = {${columns.join(', ')}}, ${CSV_DIALECT}, strict_mode = false, ` +
      `null_padding = true, allow_quoted_nulls = false, nullstr = '\u0001') LIMIT 1`,
  );
  const names: string[] = [];
  for (let i = 0; i < bound; i++) {
    const value = row?.[`h${i}`];
    if (typeof value !== 'string') break;
    names.push(value);
  }
  if (names.length === 0) {
    throw new ValidationError(
      `${file.name} has no header line: the first line must name the columns`,
      {
        details: { file: file.uri },
      },
    );
  }
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
        `${file.name} header names column "${name}" twice: column names must be unique`,
        { details: { file: file.uri, column: name } },
      );
    }
    seen.add(name);
  });
  return names;
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
 * Opens one file for reading: checks it exists, finds its columns, and builds its FROM item.
 * JSON lines are read as text per value for ingestion (exact numbers, strict parsing) and
 * with DuckDB's typed reader for entity files (`typedJson`).
 */
export async function openSource(
  run: JobRun,
  uri: string,
  format: DataFormat,
  options: { role?: string; typedJson?: boolean } = {},
): Promise<SourceFile> {
  const file = await existingFile(uri, options.role);
  run.knowFile(file);
  const path = literal(file.path);
  const base = { ...file, format };
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
    const names = await csvHeader(run, file);
    const columns = names.map((name) => ({ name, sqlType: 'VARCHAR' }));
    const spec = columns.map((_, i) => `'__c${i}': 'VARCHAR'`).join(', ');
    const read =
      `read_csv(${path}, header = true, auto_detect = false, columns = {${spec}}, ${CSV_DIALECT}, ` +
      `strict_mode = true, null_padding = false, allow_quoted_nulls = false, nullstr = '')`;
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

  if (options.typedJson) {
    const plain = `read_json(${path}, format = 'newline_delimited')`;
    const columns = await describe(run, plain);
    return {
      ...base,
      columns,
      from: `${plain} WITH ORDINALITY AS __src(${positional(columns)})`,
      scan: `${plain} AS __src(${positional(columns, false)})`,
      rowsAre: 'JSON records counted from 1',
      column: byPosition(columns, 'native'),
    };
  }

  const objects = `read_json_objects(${path}, format = 'newline_delimited')`;
  const from = `${objects} WITH ORDINALITY AS __src(__json, __ord)`;
  const columns = await jsonKeys(run, from);
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

/** `"a", "b"` for messages. */
export function columnList(columns: readonly { name: string }[]): string {
  return columns.length === 0 ? '(none)' : columns.map((column) => `"${column.name}"`).join(', ');
}
