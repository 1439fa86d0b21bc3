import { stat } from 'node:fs/promises';
import {
  type FeatureSetSchema,
  type IngestionInput,
  NotFoundError,
} from '@featurestore/core/driver';
import { sqlType } from './column-types.js';
import type { JobRun } from './job-run.js';
import { fileListLiteral, fileLiteral, localPath } from './local-paths.js';
import { ident, literal } from './sql.js';

/** One committed ingestion's Parquet parts, in part order, and their row counts. */
export interface IngestionFiles {
  sequence: number;
  paths: string[];
  /** Rows of each part (from its footer), in part order. */
  rows: bigint[];
  /**
   * The parts carry the position as a `__row` column: written before positions were derived,
   * by a writer that split its output into several parts without keeping the row order.
   */
  storedRow: boolean;
}

/** The existing files of each ingestion with files, in the given order, with their row counts. */
export async function inputFiles(
  run: JobRun,
  inputs: readonly IngestionInput[],
): Promise<IngestionFiles[]> {
  const found: IngestionFiles[] = [];
  for (const input of inputs) {
    if (input.uris.length === 0) continue;
    const paths: string[] = [];
    for (const uri of input.uris) {
      const path = localPath(uri);
      await stat(path).catch((error: unknown) => {
        throw new NotFoundError(
          `data file ${uri} of the ingestion with sequence ${input.sequence} is missing: the ingestion's files were deleted or moved; revert that ingestion`,
          { cause: error, details: { uri, sequence: input.sequence } },
        );
      });
      paths.push(path);
      run.knowFile({ path, uri, name: uri, sequence: input.sequence });
    }
    if (!Number.isSafeInteger(input.sequence)) {
      throw new TypeError(`ingestion sequence ${input.sequence} is not an integer`);
    }
    found.push({ sequence: input.sequence, paths, rows: [], storedRow: false });
  }
  const all = found.flatMap((files) => files.paths);
  if (all.length === 0) return found;
  // Footers only: no data is read.
  const counts = new Map(
    (
      await run.query(
        `SELECT file_name, num_rows FROM parquet_file_metadata(${fileListLiteral(all)})`,
      )
    ).map((row) => [row.file_name as string, BigInt(row.num_rows as bigint)]),
  );
  const withRow = new Set(
    (
      await run.query(
        `SELECT DISTINCT file_name FROM parquet_schema(${fileListLiteral(all)}) WHERE name = '__row'`,
      )
    ).map((row) => row.file_name as string),
  );
  for (const files of found) {
    files.rows = files.paths.map((path) => counts.get(path) ?? 0n);
    files.storedRow = files.paths.some((path) => withRow.has(path));
  }
  return found;
}

/**
 * A scan of one ingestion's parts with `__row`, each row's 0-based position in the ingestion
 * (docs/architecture.md: ties between equal keys and event times go to the later row). The parts
 * hold the rows in source order, so the position is the earlier parts' row count plus the
 * row's number in its part: nothing is stored for it and nothing is sorted.
 */
export function positionedScan(files: IngestionFiles, select: string): string {
  if (files.storedRow) {
    return `SELECT ${select}, CAST(__row AS BIGINT) AS __row FROM read_parquet(${fileListLiteral(files.paths)})`;
  }
  if (files.paths.length === 1) {
    return `SELECT ${select}, CAST(file_row_number AS BIGINT) AS __row FROM read_parquet(${fileLiteral(files.paths[0]!)}, file_row_number = true)`;
  }
  let offset = 0n;
  const offsets = files.paths.map((path, i) => {
    const at = offset;
    offset += files.rows[i] ?? 0n;
    return `WHEN ${literal(path)} THEN ${at}`;
  });
  return (
    `SELECT ${select}, CAST(CASE __fs_file ${offsets.join(' ')} END + file_row_number AS BIGINT) AS __row ` +
    `FROM read_parquet(${fileListLiteral(files.paths)}, file_row_number = true, filename = '__fs_file')`
  );
}

/** Rows of the largest ingestion: every `__row` is below it. */
export function largestIngestion(files: readonly IngestionFiles[]): bigint {
  let largest = 0n;
  for (const { rows } of files) {
    const total = rows.reduce((sum, n) => sum + n, 0n);
    if (total > largest) largest = total;
  }
  return largest;
}

/**
 * The committed rows of a feature set version as one relation: the schema's columns (cast to
 * their types), `__seq` (the ingestion's sequence) and `__row` (the row's place in it).
 */
export async function featureRowsSql(
  run: JobRun,
  schema: FeatureSetSchema,
  inputs: readonly IngestionInput[],
): Promise<string> {
  const columns = (source: (name: string) => string) =>
    schema.features
      .map(
        (feature) =>
          `CAST(${source(feature.name)} AS ${sqlType(feature.type)}) AS ${ident(feature.name)}`,
      )
      .join(', ');
  const parts = (await inputFiles(run, inputs)).map((files) =>
    positionedScan(files, `${columns(ident)}, CAST(${files.sequence} AS BIGINT) AS __seq`),
  );
  if (parts.length === 0) {
    return `SELECT ${columns(() => 'NULL')}, CAST(NULL AS BIGINT) AS __seq, CAST(NULL AS BIGINT) AS __row WHERE false`;
  }
  return parts.join(' UNION ALL ');
}
