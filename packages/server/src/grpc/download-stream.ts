import { once } from 'node:events';
import type { Readable } from 'node:stream';
import type { DataChunk } from '@featurestore/protocol/featurestore/v1/data';
import type { ServerWritableStream } from '@grpc/grpc-js';

/** The largest chunk sent in one message: well under the default 4 MiB message limit. */
export const DOWNLOAD_CHUNK_BYTES = 256 * 1024;

/**
 * Sends a file's bytes as `DataChunk` messages, holding at most one chunk while the client is
 * slow (each write waits for the call to drain). Stops, destroying `source`, when the call is
 * cancelled.
 */
export async function sendFile(
  call: ServerWritableStream<unknown, DataChunk>,
  source: Readable,
  signal: AbortSignal,
): Promise<void> {
  try {
    for await (const piece of source) {
      const bytes = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as Uint8Array);
      for (let offset = 0; offset < bytes.length; offset += DOWNLOAD_CHUNK_BYTES) {
        signal.throwIfAborted();
        const data = bytes.subarray(offset, offset + DOWNLOAD_CHUNK_BYTES);
        if (!call.write({ data })) await once(call, 'drain', { signal });
      }
    }
  } finally {
    source.destroy();
  }
}
