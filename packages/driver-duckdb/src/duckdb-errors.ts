import { FeatureStoreError, ValidationError } from '@featurestore/core';
import { firstInvalidJsonLine } from './json-lines.js';

/** A file a job reads, as DuckDB names it (its local path) and as users know it. */
export interface KnownFile {
  path: string;
  uri: string;
  name: string;
}

interface Problem {
  message: string;
  details: Record<string, unknown>;
}

function fileNamed(files: readonly KnownFile[], path: string): KnownFile | undefined {
  return files.find((file) => file.path === path);
}

function csvError(message: string, files: readonly KnownFile[]): Problem | undefined {
  const line = /CSV Error on Line: (\d+)/.exec(message)?.[1];
  if (line === undefined) return undefined;
  const lines = message.split('\n');
  const path = /^\s*file = (.*)$/m.exec(message)?.[1]?.trim() ?? '';
  const original = lines.findIndex((text) => text.startsWith('Original Line:'));
  const reason =
    lines
      .slice(original + 1)
      .map((text) => text.trim())
      .find((text) => text !== '' && !text.startsWith('Possible')) ?? 'it does not parse';
  const file = fileNamed(files, path);
  const name = file?.name ?? path;
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

/**
 * Converts a DuckDB error into the error tree: problems in the input files become a
 * `ValidationError` naming the file and line; anything else is an internal error that keeps
 * DuckDB's message.
 */
export async function convertDuckDbError(
  error: unknown,
  files: readonly KnownFile[],
): Promise<Error> {
  if (error instanceof FeatureStoreError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const converted =
    csvError(message, files) ??
    (await jsonError(message, files)) ??
    parquetError(message, files) ??
    unicodeError(message, files);
  if (converted) {
    return new ValidationError(converted.message, { cause: error, details: converted.details });
  }
  return new FeatureStoreError('INTERNAL', `DuckDB failed: ${message.split('\n')[0]}`, {
    cause: error,
    details: { duckdb: message },
  });
}

export function isInterrupt(error: unknown): boolean {
  return error instanceof Error && /INTERRUPT Error|Interrupted/.test(error.message);
}
