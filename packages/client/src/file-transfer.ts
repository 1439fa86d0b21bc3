import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ValidationError } from './errors.js';
import type { DataFormat } from './records.js';

/**
 * The bytes of a file to upload: a local path, or a stream (a Node `Readable` or any async
 * iterable of bytes) with the name the server records it under.
 */
export type UploadSource =
  | { path: string }
  | { stream: Readable | AsyncIterable<Uint8Array>; fileName?: string };

/** Where downloaded bytes go: a local path (written whole or not at all), or a stream. */
export type DownloadTarget = string | { path: string } | Writable;

/** Chunks of at most this size: well under grpc-js's 4 MiB default message limit. */
const CHUNK_BYTES = 256 * 1024;

const FORMAT_OF_EXTENSION: Record<string, DataFormat> = {
  csv: 'csv',
  parquet: 'parquet',
  jsonl: 'json',
  ndjson: 'json',
  json: 'json',
};

/**
 * The format of an upload: the one given, else its file name's extension (.csv, .parquet,
 * .jsonl, .ndjson, .json). The server needs it declared: it checks the bytes against it.
 */
export function uploadFormat(source: UploadSource, given: DataFormat | undefined): DataFormat {
  if (given !== undefined) return given;
  const name = uploadName(source);
  const format = FORMAT_OF_EXTENSION[name.slice(name.lastIndexOf('.') + 1).toLowerCase()];
  if (format === undefined) {
    throw new ValidationError(
      `the format of ${name} is not known from its name: give format (csv, parquet or json)`,
      { details: { field: 'format', value: name } },
    );
  }
  return format;
}

/** The file name an upload is recorded under. */
export function uploadName(source: UploadSource): string {
  if ('path' in source) return basename(source.path);
  return source.fileName ?? 'upload';
}

/**
 * An upload's messages after its header: the bytes in chunks, then the end saying how many
 * were sent (without it the server takes the upload for one cut off, and keeps nothing).
 */
export async function* uploadParts(
  source: UploadSource,
): AsyncGenerator<{ chunk: Buffer } | { end: { totalBytes: number } }> {
  let totalBytes = 0;
  for await (const chunk of uploadChunks(source)) {
    totalBytes += chunk.length;
    yield { chunk };
  }
  yield { end: { totalBytes } };
}

/** An upload's bytes in chunks, read as they are sent (constant memory for any size). */
async function* uploadChunks(source: UploadSource): AsyncGenerator<Buffer> {
  const path = 'path' in source ? source.path : undefined;
  const stream =
    'path' in source
      ? createReadStream(source.path, { highWaterMark: CHUNK_BYTES })
      : source.stream;
  try {
    for await (const chunk of stream) {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) {
        yield bytes.subarray(offset, offset + CHUNK_BYTES);
      }
    }
  } catch (error) {
    if (path !== undefined && (error as NodeJS.ErrnoException).code !== undefined) {
      throw new ValidationError(`${path} cannot be read: ${(error as Error).message}`, {
        cause: error,
        details: { field: 'file', value: path },
      });
    }
    throw error;
  }
}

/**
 * Writes downloaded chunks to `target` and returns the byte count. A path is removed again
 * when the download fails, so no half-written file is left behind.
 */
export async function writeDownload(
  chunks: AsyncIterable<Uint8Array>,
  target: DownloadTarget,
): Promise<number> {
  let bytes = 0;
  const counted = async function* () {
    for await (const chunk of chunks) {
      bytes += chunk.length;
      yield chunk;
    }
  };
  if (target instanceof Writable) {
    await pipeline(counted, target);
    return bytes;
  }
  const path = typeof target === 'string' ? target : target.path;
  try {
    await pipeline(counted, createWriteStream(path));
  } catch (error) {
    await rm(path, { force: true });
    throw error;
  }
  return bytes;
}
