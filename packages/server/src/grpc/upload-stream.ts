import { addAbortSignal, type Readable } from 'node:stream';
import { CancelledError, ValidationError } from '@featurestore/core';
import type { ServerReadableStream } from '@grpc/grpc-js';
import { deadlinePassed } from './call-signal.js';

/**
 * A client-streamed upload message: the header first, then chunks of the file's bytes, then
 * the end saying how many bytes were sent.
 */
export interface UploadPart<Header> {
  header?: Header | undefined;
  chunk?: Buffer | undefined;
  end?: { totalBytes: number } | undefined;
}

/** An upload's header and the iterable of its bytes, read once, as they arrive. */
export interface Upload<Header> {
  header: Header;
  /** Throws a `CancelledError` when the call ends before the client finished sending. */
  chunks: AsyncIterable<Uint8Array>;
}

/**
 * Reads the header of a client-streamed upload (it must come first) and hands the rest on as
 * a stream of bytes, so that the bytes are written on as they arrive and never held whole
 * (grpc-js stops reading from the connection while they wait). A second header, or a call
 * that ends before its header, is refused.
 */
export async function readUpload<Header>(
  call: ServerReadableStream<UploadPart<Header>, unknown>,
  signal: AbortSignal,
  rpc: string,
): Promise<Upload<Header>> {
  // A cancelled call (client gone, deadline passed) may never end its stream: destroy it.
  addAbortSignal(signal, call as unknown as Readable);
  const messages = call[Symbol.asyncIterator]() as AsyncIterator<UploadPart<Header>>;
  const cut = (error: unknown): never => {
    if (signal.aborted || call.cancelled || deadlinePassed(call.getDeadline())) {
      throw new CancelledError(`${rpc}: the upload was cut off before it ended; nothing was kept`, {
        cause: error,
      });
    }
    throw error;
  };
  const first = await messages.next().catch(cut);
  if (first.done || first.value.header === undefined) {
    throw new ValidationError(
      `${rpc}: the first message must hold the header (project, format…), then the file's bytes follow in chunks`,
      { details: { field: 'header' } },
    );
  }
  const chunks = async function* () {
    let received = 0;
    for (;;) {
      const next = await messages.next().catch(cut);
      if (next.done) {
        // A client cut off (killed, cancelled, past its deadline) may end the request stream
        // as a finished one does (grpc-js sends the end before the reset): only the end
        // message says the bytes are whole. A stream of no bytes at all (a header naming a
        // file elsewhere) needs none.
        if (received === 0) return;
        throw new CancelledError(
          `${rpc}: the upload stopped after ${received} bytes without its end message (UploadEnd): it was cut off, and nothing of it was kept`,
          { details: { receivedBytes: received } },
        );
      }
      if (next.value.end !== undefined) {
        const declared = Number(next.value.end.totalBytes);
        if (declared !== received) {
          throw new ValidationError(
            `${rpc}: the upload's end message says ${declared} bytes were sent, but ${received} arrived: nothing of it was kept; send it again`,
            { details: { field: 'end.total_bytes', value: declared, receivedBytes: received } },
          );
        }
        const after = await messages.next().catch(cut);
        if (!after.done) {
          throw new ValidationError(`${rpc}: a message arrived after the upload's end message`, {
            details: { field: 'end' },
          });
        }
        return;
      }
      if (next.value.header !== undefined) {
        throw new ValidationError(
          `${rpc}: a second header arrived after the upload began: send the header once, first`,
          { details: { field: 'header' } },
        );
      }
      if (next.value.chunk !== undefined && next.value.chunk.length > 0) {
        received += next.value.chunk.length;
        yield next.value.chunk;
      }
    }
  };
  return { header: first.value.header, chunks: chunks() };
}

/** Refuses bytes after a header that says the file is elsewhere (entities named by URI). */
export async function expectNoChunks(
  chunks: AsyncIterable<Uint8Array>,
  rpc: string,
): Promise<void> {
  for await (const _ of chunks) {
    throw new ValidationError(
      `${rpc}: the header names a file for the server to read, so no bytes may follow: leave the name empty to upload the file`,
      { details: { field: 'chunk' } },
    );
  }
}
