import { Readable } from 'node:stream';
import type { ObjectBody } from '../ports/object-storage.js';

/** One stream shape for every body a caller may hand to `ObjectStorage.put`. */
export function toReadable(body: ObjectBody): Readable {
  if (typeof body === 'string' || body instanceof Uint8Array) {
    return Readable.from([Buffer.from(body)]);
  }
  return body instanceof Readable ? body : Readable.from(body);
}

/** Reads a whole stream into memory; for small objects and tests. */
export async function readAll(stream: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** A body as a stream, and how many bytes have flowed through it so far. */
export interface CountedBody {
  readonly stream: Readable;
  readonly bytes: () => number;
}

/**
 * Wraps a body so `put` can report the size it wrote without a second request: S3 and Azure
 * answer a write without the size, and a `head` afterwards could see a concurrent writer's
 * version.
 */
export function countedBody(body: ObjectBody): CountedBody {
  let bytes = 0;
  async function* count(source: AsyncIterable<Uint8Array | string>) {
    for await (const chunk of source) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      bytes += buffer.byteLength;
      yield buffer;
    }
  }
  // Byte mode: the stream buffers one highWaterMark of bytes, not 16 chunks of any size.
  return {
    stream: Readable.from(count(toReadable(body)), { objectMode: false }),
    bytes: () => bytes,
  };
}
