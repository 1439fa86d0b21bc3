import { ValidationError } from '../errors.js';
import type { FeatureSetSchema } from '../model/records.js';

/**
 * One row given to `ingest` in memory: an object of feature name → value. Any object type
 * (an interface's too, which TypeScript does not let pass for a `Record`); its values are
 * checked when it is read.
 */
export type IngestRow = object;

/** About this many bytes of JSON Lines are handed to storage at a time. */
const CHUNK_BYTES = 1 << 20;

/*
 * Rows in memory become JSON Lines, which the compute engine then reads by the very rules it
 * reads a JSON Lines file by (docs/in-process-api.md): whatever a file may hold, a row may
 * hold, and a value a file may not hold is refused the same way, naming the row and column.
 * Only the values JSON has no spelling for are written here in the text form those rules
 * read: a bigint as its digits (exact beyond 2^53), a `Date` as ISO 8601 (a `date` feature:
 * `YYYY-MM-DD` when it is midnight UTC), bytes (`Uint8Array`, `Buffer`, `ArrayBuffer`) as
 * base64, NaN and ±Infinity as `"NaN"`, `"Infinity"`, `"-Infinity"`, `undefined` as null.
 */

function fail(row: number, column: string, why: string): never {
  throw new ValidationError(`row ${row} (counted from 1), column "${column}": ${why}`, {
    details: { row, column },
  });
}

/** `value` as JSON text; `dateColumn` when the feature is a `date`. */
function encodeValue(value: unknown, row: number, column: string, dateColumn: boolean): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (Number.isFinite(value)) return JSON.stringify(value);
      return Number.isNaN(value) ? '"NaN"' : value > 0 ? '"Infinity"' : '"-Infinity"';
    case 'bigint':
      return value.toString();
    case 'undefined':
      return 'null';
    case 'object': {
      if (value === null) return 'null';
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) fail(row, column, 'is an invalid Date');
        const iso = value.toISOString();
        return JSON.stringify(
          dateColumn && iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso,
        );
      }
      if (value instanceof Uint8Array)
        return JSON.stringify(
          Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
        );
      if (value instanceof ArrayBuffer)
        return JSON.stringify(Buffer.from(value).toString('base64'));
      if (Array.isArray(value)) {
        return `[${value.map((element) => encodeValue(element, row, column, dateColumn)).join(',')}]`;
      }
      // An object where a value belongs: written as it is, and refused as a file's would be.
      try {
        return JSON.stringify(value, (_key, inner: unknown) =>
          typeof inner === 'bigint' ? inner.toString() : inner,
        );
      } catch (error) {
        return fail(row, column, `cannot be written as JSON (${(error as Error).message})`);
      }
    }
    default:
      return fail(
        row,
        column,
        `is a ${typeof value}, not a value: give a string, number, bigint, boolean, Date, bytes, array or null`,
      );
  }
}

/**
 * Writes rows as JSON Lines for one schema: every schema column on every line (a property the
 * row lacks is null), then the row's other properties, which the ingestion refuses unless it
 * ignores extra columns.
 */
export class RowLines {
  readonly #columns: readonly { name: string; date: boolean }[];
  readonly #known: ReadonlySet<string>;
  #count = 0;

  constructor(schema: FeatureSetSchema) {
    this.#columns = schema.features.map((feature) => ({
      name: feature.name,
      date: feature.type === 'date' || feature.type === 'list<date>',
    }));
    this.#known = new Set(schema.features.map((feature) => feature.name));
  }

  /** Rows encoded so far. */
  get count(): number {
    return this.#count;
  }

  /** The next row as one line of JSON (with its line break). */
  line(input: unknown): string {
    const row = ++this.#count;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new ValidationError(
        `row ${row} (counted from 1) is ${input === null ? 'null' : Array.isArray(input) ? 'an array' : `a ${typeof input}`}: every row is an object of feature values, such as { customer_id: 'c1', ts: new Date(), amount: 12.5 }`,
        { details: { row } },
      );
    }
    if (input instanceof Uint8Array) {
      throw new ValidationError(
        `row ${row} (counted from 1) is bytes, not an object: to ingest a byte stream, pass its format ({ format: 'csv' | 'json' | 'parquet' | 'arrow' })`,
        { details: { row } },
      );
    }
    const record = input as Record<string, unknown>;
    const parts: string[] = [];
    for (const { name, date } of this.#columns) {
      parts.push(`${JSON.stringify(name)}:${encodeValue(record[name], row, name, date)}`);
    }
    for (const name of Object.keys(record)) {
      if (this.#known.has(name) || record[name] === undefined) continue;
      parts.push(`${JSON.stringify(name)}:${encodeValue(record[name], row, name, false)}`);
    }
    return `{${parts.join(',')}}\n`;
  }

  /** Rows as JSON Lines bytes, in chunks of about a megabyte (memory stays bounded). */
  async *chunks(rows: AsyncIterable<unknown> | Iterable<unknown>): AsyncGenerator<Uint8Array> {
    let pending: string[] = [];
    let size = 0;
    for await (const row of rows) {
      const text = this.line(row);
      pending.push(text);
      size += text.length;
      if (size >= CHUNK_BYTES) {
        yield Buffer.from(pending.join(''));
        pending = [];
        size = 0;
      }
    }
    if (this.#count === 0) {
      throw new ValidationError('no rows to ingest: the data given holds none', {
        details: { field: 'source' },
      });
    }
    if (pending.length > 0) yield Buffer.from(pending.join(''));
  }
}
