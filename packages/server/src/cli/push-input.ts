import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import {
  type DataFormat,
  type FeatureSet,
  formatOfPath,
  RowValidator,
  ValidationError,
} from '@featurestore/core';
import { FeatureRowReader } from '@featurestore/driver-duckdb';

/** The rows of a file to push: checked whole first, then read a batch at a time. */
export interface PushInput {
  /**
   * Reads the whole file and resolves with its row count, or fails with a `ValidationError`
   * naming the first bad row: a push sends nothing of a file it would stop in the middle of.
   */
  check(): Promise<number>;
  /** The rows in file order, `size` at a time. */
  batches(size: number): AsyncGenerator<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** `--format`, or the format the file name tells (`.csv`, `.parquet`/`.pq`, `.json`/`.jsonl`/`.ndjson`). */
export function pushFormat(file: string, option: string | undefined): DataFormat {
  if (option !== undefined) {
    if (option === 'csv' || option === 'parquet' || option === 'json') return option;
    throw new ValidationError(
      `--format ${JSON.stringify(option)} is unknown: use csv, parquet or json (JSON Lines)`,
      { details: { field: 'format', value: option } },
    );
  }
  const format = formatOfPath(file);
  if (format) return format;
  throw new ValidationError(
    `${basename(file)}: the format cannot be told from the file name: name it .csv, .parquet or .jsonl, or pass --format csv|parquet|json`,
    { details: { field: 'format', file } },
  );
}

/**
 * Opens a file of rows to push to `featureSet`. CSV and Parquet are read by DuckDB with
 * ingestion's rules (`FeatureRowReader`: CSV text parsed strictly by the feature types); JSON
 * Lines line by line, each object checked as a push checks rows (JSON values keep their JSON
 * types). A JSON array (a file starting with `[`) is read whole: use JSON Lines for big files.
 */
export async function openPushInput(
  file: string,
  format: DataFormat,
  featureSet: FeatureSet,
): Promise<PushInput> {
  const path = resolve(file);
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new ValidationError(`${file} cannot be read: ${error.message}`, {
      details: { field: 'file', value: file },
    });
  });
  if (!info.isFile()) {
    throw new ValidationError(
      `${file} is not a regular file: push a CSV, Parquet or JSON Lines file`,
      {
        details: { field: 'file', value: file },
      },
    );
  }
  if (format !== 'json') {
    const reader = await FeatureRowReader.open(pathToFileURL(path).href, format, featureSet.schema);
    return {
      check: () => reader.check(),
      batches: (size) => reader.batches(size),
      close: () => reader.close(),
    };
  }
  return (await startsWithBracket(path))
    ? jsonArrayInput(file, path, featureSet)
    : jsonLinesInput(file, path, featureSet);
}

async function startsWithBracket(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
    return buffer.subarray(0, bytesRead).toString('utf8').trimStart().startsWith('[');
  } finally {
    await handle.close();
  }
}

/** Rows of a JSON Lines file with their line numbers; blank lines are skipped. */
async function* jsonLines(file: string, path: string): AsyncGenerator<[unknown, number]> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new ValidationError(
        `${file} line ${number} is not valid JSON: write one object per line`,
        {
          details: { file, line: number },
        },
      );
    }
    yield [row, number];
  }
}

/** A push's check of one row, naming the file and line instead of the row of a request. */
function checkRow(validator: RowValidator, file: string, row: unknown, line: number): void {
  try {
    validator.validate(row, line - 1);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(error.message.replace(/^row \d+/, `${file} line ${line}`), {
      cause: error,
      details: { ...error.details, file, line },
    });
  }
}

function jsonLinesInput(file: string, path: string, featureSet: FeatureSet): PushInput {
  return {
    async check() {
      const validator = new RowValidator(featureSet);
      let count = 0;
      for await (const [row, line] of jsonLines(file, path)) {
        checkRow(validator, file, row, line);
        count++;
      }
      return count;
    },
    async *batches(size) {
      let batch: Record<string, unknown>[] = [];
      for await (const [row] of jsonLines(file, path)) {
        batch.push(row as Record<string, unknown>);
        if (batch.length >= size) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    },
    close: async () => {},
  };
}

async function jsonArrayInput(
  file: string,
  path: string,
  featureSet: FeatureSet,
): Promise<PushInput> {
  let rows: unknown;
  try {
    rows = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ValidationError(`${file} is not a valid JSON array: ${(error as Error).message}`, {
      details: { file },
    });
  }
  if (!Array.isArray(rows)) {
    throw new ValidationError(`${file} is not a JSON array of rows`, { details: { file } });
  }
  const list = rows as Record<string, unknown>[];
  return {
    async check() {
      const validator = new RowValidator(featureSet);
      list.forEach((row, index) => {
        validator.validate(row, index);
      });
      return list.length;
    },
    async *batches(size) {
      for (let from = 0; from < list.length; from += size) yield list.slice(from, from + size);
    },
    close: async () => {},
  };
}
