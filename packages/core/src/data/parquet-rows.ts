import * as zlib from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import {
  type AsyncBuffer,
  type Compressors,
  cachedAsyncBuffer,
  type FileMetaData,
  parquetMetadataAsync,
  parquetReadObjects,
  parquetSchema,
} from 'hyparquet';
import { NotSupportedError } from '../errors.js';
import { elementType, type ScalarType } from '../model/feature-types.js';
import type { ObjectStorage } from '../ports/object-storage.js';
import { readAll } from '../storage/object-body.js';
import { type ColumnType, float32Decimal } from './output-values.js';

/*
 * A Parquet output read in process with hyparquet (pure JavaScript), one row group at a time
 * over ranged reads of the store's storage, its values decoded to what `cellDecoder` gives for
 * the same output as CSV (int64 bigint, times microseconds since the epoch as bigint, dates days
 * since the epoch, bytes Uint8Array, lists arrays, null for a missing value), so `rows()` and
 * `toArrow()` do not depend on the format the job wrote.
 */

/**
 * The decompressors beyond hyparquet's own (snappy, uncompressed). ZSTD (what the DuckDB
 * engine writes) comes from `node:zlib` where Node has it (22.15 and 23.8 on), and from
 * fzstd (pure JavaScript) on older Node.
 */
function nodeCompressors(): Compressors {
  const compressors: Compressors = {
    GZIP: (input) => new Uint8Array(zlib.gunzipSync(input)),
    BROTLI: (input) => new Uint8Array(zlib.brotliDecompressSync(input)),
  };
  const zstd = (zlib as { zstdDecompressSync?: (input: Uint8Array) => Buffer }).zstdDecompressSync;
  compressors.ZSTD = zstd
    ? (input) => new Uint8Array(zstd(input))
    : (input, outputLength) => zstdDecompress(input, new Uint8Array(outputLength));
  return compressors;
}

const COMPRESSORS = nodeCompressors();
/** What hyparquet reads without help. */
const BUILT_IN_CODECS = new Set(['UNCOMPRESSED', 'SNAPPY']);

/** An object of the storage as hyparquet reads files: its size and byte ranges of it. */
async function storageBuffer(storage: ObjectStorage, key: string, size: number) {
  const file: AsyncBuffer = {
    byteLength: size,
    async slice(start, end = size) {
      const bytes = await readAll(await storage.get(key, { offset: start, length: end - start }));
      // A Buffer may be a view of Node's shared pool: the slice is its own ArrayBuffer.
      return bytes.buffer.slice(
        bytes.byteOffset,
        bytes.byteOffset + bytes.byteLength,
      ) as ArrayBuffer;
    },
  };
  // Caches the footer and small files whole: hyparquet reads the footer in several ranges.
  return cachedAsyncBuffer(file);
}

/** One Parquet value (as hyparquet gives it with the parsers below) decoded by feature type. */
function scalarValue(type: ScalarType, value: unknown): unknown {
  switch (type) {
    case 'int32':
    case 'float64':
      return Number(value);
    case 'float32':
      return float32Decimal(Number(value));
    case 'int64':
      return BigInt(value as bigint | number);
    case 'date':
      return value instanceof Date ? Math.round(value.getTime() / 86_400_000) : Number(value);
    case 'timestamp':
      return typeof value === 'bigint' ? value : BigInt((value as Date).getTime()) * 1000n;
    case 'bytes':
      // A copy: a view would keep the whole page it came from in memory.
      return typeof value === 'string'
        ? new TextEncoder().encode(value)
        : new Uint8Array(value as Uint8Array);
    case 'string':
      return typeof value === 'string' ? value : new TextDecoder().decode(value as Uint8Array);
    default:
      return value;
  }
}

/** A column's decoder of Parquet values into the values `cellDecoder` gives. */
function parquetDecoder(type: ColumnType): (value: unknown) => unknown {
  const present = (value: unknown) => value !== null && value !== undefined;
  if (type === 'text') {
    return (value) =>
      !present(value)
        ? null
        : typeof value === 'string'
          ? value
          : value instanceof Uint8Array
            ? new TextDecoder().decode(value)
            : String(value);
  }
  const scalar = elementType(type);
  if (!type.startsWith('list<')) {
    return (value) => (present(value) ? scalarValue(scalar, value) : null);
  }
  return (value) =>
    present(value)
      ? (value as unknown[]).map((item) => (present(item) ? scalarValue(scalar, item) : null))
      : null;
}

/** Times kept exact (microseconds, bigint) and dates as days, as `cellDecoder` gives them. */
const PARSERS = {
  timestampFromMilliseconds: (millis: bigint) => BigInt(millis) * 1000n,
  timestampFromMicroseconds: (micros: bigint) => BigInt(micros),
  timestampFromNanoseconds: (nanos: bigint) => {
    const value = BigInt(nanos);
    const quotient = value / 1000n;
    return value % 1000n < 0n ? quotient - 1n : quotient;
  },
  dateFromDays: (days: number) => days,
};

/** A Parquet output's columns, in file order, each with its name and feature type. */
export interface ParquetColumn {
  name: string;
  type: ColumnType;
}

/**
 * The rows of a Parquet output as decoded values in column order, one row group in memory at a
 * time. `onColumns` is called once, before any row (also for a file with no rows: its schema
 * still names the columns).
 */
export async function* parquetRows(
  storage: ObjectStorage,
  key: string,
  size: number,
  types: ReadonlyMap<string, ColumnType>,
  onColumns: (columns: ParquetColumn[]) => void,
): AsyncGenerator<unknown[]> {
  const file = await storageBuffer(storage, key, size);
  const metadata: FileMetaData = await parquetMetadataAsync(file);
  const columns = parquetSchema(metadata).children.map((child) => ({
    name: child.element.name,
    type: types.get(child.element.name) ?? ('text' as const),
  }));
  onColumns(columns);
  const decoders = columns.map((column) => parquetDecoder(column.type));
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    for (const chunk of group.columns) {
      const codec = chunk.meta_data?.codec;
      if (codec && !BUILT_IN_CODECS.has(codec) && !COMPRESSORS[codec]) {
        throw new NotSupportedError(
          `${key} is compressed with ${codec}, which this reader cannot decompress: run the job with format 'csv' to read it in process, or writeTo('….parquet') and read the file with another Parquet reader`,
          { details: { field: 'format', value: 'parquet', codec } },
        );
      }
    }
    const objects = await parquetReadObjects({
      file,
      metadata,
      rowStart,
      rowEnd,
      utf8: false,
      parsers: PARSERS,
      compressors: COMPRESSORS,
    });
    for (const object of objects) {
      yield columns.map((column, c) => decoders[c]!(object[column.name]));
    }
    rowStart = rowEnd;
  }
}
