import { Readable } from 'node:stream';
import type { StoragePipelineOptions } from '@azure/storage-blob';
import {
  type ByteRange,
  countedBody,
  FeatureStoreError,
  type ListOptions,
  type ListPage,
  listPageLimit,
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
import {
  type AdlsClientSettings,
  type AdlsContainerClientLike,
  type AdlsCredential,
  type AdlsFileSystemClientLike,
  createContainerClient,
  createFileSystemClient,
  sasQuery,
} from './adls-clients.js';
import { normalizePrefix, parseAdlsUrl, validateAccount, validateFilesystem } from './adls-url.js';
import { convertAdlsError } from './errors.js';

export interface AdlsObjectStorageOptions {
  /** The filesystem, i.e. the blob container. It must exist (the driver never creates it). */
  filesystem: string;
  /** Every key lives under `prefix/`; listings never see keys outside it. */
  prefix?: string;
  /** The storage account name. */
  account: string;
  /** Default: `DefaultAzureCredential` from `@azure/identity` (an optional peer dependency). */
  credential?: AdlsCredential;
  /** Default `https://<account>.blob.<endpointSuffix>`; Azurite: `http://127.0.0.1:10000/devstoreaccount1`. */
  blobEndpoint?: string;
  /** Default `https://<account>.dfs.<endpointSuffix>` (or the blob endpoint with `.blob.` → `.dfs.`). */
  dfsEndpoint?: string;
  /** Default `core.windows.net`; e.g. `core.chinacloudapi.cn` in Azure China. */
  endpointSuffix?: string;
  /**
   * The account has a hierarchical namespace (ADLS Gen2) and its DFS endpoint: enables
   * `rename` (atomic, on the DFS endpoint). Off by default, and
   * for Azurite, which serves only the Blob endpoint.
   */
  hierarchicalNamespace?: boolean;
  /**
   * Your own blob `ContainerClient` for the filesystem (never closed by the storage). Exclusive
   * with `blobEndpoint` and `pipelineOptions`; `credential` is then used by `rename` only.
   */
  containerClient?: AdlsContainerClientLike;
  /** Retry and transport options of the SDK clients (`retryOptions: { maxTries, tryTimeoutInMs… }`). */
  pipelineOptions?: StoragePipelineOptions;
  /**
   * Block size of streamed puts in bytes (default 8 MiB). A streamed put holds at most
   * `maxBuffers × bufferSize` bytes; bodies up to one block are sent in a single Put Blob.
   */
  bufferSize?: number;
  /** Buffers of a streamed put (default 4), about ¾ of them uploading at once. */
  maxBuffers?: number;
}

/** Options of `AdlsObjectStorage.fromUrl`: everything the URL does not say. */
export type AdlsUrlOptions = Omit<
  AdlsObjectStorageOptions,
  'filesystem' | 'account' | 'prefix' | 'endpointSuffix'
>;

const MiB = 1024 * 1024;
const DEFAULT_BUFFER_SIZE = 8 * MiB;
const DEFAULT_MAX_BUFFERS = 4;
/** Block blobs have at most 50 000 blocks of at most 4000 MiB. */
const MAX_BUFFER_SIZE = 4000 * MiB;
const DEFAULT_PAGE = 1000;
/** Azure lists at most 5000 blobs per call. */
const MAX_PAGE = 5000;
/** A blob batch holds at most 256 sub-requests. */
const BATCH_SIZE = 256;
/** Deletes in flight at once when batches are not available. */
const DELETE_CONCURRENCY = 16;

/**
 * `ObjectStorage` on Azure Data Lake Storage Gen2, built on the Blob operations that every
 * ADLS Gen2 account (and the Azurite emulator) serves: block-blob uploads with bounded
 * buffers, ranged downloads, flat listings, batch deletes. Atomic rename, which only the DFS
 * endpoint of a hierarchical-namespace account offers, is enabled with
 * `hierarchicalNamespace: true`. The SDKs are loaded on first use.
 *
 * @example
 * const storage = AdlsObjectStorage.fromUrl('abfss://features@acme.dfs.core.windows.net/prod', {
 *   hierarchicalNamespace: true, // DefaultAzureCredential signs in
 * });
 * await storage.put('featuresets/1/v1/part-0.parquet', bytes);
 * await storage.rename!('staging/x.parquet', 'featuresets/1/v1/x.parquet');
 *
 * @example
 * // Azurite
 * const local = new AdlsObjectStorage({
 *   account: 'devstoreaccount1',
 *   filesystem: 'features',
 *   credential: { accountKey: 'Eby8vdM0…' },
 *   blobEndpoint: 'http://127.0.0.1:10000/devstoreaccount1',
 * });
 */
export class AdlsObjectStorage implements ObjectStorage {
  readonly driver = 'adls';
  readonly account: string;
  readonly filesystem: string;
  readonly prefix: string | undefined;
  readonly endpointSuffix: string;
  /** Atomic rename on the DFS endpoint; present only with `hierarchicalNamespace: true`. */
  declare readonly rename?: (from: string, to: string) => Promise<void>;
  readonly #settings: AdlsClientSettings;
  readonly #injected: AdlsContainerClientLike | undefined;
  readonly #bufferSize: number;
  readonly #maxBuffers: number;
  #container: Promise<AdlsContainerClientLike> | undefined;
  #fileSystem: Promise<AdlsFileSystemClientLike> | undefined;
  /** Set when the account refused a blob batch: deletes then go one by one. */
  #noBatch = false;
  #closed = false;

  constructor(options: AdlsObjectStorageOptions) {
    this.account = validateAccount(options.account);
    this.filesystem = validateFilesystem(options.filesystem);
    this.prefix = normalizePrefix(options.prefix);
    this.endpointSuffix = options.endpointSuffix ?? 'core.windows.net';
    if (options.containerClient) {
      const clashing = (['blobEndpoint', 'pipelineOptions'] as const).filter(
        (name) => options[name] !== undefined,
      );
      if (clashing.length > 0) {
        throw new ValidationError(
          `AdlsObjectStorage got both a containerClient and ${clashing.join(', ')}: configure the client you pass, or pass no client`,
          { details: { field: clashing[0] } },
        );
      }
    }
    const blobEndpoint = endpoint(
      'blobEndpoint',
      options.blobEndpoint ?? `https://${this.account}.blob.${this.endpointSuffix}`,
    );
    const hierarchical = options.hierarchicalNamespace === true;
    const derivedDfs = options.blobEndpoint?.includes('.blob.')
      ? blobEndpoint.replace('.blob.', '.dfs.')
      : options.blobEndpoint === undefined
        ? `https://${this.account}.dfs.${this.endpointSuffix}`
        : undefined;
    if (hierarchical && options.dfsEndpoint === undefined && derivedDfs === undefined) {
      throw new ValidationError(
        `hierarchicalNamespace needs the DFS endpoint, which cannot be derived from blobEndpoint ${blobEndpoint}: pass dfsEndpoint`,
        { details: { field: 'dfsEndpoint' } },
      );
    }
    this.#settings = {
      account: this.account,
      filesystem: this.filesystem,
      credential: options.credential,
      blobEndpoint,
      dfsEndpoint: endpoint('dfsEndpoint', options.dfsEndpoint ?? derivedDfs ?? blobEndpoint),
      pipelineOptions: options.pipelineOptions,
    };
    this.#injected = options.containerClient;
    this.#bufferSize = positiveInteger('bufferSize', options.bufferSize ?? DEFAULT_BUFFER_SIZE);
    if (this.#bufferSize > MAX_BUFFER_SIZE) {
      throw new ValidationError(
        `bufferSize ${this.#bufferSize} is above the 4000 MiB block limit`,
        {
          details: { field: 'bufferSize', value: this.#bufferSize },
        },
      );
    }
    this.#maxBuffers = positiveInteger('maxBuffers', options.maxBuffers ?? DEFAULT_MAX_BUFFERS);
    if (hierarchical) {
      Object.defineProperty(this, 'rename', {
        value: (from: string, to: string) => this.#rename(from, to),
        enumerable: true,
      });
    }
  }

  /**
   * Opens `abfss://filesystem@account.dfs.core.windows.net/prefix`.
   *
   * @example
   * AdlsObjectStorage.fromUrl('abfss://features@acme.dfs.core.windows.net/prod', {
   *   credential: { sasToken: process.env.FEATURES_SAS! },
   * });
   */
  static fromUrl(url: string, options: AdlsUrlOptions = {}): AdlsObjectStorage {
    const { filesystem, account, endpointSuffix, prefix } = parseAdlsUrl(url);
    return new AdlsObjectStorage({
      ...options,
      filesystem,
      account,
      endpointSuffix,
      ...(prefix === undefined ? {} : { prefix }),
    });
  }

  /** `abfss://filesystem@account.dfs.<suffix>/prefix/key`, the key as written. */
  uri(key: string): string {
    return `abfss://${this.filesystem}@${this.account}.dfs.${this.endpointSuffix}/${this.#name(key)}`;
  }

  async put(key: string, body: ObjectBody): Promise<ObjectInfo> {
    const blob = (await this.#client()).getBlockBlobClient(this.#name(key));
    try {
      if (typeof body === 'string' || body instanceof Uint8Array) {
        const bytes = typeof body === 'string' ? Buffer.from(body) : body;
        const response =
          bytes.byteLength <= this.#bufferSize
            ? await blob.upload(bytes, bytes.byteLength)
            : await blob.uploadData(bytes, {
                blockSize: this.#bufferSize,
                concurrency: this.#maxBuffers,
                maxSingleShotSize: this.#bufferSize,
              });
        return { key, size: bytes.byteLength, lastModified: response.lastModified ?? new Date() };
      }
      const counted = countedBody(body);
      const response = await blob.uploadStream(counted.stream, this.#bufferSize, this.#maxBuffers);
      return { key, size: counted.bytes(), lastModified: response.lastModified ?? new Date() };
    } catch (error) {
      throw this.#convert(error, 'upload', key);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const blob = (await this.#client()).getBlockBlobClient(this.#name(key));
    if (range) validateByteRange(range, key);
    if (range?.length === 0) {
      // No HTTP range names zero bytes; the object must still exist.
      if (!(await this.head(key))) throw this.#missing('download', key);
      return Readable.from([]);
    }
    const offset = range?.offset ?? 0;
    try {
      const response = await blob.download(offset, range?.length);
      return (response.readableStreamBody as Readable | undefined) ?? Readable.from([]);
    } catch (error) {
      const converted = this.#convert(error, 'download', key);
      if (!range || (error as { statusCode?: number }).statusCode !== 416) throw converted;
      const size = (await this.head(key))?.size;
      if (size === undefined) throw this.#missing('download', key);
      rangeAtOrPastEnd(key, range, size, converted);
      return Readable.from([]);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const blob = (await this.#client()).getBlockBlobClient(this.#name(key));
    try {
      const properties = await blob.getProperties();
      // On a hierarchical namespace, directories answer too, as empty blobs marked so.
      if (properties.metadata?.hdi_isfolder === 'true') return undefined;
      return {
        key,
        size: properties.contentLength ?? 0,
        lastModified: properties.lastModified ?? new Date(0),
      };
    } catch (error) {
      const converted = this.#convert(error, 'getProperties', key);
      const code = (converted as FeatureStoreError).details?.azureCode;
      if ((converted as FeatureStoreError).code === 'NOT_FOUND' && code !== 'ContainerNotFound') {
        return undefined;
      }
      throw converted;
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    validateListPrefix(prefix);
    const limit = listPageLimit(options, DEFAULT_PAGE);
    const root = this.prefix === undefined ? '' : `${this.prefix}/`;
    const client = await this.#client();
    try {
      const pages = client.listBlobsFlat({ prefix: root + prefix, includeMetadata: true }).byPage({
        maxPageSize: Math.min(limit, MAX_PAGE),
        ...(options.cursor === undefined ? {} : { continuationToken: options.cursor }),
      });
      const { value: page } = await pages.next();
      const objects: ObjectInfo[] = [];
      for (const item of page?.segment.blobItems ?? []) {
        if (!item.name.startsWith(root)) continue;
        const key = item.name.slice(root.length);
        // Directory entries (hierarchical namespace, or tools that mark folders) are not objects.
        if (key === '' || key.endsWith('/') || item.metadata?.hdi_isfolder === 'true') continue;
        objects.push({
          key,
          size: item.properties.contentLength ?? 0,
          lastModified: item.properties.lastModified,
        });
      }
      const cursor = page?.continuationToken;
      return cursor ? { objects, cursor } : { objects };
    } catch (error) {
      throw this.#convert(error, 'listBlobs');
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    const names = keys.map((key) => this.#name(key));
    if (names.length === 0) return;
    const client = await this.#client();
    const failures: { key: string; code: string; status: number }[] = [];
    for (let start = 0; start < names.length; start += BATCH_SIZE) {
      const chunk = names.slice(start, start + BATCH_SIZE);
      const chunkKeys = keys.slice(start, start + BATCH_SIZE);
      if (!this.#noBatch && (await this.#deleteBatch(client, chunk, chunkKeys, failures))) continue;
      await this.#deleteEach(client, chunk, chunkKeys, failures);
    }
    if (failures.length > 0) throw this.#deleteFailure(failures, keys.length);
  }

  /** The SDK clients hold no connections of their own; later calls are refused. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Deletes one batch; false when the account does not take batches (then never again). */
  async #deleteBatch(
    client: AdlsContainerClientLike,
    names: string[],
    keys: readonly string[],
    failures: { key: string; code: string; status: number }[],
  ): Promise<boolean> {
    let response: Awaited<ReturnType<ReturnType<typeof client.getBlobBatchClient>['deleteBlobs']>>;
    try {
      response = await client
        .getBlobBatchClient()
        .deleteBlobs(names.map((name) => client.getBlockBlobClient(name)));
    } catch (error) {
      const converted = this.#convert(error, 'deleteBatch');
      const code = (converted as FeatureStoreError).code;
      if (['NOT_FOUND', 'UNAUTHENTICATED', 'PERMISSION_DENIED', 'UNAVAILABLE'].includes(code)) {
        throw converted;
      }
      this.#noBatch = true;
      return false;
    }
    response.subResponses.forEach((sub, i) => {
      if (sub.status < 300 || sub.errorCode === 'BlobNotFound') return;
      failures.push({
        key: keys[i]!,
        code: sub.errorCode ?? String(sub.status),
        status: sub.status,
      });
    });
    return true;
  }

  async #deleteEach(
    client: AdlsContainerClientLike,
    names: string[],
    keys: readonly string[],
    failures: { key: string; code: string; status: number }[],
  ): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const i = next++;
        try {
          await client.getBlockBlobClient(names[i]!).deleteIfExists();
        } catch (error) {
          const native = error as { statusCode?: number; code?: string; details?: unknown };
          const code = (native.details as { errorCode?: string } | undefined)?.errorCode;
          if (native.statusCode === undefined) throw this.#convert(error, 'delete', keys[i]);
          failures.push({
            key: keys[i]!,
            code: code ?? native.code ?? '',
            status: native.statusCode,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, names.length) }, worker));
  }

  async #rename(from: string, to: string): Promise<void> {
    const source = this.#name(from);
    const target = this.#name(to);
    const fileSystem = await this.#dfs();
    const file = fileSystem.getFileClient(source);
    // The SDK puts the destination into a URL path as given: escape `%`, `?` and `#` first.
    const destination =
      target.split('/').map(encodeURIComponent).join('/') + sasQuery(this.#settings.credential);
    try {
      try {
        await file.move(destination);
      } catch (error) {
        const code = (error as { details?: { errorCode?: string } }).details?.errorCode;
        if (code !== 'RenameDestinationParentPathNotFound') throw error;
        const parent = target.slice(0, target.lastIndexOf('/'));
        await fileSystem.getDirectoryClient(parent).createIfNotExists();
        await file.move(destination);
      }
    } catch (error) {
      throw this.#convert(error, 'rename', from, this.#settings.dfsEndpoint);
    }
  }

  #name(key: string): string {
    validateObjectKey(key);
    return this.prefix === undefined ? key : `${this.prefix}/${key}`;
  }

  async #client(): Promise<AdlsContainerClientLike> {
    this.#assertOpen();
    if (this.#injected) return this.#injected;
    if (!this.#container) {
      const created = createContainerClient(this.#settings);
      // A failed start (a missing package, a credential) is tried again on the next call.
      created.catch(() => {
        if (this.#container === created) this.#container = undefined;
      });
      this.#container = created;
    }
    return this.#container;
  }

  async #dfs(): Promise<AdlsFileSystemClientLike> {
    this.#assertOpen();
    if (!this.#fileSystem) {
      const created = createFileSystemClient(this.#settings);
      created.catch(() => {
        if (this.#fileSystem === created) this.#fileSystem = undefined;
      });
      this.#fileSystem = created;
    }
    return this.#fileSystem;
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new FeatureStoreError(
        'UNAVAILABLE',
        `the adls object storage on ${this.#location()} is closed: create a new AdlsObjectStorage`,
      );
    }
  }

  #convert(error: unknown, operation: string, key?: string, endpoint?: string): Error {
    return convertAdlsError(error, {
      operation,
      account: this.account,
      filesystem: this.filesystem,
      endpoint: endpoint ?? this.#settings.blobEndpoint,
      ...(key === undefined ? { uri: `abfss://${this.#location()}` } : { key, uri: this.uri(key) }),
    });
  }

  #missing(operation: string, key: string): Error {
    return this.#convert(
      {
        name: 'RestError',
        statusCode: 404,
        code: 'BlobNotFound',
        message: 'The specified blob does not exist.',
      },
      operation,
      key,
    );
  }

  #deleteFailure(failures: { key: string; code: string; status: number }[], total: number): Error {
    const first = failures[0]!;
    const converted = this.#convert(
      { name: 'RestError', statusCode: first.status, details: { errorCode: first.code } },
      'delete',
      first.key,
    );
    // The whole filesystem is missing: that is the one thing to say.
    if (first.code === 'ContainerNotFound') return converted;
    return partialDeleteError(failures, total, converted, { filesystem: this.filesystem });
  }

  #location(): string {
    const host = `${this.filesystem}@${this.account}.dfs.${this.endpointSuffix}`;
    return this.prefix === undefined ? host : `${host}/${this.prefix}`;
  }
}

function endpoint(field: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (error) {
    throw new ValidationError(
      `${field} ${JSON.stringify(value)} is not a URL: use e.g. https://acme.blob.core.windows.net`,
      { cause: error, details: { field, value } },
    );
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw new ValidationError(
      `${field} ${JSON.stringify(value)} must be an http(s) URL without a query (pass a SAS as credential: { sasToken })`,
      { details: { field, value } },
    );
  }
  return value.replace(/\/+$/, '');
}
