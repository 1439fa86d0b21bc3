import { CoreServiceClient } from '@featurestore/protocol/featurestore/v1/core';
import {
  type DataFormat,
  type HistoricalHeader,
  HistoricalRequest,
  type IngestUploadHeader,
  IngestUploadRequest,
  type JobEvent,
  type JobResponse,
} from '@featurestore/protocol/featurestore/v1/data';
import {
  type CallOptions,
  type ClientWritableStream,
  credentials,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';

/** The bytes of a file, in chunks of at most this many bytes. */
const CHUNK = 64 * 1024;

/** Metadata carrying `authorization: Bearer <token>` (none when undefined). */
export function bearer(token: string | undefined): Metadata {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

export function chunksOf(bytes: Buffer, size = CHUNK): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) {
    chunks.push(bytes.subarray(offset, offset + size));
  }
  return chunks;
}

type UnaryMethod<Response> = (
  request: object,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Response) => void,
) => unknown;

/** A client-streaming call in flight: write to `stream`, its answer settles `response`. */
export interface OpenUpload<Request, Response> {
  stream: ClientWritableStream<Request>;
  response: Promise<Response>;
}

/**
 * The data RPCs of CoreService as a plain grpc-js client calls them: uploads are a header
 * message and then the file's bytes in chunks, downloads a stream of chunks.
 */
export class DataClient {
  readonly raw: CoreServiceClient;

  constructor(address: string) {
    this.raw = new CoreServiceClient(address, credentials.createInsecure());
  }

  /** Starts an `IngestUpload` call and sends its header; the bytes are up to the caller. */
  openIngestUpload(
    header: Partial<IngestUploadHeader>,
    token: string | undefined,
    options: Partial<CallOptions> = {},
  ): OpenUpload<IngestUploadRequest, JobResponse> {
    let stream!: ClientWritableStream<IngestUploadRequest>;
    const response = new Promise<JobResponse>((resolve, reject) => {
      stream = this.raw.ingestUpload(bearer(token), options, (error, value) =>
        error ? reject(error) : resolve(value),
      );
    });
    response.catch(() => undefined);
    stream.write(IngestUploadRequest.fromPartial({ header }));
    return { stream, response };
  }

  /** Uploads a whole file for ingestion. */
  ingestUpload(
    header: Partial<IngestUploadHeader>,
    bytes: Buffer,
    token: string | undefined,
    options: Partial<CallOptions> = {},
  ): Promise<JobResponse> {
    const { stream, response } = this.openIngestUpload(header, token, options);
    for (const chunk of chunksOf(bytes)) stream.write({ chunk });
    stream.end({ end: { totalBytes: bytes.length } });
    return response;
  }

  /** A training set from an uploaded entity file (or one the header names). */
  historical(
    header: Partial<HistoricalHeader>,
    bytes: Buffer | undefined,
    token: string | undefined,
  ): Promise<JobResponse> {
    return new Promise<JobResponse>((resolve, reject) => {
      const stream = this.raw.historical(bearer(token), (error, value) =>
        error ? reject(error) : resolve(value),
      );
      stream.write(HistoricalRequest.fromPartial({ header }));
      if (bytes === undefined) {
        stream.end();
      } else {
        for (const chunk of chunksOf(bytes)) stream.write({ chunk });
        stream.end({ end: { totalBytes: bytes.length } });
      }
    });
  }

  /** Schema inference from an uploaded sample. */
  inferSchema(
    header: {
      project: string;
      primaryKey: string[];
      eventTime: string;
      format: DataFormat;
      fileName?: string;
    },
    bytes: Buffer,
    token: string | undefined,
  ) {
    return new Promise<import('@featurestore/protocol/featurestore/v1/core').InferSchemaResponse>(
      (resolve, reject) => {
        const stream = this.raw.inferSchema(bearer(token), (error, value) =>
          error ? reject(error) : resolve(value),
        );
        stream.write({
          header: { timeToLive: '', description: '', tags: {}, fileName: '', ...header },
        });
        for (const chunk of chunksOf(bytes)) stream.write({ chunk });
        stream.end({ end: { totalBytes: bytes.length } });
      },
    );
  }

  /** The whole output of a job, as `DownloadOutput` streams it. */
  download(jobId: string, token: string | undefined, removeAfter = false): Promise<Buffer> {
    const stream = this.raw.downloadOutput({ jobId, removeAfter }, bearer(token));
    const parts: Buffer[] = [];
    stream.on('data', (chunk: { data: Buffer }) => parts.push(chunk.data));
    return new Promise((resolve, reject) => {
      stream.on('end', () => resolve(Buffer.concat(parts)));
      stream.on('error', reject);
    });
  }

  /** Every event of a `WatchJob` until the server ends the stream. */
  watch(id: string, token: string | undefined): Promise<JobEvent[]> {
    const stream = this.raw.watchJob({ id }, bearer(token));
    const events: JobEvent[] = [];
    stream.on('data', (event: JobEvent) => events.push(event));
    return new Promise((resolve, reject) => {
      stream.on('end', () => resolve(events));
      stream.on('error', reject);
    });
  }

  /** A unary RPC by its method name on the generated client, with a bearer token. */
  unary<Response>(
    method: string,
    request: object,
    token: string | undefined,
    options: Partial<CallOptions> = {},
  ): Promise<Response> {
    const call = (this.raw as unknown as Record<string, UnaryMethod<Response>>)[method]!;
    return new Promise((resolve, reject) => {
      call.call(this.raw, request, bearer(token), options, (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });
  }

  close(): void {
    this.raw.close();
  }
}
