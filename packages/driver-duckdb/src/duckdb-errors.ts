import { FeatureStoreError, UnavailableError, ValidationError } from '@featurestore/core/driver';
import { bytesText, MAX_LINE_BYTES } from './input-limits.js';
import { firstInvalidJsonLine } from './json-lines.js';

/** A file a job reads, as DuckDB names it (its local path) and as users know it. */
export interface KnownFile {
  path: string;
  uri: string;
  name: string;
  /** Set for a committed data part: the sequence of the ingestion that wrote it. */
  sequence?: number;
}

interface Problem {
  message: string;
  details: Record<string, unknown>;
}

function fileNamed(files: readonly KnownFile[], path: string): KnownFile | undefined {
  return files.find((file) => file.path === path);
}

/*
 * DuckDB's CSV errors quote the offending line ("Original Line: …"), which may be anything the
 * file holds (a password file read as CSV): messages keep only a reason DuckDB wrote itself,
 * picked by these patterns, never text from the file.
 */
const CSV_REASONS = [
  /^Expected Number of Columns: \d+ Found: \d+$/,
  /^Value with unterminated quote found\.?$/,
  /^Invalid unicode \(byte sequence mismatch\) detected\.?$/,
  /^Maximum line size of \d+ bytes exceeded\. Actual Size:\s*\d+ bytes\.?$/,
];

function csvError(message: string, files: readonly KnownFile[]): Problem | undefined {
  const line = /CSV Error on Line: (\d+)/.exec(message)?.[1];
  if (line === undefined) return undefined;
  const path = /^\s*file = (.*)$/m.exec(message)?.[1]?.trim() ?? '';
  const reason =
    message
      .split('\n')
      .map((text) => text.trim())
      .find((text) => CSV_REASONS.some((pattern) => pattern.test(text))) ?? 'it does not parse';
  const file = fileNamed(files, path);
  const name = file?.name ?? path;
  if (reason.startsWith('Maximum line size')) {
    return {
      message: `${name} line ${line} is longer than ${bytesText(MAX_LINE_BYTES)}, the limit for one CSV record: shorten its values (a value this large belongs in a file of its own) or check that the file is CSV`,
      details: { file: file?.uri ?? path, line: Number(line), limit: MAX_LINE_BYTES },
    };
  }
  const advice = /unicode|utf-8/i.test(reason)
    ? 'convert the file to UTF-8'
    : 'every line needs as many fields as the header, and values with commas, quotes or line breaks must be double-quoted';
  return {
    message: `${name} line ${line} (the header is line 1) is not valid CSV: ${reason.replace(/\.$/, '')}. Fix that line: ${advice}`,
    details: { file: file?.uri ?? path, line: Number(line), reason },
  };
}

async function jsonError(
  message: string,
  files: readonly KnownFile[],
): Promise<Problem | undefined> {
  const match = /Malformed JSON in file "(.*)", at byte \d+ in line \d+: ([^\n]*)/.exec(message);
  if (!match) return undefined;
  const [, path = '', reason = ''] = match;
  const file = fileNamed(files, path);
  const line = await firstInvalidJsonLine(path).catch(() => undefined);
  const where = line === undefined ? '' : ` line ${line}`;
  return {
    message: `${file?.name ?? path}${where} is not valid JSON (${reason.trim().replace(/\.$/, '')}): write one JSON object per line`,
    details: {
      file: file?.uri ?? path,
      ...(line === undefined ? {} : { line }),
      reason: reason.trim(),
    },
  };
}

function parquetError(message: string, files: readonly KnownFile[]): Problem | undefined {
  const match = /No magic bytes found at end of file '(.*)'/.exec(message);
  if (!match) return undefined;
  const path = match[1] ?? '';
  const file = fileNamed(files, path);
  if (file?.sequence !== undefined) return undefined;
  return {
    message: `${file?.name ?? path} is not a Parquet file: check the format of the source`,
    details: { file: file?.uri ?? path },
  };
}

function unicodeError(message: string, files: readonly KnownFile[]): Problem | undefined {
  if (!/Invalid unicode|not utf-8 encoded/i.test(message)) return undefined;
  const file = files.find((candidate) => message.includes(candidate.path));
  return {
    message: `${file?.name ?? 'a source file'} is not UTF-8 text: convert it to UTF-8 and ingest again`,
    details: { file: file?.uri },
  };
}

/** Error codes of a full disk (or a quota reached). */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/**
 * A full disk as an `UnavailableError` naming the file that could not be written (DuckDB's
 * message or Node's `path`, else `target`, the job's output) and what to do; undefined for
 * other errors. Retryable: the same job succeeds once there is room.
 */
export function noSpaceError(
  error: unknown,
  tempDirectory?: string,
  target?: string,
): UnavailableError | undefined {
  if (error instanceof FeatureStoreError) return undefined;
  const node = error as NodeJS.ErrnoException | undefined;
  const message = error instanceof Error ? error.message : String(error);
  let path: string | undefined;
  if (node && typeof node.code === 'string' && NO_SPACE.has(node.code)) path = node.path;
  else if (/No space left on device|Disk quota exceeded/i.test(message)) {
    path = /(?:file|directory) "([^"]*)"/.exec(message)?.[1] ?? /'([^']*)'/.exec(message)?.[1];
  } else return undefined;
  path ??= target;
  const where = path === undefined ? 'a file' : `"${path}"`;
  const spill =
    tempDirectory === undefined ? '' : ` (DuckDB spills large joins and sorts to ${tempDirectory})`;
  return new UnavailableError(
    `the disk is full: writing ${where} failed with "no space left on device"${spill}: free space on that disk, or point the store or the engine's tempDirectory at a disk with room, then run the job again`,
    { cause: error, details: { reason: 'no space left on device', file: path, tempDirectory } },
  );
}

/** A committed data part that DuckDB cannot read, named with its ingestion. */
export function corruptPartError(file: KnownFile, reason: string, cause?: unknown): Error {
  return new FeatureStoreError(
    'INTERNAL',
    `data file ${file.uri} of the ingestion with sequence ${file.sequence} cannot be read (${reason}): the file is damaged; revert that ingestion (and ingest its source again), or restore the file from a backup`,
    { cause, details: { file: file.uri, sequence: file.sequence, reason } },
  );
}

/**
 * True for DuckDB's own failure that no converter explained (not one of the `error()` markers
 * the jobs raise on a bad row, whose messages start with `featurestore:`).
 */
export function isUnexplained(error: Error): boolean {
  if (!(error instanceof FeatureStoreError) || error.code !== 'INTERNAL') return false;
  const duckdb = error.details.duckdb;
  return typeof duckdb === 'string' && !duckdb.includes('featurestore:');
}

/** The first line of DuckDB's message, without the SQL it quotes. */
export function firstLine(message: string): string {
  return message.split('\n')[0]?.trim() ?? message;
}

/**
 * Converts a DuckDB error into the error tree: problems in the input files become a
 * `ValidationError` naming the file and line, a full disk an `UnavailableError`, an unreadable
 * committed part names its ingestion; anything else is an internal error that keeps the first
 * line of DuckDB's message (the rest may quote file content).
 */
export async function convertDuckDbError(
  error: unknown,
  files: readonly KnownFile[],
  tempDirectory?: string,
): Promise<Error> {
  if (error instanceof FeatureStoreError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const full = noSpaceError(error, tempDirectory);
  if (full) return full;
  // The longest path that the message names: `part-1` is also a prefix of `part-10`.
  const part = files
    .filter((file) => file.sequence !== undefined && message.includes(file.path))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (part) return corruptPartError(part, firstLine(message), error);
  const converted =
    csvError(message, files) ??
    (await jsonError(message, files)) ??
    parquetError(message, files) ??
    unicodeError(message, files);
  if (converted) {
    return new ValidationError(converted.message, { cause: error, details: converted.details });
  }
  return new FeatureStoreError('INTERNAL', `DuckDB failed: ${firstLine(message)}`, {
    cause: error,
    details: { duckdb: firstLine(message) },
  });
}

export function isInterrupt(error: unknown): boolean {
  return error instanceof Error && /INTERRUPT Error|Interrupted/.test(error.message);
}
