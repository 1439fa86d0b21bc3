import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  type ByteRange,
  type ListOptions,
  type ListPage,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStorage,
  type StorageLocator,
  storagesLocator,
} from '@featurestore/core';
import { driverOptions, type FeatureStoreConfig } from './config.js';
import { DriverRegistry } from './driver-registry.js';

/** `scheme://authority` and the key after it: how a source URI names a storage and an object. */
const STORAGE_URI = /^([a-z][a-z0-9+.-]*:\/\/[^/]*)\/?(.*)$/i;

/**
 * A storage opened on first use: sources name buckets and filesystems the configuration does
 * not list, and opening one (loading its driver, validating its options) is asynchronous while
 * a locator answers at once. `uri(key)` is `<root>/<key>`, as every storage driver writes it.
 */
class StorageOnFirstUse implements ObjectStorage {
  readonly driver: string;
  readonly #root: string;
  readonly #storage: Promise<ObjectStorage>;

  constructor(root: string, open: (root: string) => Promise<ObjectStorage>) {
    this.#root = root;
    this.driver = root.slice(0, root.indexOf(':'));
    this.#storage = open(root);
    // Reported by the first call that uses it, not as an unhandled rejection.
    this.#storage.catch(() => {});
  }

  uri(key: string): string {
    return `${this.#root}/${key}`;
  }
  async put(key: string, body: ObjectBody): Promise<ObjectInfo> {
    return (await this.#storage).put(key, body);
  }
  async get(key: string, range?: ByteRange): Promise<Readable> {
    return (await this.#storage).get(key, range);
  }
  async head(key: string): Promise<ObjectInfo | undefined> {
    return (await this.#storage).head(key);
  }
  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return (await this.#storage).list(prefix, options);
  }
  async delete(keys: readonly string[]): Promise<void> {
    return (await this.#storage).delete(keys);
  }
  async close(): Promise<void> {
    const storage = await this.#storage.catch(() => undefined);
    await storage?.close?.();
  }
}

/**
 * The store's own storage, plus one storage per bucket or filesystem that a source URI names
 * (opened through the drivers on first use, closed with the store).
 */
export class StorageRegistry {
  readonly main: ObjectStorage;
  readonly locate: StorageLocator;
  readonly #opened = new Map<string, StorageOnFirstUse>();

  constructor(main: ObjectStorage, open: (root: string) => Promise<ObjectStorage>) {
    this.main = main;
    this.locate = storagesLocator([main], (uri) => {
      const match = STORAGE_URI.exec(uri);
      if (!match) return undefined;
      const [, root, key] = match;
      let storage = this.#opened.get(root!);
      if (!storage) {
        storage = new StorageOnFirstUse(root!, open);
        this.#opened.set(root!, storage);
      }
      return { storage, key: key! };
    });
  }

  async close(): Promise<void> {
    for (const storage of this.#opened.values()) await storage.close();
  }
}

export function defaultStorageUrl(storeDir: string): string {
  return pathToFileURL(join(storeDir, 'data')).href;
}

/**
 * Opens the storage a URL names (`file://`, `s3://`, `abfss://`, or a plugin's scheme) with
 * the config's driver options: for tools and tests that write sources beside a store.
 */
export function openStorageUrl(
  url: string,
  config: FeatureStoreConfig,
  registry: DriverRegistry = new DriverRegistry(),
): Promise<ObjectStorage> {
  const context = {
    storeDir: resolve(config.store),
    clientId: 'featurestore',
    metadataSchema: config.metadataSchema,
  };
  return registry.open('storage', url, driverOptions(config), context, 'storage');
}
