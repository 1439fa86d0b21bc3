import { isFeatureStoreError } from '@featurestore/core';
import { redactSecrets } from '../redact-secrets.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Human output for one record: `key: value` lines, dates as ISO strings. */
export function formatRecord(record: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(record).map((key) => key.length));
  return Object.entries(record)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key.padEnd(width)}  ${formatValue(value)}`)
    .join('\n');
}

/**
 * Human output for a listing: aligned columns under a header of the names as the data has
 * them (`createdAt`, `transactions__amount`), the same names `--json` and CSV output use.
 */
export function formatTable(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((column) => formatValue(row[column])));
  const widths = columns.map((column, i) =>
    Math.max(column.length, ...cells.map((row) => row[i]!.length)),
  );
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns), ...cells.map(line)].join('\n');
}

function formatValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * One readable line (the stack only with --verbose), and the error code for scripts. Secrets
 * are blanked: drivers and libraries may echo the connection URL they were given.
 */
export function formatError(error: unknown, verbose: boolean): string {
  if (verbose && error instanceof Error && error.stack) return `${redactSecrets(error.stack)}\n`;
  if (isFeatureStoreError(error)) return `error: ${redactSecrets(error.message)} [${error.code}]\n`;
  return `error: ${redactSecrets(error instanceof Error ? error.message : String(error))}\n`;
}

/** What `--json` prints on stderr for a failed command: one object on one line. */
export interface JsonError {
  /** The stable code of core's error tree (`VALIDATION`, `NOT_FOUND`…); `INTERNAL` otherwise. */
  code: string;
  message: string;
  /** Machine-readable facts (field, value, row…); `{}` when there are none. */
  details: Record<string, unknown>;
  /** The stack trace, with --verbose only. */
  stack?: string;
}

/**
 * An error as one line of JSON for scripts (`--json`), with the same secrets blanked as in
 * the human line: the whole line is redacted, so a URL in `details` is blanked too.
 */
export function formatJsonError(error: unknown, verbose: boolean): string {
  const body: JsonError = isFeatureStoreError(error)
    ? { code: error.code, message: error.message, details: error.details }
    : {
        code: 'INTERNAL',
        message: error instanceof Error ? error.message : String(error),
        details: {},
      };
  if (verbose && error instanceof Error && error.stack) body.stack = error.stack;
  return `${redactSecrets(JSON.stringify(body, jsonSafe))}\n`;
}

/** Details may hold a bigint (an int64 value), which JSON.stringify refuses; Dates become ISO strings. */
function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
