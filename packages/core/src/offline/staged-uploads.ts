import { randomUUID } from 'node:crypto';
import { ValidationError } from '../errors.js';
import type { DataFormat } from '../ports/compute-engine.js';
import type { ObjectStorage } from '../ports/object-storage.js';
import { TEMPORARY_PREFIX } from './storage-layout.js';

/** Where uploads are staged: scratch objects the storage collector removes if a writer died. */
const UPLOADS_PREFIX = `${TEMPORARY_PREFIX}uploads/`;

/** Only `StagedUploads.stage` makes a `StagedUpload`: what it names was written by the store. */
const STAGED = Symbol('staged upload');

const FILE_EXTENSION: Record<DataFormat, string> = {
  csv: 'csv',
  parquet: 'parquet',
  json: 'jsonl',
};

/** The first bytes of every Parquet file, and of gzip (CSV and JSON Lines may be gzipped). */
const PARQUET_MAGIC = Buffer.from('PAR1');
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
/** How many leading bytes the format check looks at. */
const SNIFF_BYTES = 64;

/**
 * A file a remote caller uploaded, staged as one object in the store's own storage. Ingestion,
 * historical and schema inference read it although the store's storage is never a source: the
 * caller sent its bytes, so nothing of the store's is read on their behalf.
 */
export class StagedUpload {
  /** The object's key in the store's storage. */
  readonly key: string;
  /** The object's URI, for the compute engine. */
  readonly uri: string;
  readonly format: DataFormat;
  /** What the caller called it, for messages and records (`upload:<name>`). */
  readonly name: string;
  /** Bytes received. */
  readonly size: number;

  /** @internal made by `StagedUploads.stage` only */
  constructor(
    brand: typeof STAGED,
    fields: { key: string; uri: string; format: DataFormat; name: string; size: number },
  ) {
    if (brand !== STAGED) throw new TypeError('a StagedUpload is made by StagedUploads.stage');
    this.key = fields.key;
    this.uri = fields.uri;
    this.format = fields.format;
    this.name = fields.name;
    this.size = fields.size;
  }

  /** How records and messages name it: `upload:<name>`. */
  get description(): string {
    return `upload:${this.name}`;
  }
}

/** A source as records and messages name it. */
export function sourceDescription(source: string | StagedUpload): string {
  return typeof source === 'string' ? source : source.description;
}

export interface StageOptions {
  /** The format the caller declares; the first bytes must agree with it. */
  format: DataFormat;
  /** The caller's name for the file (for messages); `upload` when not given. */
  name?: string;
  /** Stops the staging (a cancelled call); what was written is removed. */
  signal?: AbortSignal;
}

/**
 * Streams uploads into the store's storage (memory stays bounded: chunks pass through to the
 * storage's streaming put) and removes them once read. A staged object that outlives its
 * writer (a killed process) is scratch under `tmp/`, which `featurestore gc` removes.
 */
export class StagedUploads {
  readonly #storage: ObjectStorage;

  constructor(storage: ObjectStorage) {
    this.#storage = storage;
  }

  /**
   * Writes `chunks` to a new staging object. Refuses, with nothing left behind, bytes that are
   * not the declared format (Parquet without its magic number, CSV or JSON Lines that is
   * Parquet, JSON Lines that does not start with an object), an empty upload, and a stream
   * that fails or is aborted half-way.
   */
  async stage(chunks: AsyncIterable<Uint8Array>, options: StageOptions): Promise<StagedUpload> {
    const name = options.name || 'upload';
    const key = `${UPLOADS_PREFIX}${randomUUID()}.${FILE_EXTENSION[options.format]}`;
    let size = 0;
    const checked = async function* (signal: AbortSignal | undefined) {
      let head = Buffer.alloc(0);
      for await (const chunk of chunks) {
        signal?.throwIfAborted();
        if (head.length < SNIFF_BYTES) {
          head = Buffer.concat([head, chunk]);
          if (head.length >= SNIFF_BYTES) checkFormat(head, options.format, name);
        }
        size += chunk.byteLength;
        yield chunk;
      }
      signal?.throwIfAborted();
      if (size === 0) {
        throw new ValidationError(
          `upload ${name} is empty: send the file's bytes after the header`,
          {
            details: { field: 'upload', value: name },
          },
        );
      }
      if (head.length < SNIFF_BYTES) checkFormat(head, options.format, name);
    };
    try {
      await this.#storage.put(key, checked(options.signal));
    } catch (error) {
      await this.#storage.delete([key]).catch(() => undefined);
      throw error;
    }
    return new StagedUpload(STAGED, {
      key,
      uri: this.#storage.uri(key),
      format: options.format,
      name,
      size,
    });
  }

  /** Removes a staged upload (missing is fine: removal is idempotent). */
  async remove(upload: StagedUpload): Promise<void> {
    await this.#storage.delete([upload.key]);
  }
}

/** Refuses leading bytes that cannot start a file of the declared format. */
function checkFormat(head: Buffer, format: DataFormat, name: string): void {
  const isParquet = head.subarray(0, 4).equals(PARQUET_MAGIC);
  const isGzip = head.subarray(0, 2).equals(GZIP_MAGIC);
  let looksLike: string | undefined;
  if (format === 'parquet' && !isParquet) looksLike = 'no Parquet file (it lacks the PAR1 header)';
  else if (format !== 'parquet' && isParquet) looksLike = 'a Parquet file';
  else if (format === 'json' && !isGzip) {
    const first = head.toString('utf8').trimStart()[0];
    if (first !== undefined && first !== '{') {
      looksLike = 'no JSON Lines file (its first line is not a JSON object)';
    }
  }
  if (looksLike !== undefined) {
    throw new ValidationError(
      `upload ${name} was declared ${format}, but its bytes are ${looksLike}: declare the file's real format (csv, parquet or json)`,
      { details: { field: 'format', value: format } },
    );
  }
}
