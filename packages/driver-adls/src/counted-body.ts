import { Readable } from 'node:stream';
import { type ObjectBody, toReadable } from '@featurestore/core';

/** A body as a stream, and how many bytes have flowed through it so far. */
export interface CountedBody {
  readonly stream: Readable;
  readonly bytes: () => number;
}

/**
 * Wraps a body so `put` can report the size it wrote without a second request: a staged-block
 * commit answers without the size, and a `head` afterwards could see a concurrent writer's
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
