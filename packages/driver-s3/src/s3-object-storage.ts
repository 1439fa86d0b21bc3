import { Readable } from 'node:stream';
import type {
  DeleteObjectsCommandOutput,
  GetObjectCommandOutput,
  HeadObjectCommandOutput,
  ListObjectsV2CommandOutput,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  type ByteRange,
  countedBody,
  FeatureStoreError,
  type ListOptions,
  type ListPage,
  listPageLimit,
  loadModule,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStorage,
  partialDeleteError,
  positiveInteger,
  rangeAtOrPastEnd,
  ValidationError,
  validateByteRange,
  validateListPrefix,
  validateObjectKey,
} from '@featurestore/core/driver';
import { convertS3Error } from './errors.js';
import {
  createS3Client,
  describeClient,
  type S3ClientLike,
  type S3CommandLike,
  type S3ConnectionOptions,
} from './s3-client.js';
import { normalizePrefix, parseS3Url, validateBucket } from './s3-url.js';

type S3Sdk = typeof import('@aws-sdk/client-s3');

export interface S3ObjectStorageOptions extends S3ConnectionOptions {
  bucket: string;
  /** Every key lives under `prefix/`; listings never see keys outside it. */
  prefix?: string;
  /**
   * Your own client (left open on `close`). Exclusive with the connection options
   * (`region`, `endpoint`, `forcePathStyle`, `credentials`, `clientConfig`).
   */
  client?: S3ClientLike;
  /**
   * Part size of multipart uploads in bytes (default 8 MiB, at least 5 MiB). A streamed put
   * holds about `(queueSize + 2) × partSize` bytes in memory (parts in flight, the part being
   * filled, the remainder of the last chunk); bodies up to one part are sent in a single
   * `PutObject`. Unknown-length streams are limited to 10 000 parts.
   */
  partSize?: number;
  /** Parts uploaded concurrently (default 4). */
  queueSize?: number;
}

/** Options of `S3ObjectStorage.fromUrl`: everything but the bucket and prefix. */
export type S3UrlOptions = Omit<S3ObjectStorageOptions, 'bucket' | 'prefix'>;

const MiB = 1024 * 1024;
const DEFAULT_PART_SIZE = 8 * MiB;
const MIN_PART_SIZE = 5 * MiB;
const DEFAULT_QUEUE_SIZE = 4;
/** ListObjectsV2 and DeleteObjects both stop at 1000 keys per call. */
const MAX_KEYS = 1000;

/**
 * `ObjectStorage` on Amazon S3 and S3-compatible stores (MinIO, Ceph, moto…), with
 * `@aws-sdk/client-s3` for single calls and `@aws-sdk/lib-storage`'s `Upload` for streamed
 * multipart puts. Both are loaded on first use.
 *
 * Puts are atomic (S3 never shows a partial object); there is no atomic rename.
 *
 * @example
 * const storage = S3ObjectStorage.fromUrl('s3://features/prod', { region: 'eu-west-1' });
 * await storage.put('featuresets/1/v1/part-0.parquet', bytes);
 * storage.uri('featuresets/1/v1/part-0.parquet'); // 's3://features/prod/featuresets/1/v1/part-0.parquet'
 *
 * @example
 * // An S3-compatible server, with your own client
 * const client = new S3Client({ endpoint: 'http://minio:9000', forcePathStyle: true, region: 'us-east-1' });
 * const storage = new S3ObjectStorage({ bucket: 'features', client });
 */
export class S3ObjectStorage implements ObjectStorage {
  readonly driver = 's3';
  readonly bucket: string;
  readonly prefix: string | undefined;
  readonly #options: S3ObjectStorageOptions;
  readonly #partSize: number;
  readonly #queueSize: number;
  #ready: Promise<{ sdk: S3Sdk; client: S3ClientLike }> | undefined;
  #endpoint: Promise<string> | undefined;
  /** Set once the bucket answered; a 404 from HEAD is then the object's, not the bucket's. */
  #bucketSeen = false;
  #closed = false;

  constructor(options: S3ObjectStorageOptions) {
    this.bucket = validateBucket(options.bucket);
    this.prefix = normalizePrefix(options.prefix);
    const connection = (
      ['region', 'endpoint', 'forcePathStyle', 'credentials', 'clientConfig'] as const
    ).filter((name) => options[name] !== undefined);
    if (options.client && connection.length > 0) {
      throw new ValidationError(
        `S3ObjectStorage got both a client and ${connection.join(', ')}: configure the client you pass, or pass no client`,
        { details: { field: connection[0] } },
      );
    }
    this.#partSize = positiveInteger('partSize', options.partSize ?? DEFAULT_PART_SIZE);
    if (this.#partSize < MIN_PART_SIZE) {
      throw new ValidationError(
        `partSize ${this.#partSize} is below the 5 MiB S3 requires of multipart parts`,
        { details: { field: 'partSize', value: this.#partSize } },
      );
    }
    this.#queueSize = positiveInteger('queueSize', options.queueSize ?? DEFAULT_QUEUE_SIZE);
    this.#options = options;
  }

  /**
   * Opens `s3://bucket/prefix`.
   *
   * @example
   * S3ObjectStorage.fromUrl('s3://features/prod');
   * S3ObjectStorage.fromUrl('s3://features', { endpoint: 'http://127.0.0.1:9000' }); // path style
   */
  static fromUrl(url: string, options: S3UrlOptions = {}): S3ObjectStorage {
    const { bucket, prefix } = parseS3Url(url);
    return new S3ObjectStorage({ ...options, bucket, ...(prefix === undefined ? {} : { prefix }) });
  }

  /** `s3://bucket/prefix/key`, the key as written (not percent-encoded), as engines expect. */
  uri(key: string): string {
    return `s3://${this.bucket}/${this.#key(key)}`;
  }

  async put(key: string, body: ObjectBody): Promise<ObjectInfo> {
    const s3Key = this.#key(key);
    if (typeof body === 'string' || body instanceof Uint8Array) {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      if (bytes.byteLength <= this.#partSize) {
        const { sdk } = await this.#open();
        await this.#send(
          'PutObject',
          new sdk.PutObjectCommand({
            Bucket: this.bucket,
            Key: s3Key,
            Body: bytes,
            ContentLength: bytes.byteLength,
          }),
          key,
        );
        return { key, size: bytes.byteLength, lastModified: new Date() };
      }
      await this.#upload(key, s3Key, bytes);
      return { key, size: bytes.byteLength, lastModified: new Date() };
    }
    const counted = countedBody(body);
    await this.#upload(key, s3Key, counted.stream);
    return { key, size: counted.bytes(), lastModified: new Date() };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const s3Key = this.#key(key);
    if (range) validateByteRange(range, key);
    if (range?.length === 0) {
      // No HTTP range names zero bytes; the object must still exist.
      if (!(await this.head(key))) await this.#missing('GetObject', key);
      return Readable.from([]);
    }
    const { sdk } = await this.#open();
    const header =
      range && (range.offset > 0 || range.length !== undefined)
        ? `bytes=${range.offset}-${range.length === undefined ? '' : range.offset + range.length - 1}`
        : undefined;
    try {
      const output = await this.#send<GetObjectCommandOutput>(
        'GetObject',
        new sdk.GetObjectCommand({
          Bucket: this.bucket,
          Key: s3Key,
          ...(header ? { Range: header } : {}),
        }),
        key,
      );
      this.#bucketSeen = true;
      return (output.Body as Readable | undefined) ?? Readable.from([]);
    } catch (error) {
      const cause = (error as FeatureStoreError).cause as {
        name?: string;
        ActualObjectSize?: string;
      };
      if (!range || cause?.name !== 'InvalidRange') throw error;
      const size =
        cause.ActualObjectSize === undefined
          ? (await this.head(key))?.size
          : Number(cause.ActualObjectSize);
      if (size === undefined) return this.#missing('GetObject', key);
      rangeAtOrPastEnd(key, range, size, error);
      return Readable.from([]);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const s3Key = this.#key(key);
    const { sdk } = await this.#open();
    try {
      const output = await this.#send<HeadObjectCommandOutput>(
        'HeadObject',
        new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: s3Key }),
        key,
      );
      this.#bucketSeen = true;
      return {
        key,
        size: output.ContentLength ?? 0,
        lastModified: output.LastModified ?? new Date(0),
      };
    } catch (error) {
      if ((error as FeatureStoreError).code !== 'NOT_FOUND') throw error;
      // HEAD answers carry no error code: a missing bucket looks like a missing object.
      await this.#checkBucket();
      return undefined;
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    validateListPrefix(prefix);
    const limit = listPageLimit(options, MAX_KEYS);
    const root = this.prefix === undefined ? '' : `${this.prefix}/`;
    const { sdk } = await this.#open();
    const output = await this.#send<ListObjectsV2CommandOutput>(
      'ListObjectsV2',
      new sdk.ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: root + prefix,
        MaxKeys: Math.min(limit, MAX_KEYS),
        // The cursor is the last key of the previous page: readable, and valid on any S3.
        ...(options.cursor === undefined ? {} : { StartAfter: root + options.cursor }),
      }),
    );
    this.#bucketSeen = true;
    const objects: ObjectInfo[] = [];
    let last: string | undefined;
    for (const object of output.Contents ?? []) {
      if (object.Key === undefined || !object.Key.startsWith(root)) continue;
      const key = object.Key.slice(root.length);
      last = key;
      // Folder markers (`a/b/`, made by consoles and some tools) are not objects.
      if (key === '' || key.endsWith('/')) continue;
      objects.push({
        key,
        size: object.Size ?? 0,
        lastModified: object.LastModified ?? new Date(0),
      });
    }
    return output.IsTruncated && last !== undefined ? { objects, cursor: last } : { objects };
  }

  async delete(keys: readonly string[]): Promise<void> {
    const s3Keys = keys.map((key) => this.#key(key));
    if (s3Keys.length === 0) return;
    const { sdk } = await this.#open();
    const failures: { key: string; code: string; message: string }[] = [];
    for (let start = 0; start < s3Keys.length; start += MAX_KEYS) {
      const batch = s3Keys.slice(start, start + MAX_KEYS);
      const output = await this.#send<DeleteObjectsCommandOutput>(
        'DeleteObjects',
        new sdk.DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      for (const error of output.Errors ?? []) {
        if (error.Code === 'NoSuchKey') continue;
        const index = batch.indexOf(error.Key ?? '');
        failures.push({
          key: index < 0 ? (error.Key ?? '') : keys[start + index]!,
          code: error.Code ?? 'unknown',
          message: error.Message ?? '',
        });
      }
    }
    if (failures.length > 0) throw await this.#deleteFailure(failures, keys.length);
  }

  /** Destroys the client the storage created; a client you passed in stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ready && !this.#options.client) {
      const { client } = await this.#ready.catch(() => ({ client: undefined }));
      client?.destroy();
    }
  }

  #key(key: string): string {
    validateObjectKey(key);
    return this.prefix === undefined ? key : `${this.prefix}/${key}`;
  }

  #open(): Promise<{ sdk: S3Sdk; client: S3ClientLike }> {
    if (this.#closed) {
      return Promise.reject(
        new FeatureStoreError(
          'UNAVAILABLE',
          `the s3 object storage on ${this.#location()} is closed: create a new S3ObjectStorage`,
        ),
      );
    }
    if (!this.#ready) {
      const ready = (async () => {
        const sdk = await loadModule(
          's3 object storage',
          '@aws-sdk/client-s3',
          () => import('@aws-sdk/client-s3'),
        );
        const client = this.#options.client ?? (await createS3Client(this.#options));
        return { sdk, client };
      })();
      // A failed start (a missing package, a bad endpoint) is tried again on the next call.
      ready.catch(() => {
        if (this.#ready === ready) this.#ready = undefined;
      });
      this.#ready = ready;
    }
    return this.#ready;
  }

  async #send<T>(operation: string, command: S3CommandLike, key?: string): Promise<T> {
    const { client } = await this.#open();
    try {
      return (await client.send(command)) as T;
    } catch (error) {
      throw await this.#convert(error, operation, key);
    }
  }

  async #upload(key: string, s3Key: string, body: Readable | Uint8Array): Promise<void> {
    const { client } = await this.#open();
    const { Upload } = await loadModule(
      's3 object storage',
      '@aws-sdk/lib-storage',
      () => import('@aws-sdk/lib-storage'),
    );
    const upload = new Upload({
      client: client as S3Client,
      params: { Bucket: this.bucket, Key: s3Key, Body: body },
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      // An abandoned multipart upload keeps its parts (and their cost) until aborted.
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      throw await this.#convert(error, 'Upload', key);
    }
  }

  async #checkBucket(): Promise<void> {
    if (this.#bucketSeen) return;
    const { sdk } = await this.#open();
    try {
      await this.#send('HeadBucket', new sdk.HeadBucketCommand({ Bucket: this.bucket }));
      this.#bucketSeen = true;
    } catch (error) {
      const code = (error as FeatureStoreError).code;
      // Without s3:ListBucket the bucket cannot be checked; the object is just missing.
      if (code !== 'PERMISSION_DENIED') throw error;
    }
  }

  async #missing(operation: string, key: string): Promise<never> {
    throw await this.#convert(
      Object.assign(new Error('The specified key does not exist.'), {
        name: 'NoSuchKey',
        $metadata: { httpStatusCode: 404 },
        $fault: 'client',
      }),
      operation,
      key,
    );
  }

  async #convert(error: unknown, operation: string, key?: string): Promise<Error> {
    if (error instanceof FeatureStoreError) return error;
    const { client } = await this.#open().catch(() => ({ client: undefined }));
    this.#endpoint ??= client
      ? describeClient(client, this.#options.endpoint)
      : Promise.resolve(this.#options.endpoint ?? 'AWS S3');
    return convertS3Error(error, {
      operation,
      bucket: this.bucket,
      endpoint: await this.#endpoint,
      ...(key === undefined ? { uri: `s3://${this.#location()}` } : { key, uri: this.uri(key) }),
    });
  }

  async #deleteFailure(
    failures: { key: string; code: string; message: string }[],
    total: number,
  ): Promise<Error> {
    const first = failures[0]!;
    const converted = await this.#convert(
      Object.assign(new Error(first.message), {
        name: first.code,
        Code: first.code,
        $metadata: {},
        $fault: 'client',
      }),
      'DeleteObjects',
      first.key,
    );
    return partialDeleteError(failures, total, converted, { bucket: this.bucket });
  }

  #location(): string {
    return this.prefix === undefined ? this.bucket : `${this.bucket}/${this.prefix}`;
  }
}
