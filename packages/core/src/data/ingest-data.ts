import { Readable } from 'node:stream';
import type { RecordBatch, Table } from 'apache-arrow';
import { ValidationError } from '../errors.js';
import type { FeatureSetSchema } from '../model/records.js';
import type { DataFormat } from '../ports/compute-engine.js';
import { batchRows, ipcRows, isArrowTable, isRecordBatch, tableRows } from './arrow-rows.js';
import { type IngestRow, RowLines } from './row-lines.js';

/**
 * What `ingest` reads from memory instead of a path or URL:
 * - rows: an array or any iterable of row objects, or an async iterable of them (a generator,
 *   an object-mode Node stream); an iterable may also yield apache-arrow `RecordBatch`es;
 * - an apache-arrow `Table` or `RecordBatch`;
 * - bytes: a `Uint8Array`, a Node `Readable`, or any async iterable of `Uint8Array` chunks,
 *   in the format `IngestOptions.format` names: `csv`, `json` (JSON Lines), `parquet`, or
 *   `arrow` (an Arrow IPC stream).
 */
export type IngestData =
  | Iterable<IngestRow | RecordBatch>
  | AsyncIterable<IngestRow | RecordBatch>
  | Table
  | RecordBatch
  | Uint8Array
  | Readable
  | AsyncIterable<Uint8Array>;

/** The format of bytes given to `ingest`: a file format, or an Arrow IPC stream. */
export type IngestDataFormat = DataFormat | 'arrow';

/** What a staged form of the data holds: its bytes, their format, and what to call them. */
export interface DataBytes {
  chunks: AsyncIterable<Uint8Array>;
  format: DataFormat;
  /** How records and messages name the data (`rows`, `arrow table`, `csv stream`…). */
  name: string;
}

/** True for what `ingest` takes as in-memory data (not a path or URL string). */
export function isIngestData(value: unknown): value is IngestData {
  if (typeof value !== 'object' || value === null) return false;
  return (
    value instanceof Uint8Array ||
    isArrowTable(value) ||
    isRecordBatch(value) ||
    Symbol.iterator in value ||
    Symbol.asyncIterator in value
  );
}

/**
 * The data as the bytes to stage: rows and Arrow data as JSON Lines (written as they are
 * read: memory holds about a megabyte of them at a time), bytes as they are. Fails before
 * reading anything when the form and `format` disagree.
 */
export function dataBytes(
  data: IngestData,
  schema: FeatureSetSchema,
  format: IngestDataFormat | undefined,
): DataBytes {
  const lines = () => new RowLines(schema);
  if (isArrowTable(data)) {
    noFormat(format, 'an Arrow Table');
    return { chunks: lines().chunks(tableRows(data)), format: 'json', name: 'arrow table' };
  }
  if (isRecordBatch(data)) {
    noFormat(format, 'an Arrow RecordBatch');
    return { chunks: lines().chunks(batchRows(data)), format: 'json', name: 'arrow record batch' };
  }
  if (data instanceof Uint8Array) return bytesOf(singleChunk(data), format, 'bytes', lines);
  if (data instanceof Readable && !data.readableObjectMode) {
    return bytesOf(data as AsyncIterable<Uint8Array>, format, 'stream', lines);
  }
  // Any other iterable: with a format, chunks of bytes; without, rows (and record batches).
  if (format !== undefined) {
    return bytesOf(onlyBytes(data as AsyncIterable<unknown>, format), format, 'stream', lines);
  }
  return {
    chunks: lines().chunks(expandBatches(data as AsyncIterable<unknown>)),
    format: 'json',
    name: 'rows',
  };
}

/** The format `dataBytes` stages data in: JSON Lines for rows and Arrow data. */
export function stagedFormat(format: IngestDataFormat | undefined): DataFormat {
  return format === undefined || format === 'arrow' ? 'json' : format;
}

function noFormat(format: IngestDataFormat | undefined, what: string): void {
  if (format !== undefined) {
    throw new ValidationError(
      `format "${format}" was given with ${what}: a format says how to read bytes; leave it out for rows and Arrow data`,
      { details: { field: 'format', value: format } },
    );
  }
}

function bytesOf(
  chunks: AsyncIterable<Uint8Array | string>,
  format: IngestDataFormat | undefined,
  what: string,
  lines: () => RowLines,
): DataBytes {
  if (format === undefined) {
    throw new ValidationError(
      `${what === 'bytes' ? 'bytes (a Uint8Array) need' : 'a byte stream needs'} a format to be read: pass { format: 'csv' | 'json' | 'parquet' | 'arrow' } (json: JSON Lines; arrow: an Arrow IPC stream)`,
      { details: { field: 'format' } },
    );
  }
  if (format === 'arrow') {
    return {
      chunks: lines().chunks(ipcRows(chunks as AsyncIterable<Uint8Array>)),
      format: 'json',
      name: `arrow ${what}`,
    };
  }
  return { chunks: asBytes(chunks), format, name: `${format} ${what}` };
}

async function* singleChunk(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** Chunks as bytes: a stream with an encoding set yields strings. */
async function* asBytes(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
}

/** Rows as they are, the rows of record batches in their place. */
async function* expandBatches(
  items: AsyncIterable<unknown> | Iterable<unknown>,
): AsyncGenerator<unknown> {
  for await (const item of items) {
    if (isRecordBatch(item)) yield* batchRows(item);
    else yield item;
  }
}

/** Byte chunks, refusing anything else (rows given with a format). */
async function* onlyBytes(
  items: AsyncIterable<unknown> | Iterable<unknown>,
  format: IngestDataFormat,
): AsyncGenerator<Uint8Array | string> {
  for await (const item of items) {
    if (!(item instanceof Uint8Array) && typeof item !== 'string') {
      throw new ValidationError(
        `format "${format}" was given, so the data must be bytes (Uint8Array chunks), but it holds ${item === null ? 'null' : typeof item === 'object' ? 'objects' : `a ${typeof item}`}: leave the format out to ingest rows`,
        { details: { field: 'format', value: format } },
      );
    }
    yield item;
  }
}
