import { randomUUID } from 'node:crypto';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type DataFormat,
  type FeatureType,
  PRIVATE_FILE_MODE,
  PRIVATE_FOLDER_MODE,
} from '@featurestore/core/driver';
import { csvTextSql, jsonValueSql, nativeCsvTextSql } from './column-types.js';
import type { JobRun } from './job-run.js';
import { localPath } from './local-paths.js';
import { ident, literal } from './sql.js';

export const PARQUET_OPTIONS = 'FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880';
/** JSON Lines: one object per row, for readers that stream rows into code. */
const JSON_OPTIONS = 'FORMAT json';
const CSV_OPTIONS = `FORMAT csv, HEADER true, DELIMITER ',', QUOTE '"', ESCAPE '"', NULLSTR ''`;

/**
 * Creates a folder (and its parents, 0700: outputs hold feature data) and arranges for
 * whatever was created to go on failure.
 */
export async function ensureFolder(run: JobRun, path: string): Promise<void> {
  const created = await mkdir(path, { recursive: true, mode: PRIVATE_FOLDER_MODE });
  if (created !== undefined) {
    run.onFailure(() => rm(created, { recursive: true, force: true }));
  }
}

/** One output column: SQL, its name, and its feature type or native DuckDB type. */
export interface OutputColumn {
  sql: string;
  name: string;
  type?: FeatureType;
  /** The DuckDB type of a column passed through from a typed file (not text). */
  nativeType?: string;
}

/** The SELECT list of an output: CSV gets the text conventions of ingestion, Parquet types. */
export function outputList(columns: readonly OutputColumn[], format: DataFormat): string {
  return columns
    .map(({ sql, name, type, nativeType }) => {
      let value = sql;
      if (format === 'csv' && type !== undefined) value = csvTextSql(sql, type);
      else if (format === 'json' && type !== undefined) value = jsonValueSql(sql, type);
      else if (format === 'csv' && nativeType !== undefined)
        value = nativeCsvTextSql(sql, nativeType);
      return `${value} AS ${ident(name)}`;
    })
    .join(', ');
}

/**
 * Writes a query's rows to one file, through a temporary file renamed into place, so a
 * reader never sees half a file and a failure leaves nothing. Returns the row count.
 */
export async function writeOutputFile(
  run: JobRun,
  query: string,
  output: { uri: string; format: DataFormat },
): Promise<number> {
  const path = localPath(output.uri);
  await ensureFolder(run, dirname(path));
  const temporary = `${path}.tmp-${randomUUID()}`;
  run.onFailure(() => rm(temporary, { force: true }));
  const options =
    output.format === 'csv'
      ? CSV_OPTIONS
      : output.format === 'json'
        ? JSON_OPTIONS
        : PARQUET_OPTIONS;
  const [result] = await run.query(`COPY (${query}) TO ${literal(temporary)} (${options})`);
  run.throwIfCancelled();
  // COPY creates files with the process umask; the 0700 folder guards them until now.
  await chmod(temporary, PRIVATE_FILE_MODE);
  await rename(temporary, path);
  run.onFailure(() => rm(path, { force: true }));
  return Number(result?.Count ?? 0);
}
