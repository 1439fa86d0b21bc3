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
