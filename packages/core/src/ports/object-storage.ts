import type { Readable } from 'node:stream';

/** What `head` and `list` report about a stored object. */
export interface ObjectInfo {
  /** The key relative to the storage root, `/`-separated. */
  key: string;
  size: number;
  lastModified: Date;
}

export type ObjectBody = Uint8Array | string | Readable | AsyncIterable<Uint8Array>;

/** A byte range: `offset` inclusive, `length` bytes (to the end when omitted). */
export interface ByteRange {
  offset: number;
  length?: number;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** Pass back to `list` for the next page; absent on the last page. */
  cursor?: string;
}

export interface ListOptions {
  cursor?: string;
  /** Upper bound of objects per page; drivers may return fewer. */
  limit?: number;
}

/**
 * Where the offline store keeps data files. Keys are relative, `/`-separated paths; names with
 * spaces and unicode are allowed, `..`, empty segments and backslashes are not.
 *
 * Every driver runs `objectStorageConformance` from `@featurestore/core/testing`.
 */
export interface ObjectStorage {
  /** A short driver name used in error messages (`local`, `s3`, `adls`). */
  readonly driver: string;
  /** The URI of a key that a compute engine can open (`file:///…`, `s3://…`, `abfss://…`). */
  uri(key: string): string;
  /**
   * Writes the whole object, replacing any previous one, atomically: a reader sees the whole old
   * or the whole new object, never a part. Streams are consumed once.
   */
  put(key: string, body: ObjectBody): Promise<ObjectInfo>;
  /** Streams the object or a range of it; `NotFoundError` when it does not exist. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** `undefined` when the object does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Objects whose key starts with `prefix`, in ascending key order, one page at a time. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Deletes the objects that exist; missing keys are not an error. */
  delete(keys: readonly string[]): Promise<void>;
  /** An atomic rename, present only where the backend has one (local, ADLS with a hierarchical namespace). */
  rename?(from: string, to: string): Promise<void>;
  close?(): Promise<void>;
}
