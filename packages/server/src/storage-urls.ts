import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  LocalFileStorage,
  type LocatedObject,
  makePrivateFolder,
  type ObjectStorage,
  type StorageLocator,
  storagesLocator,
} from '@featurestore/core';
import { AdlsObjectStorage, type AdlsUrlOptions, parseAdlsUrl } from '@featurestore/driver-adls';
import { parseS3Url, S3ObjectStorage, type S3UrlOptions } from '@featurestore/driver-s3';
import type { FeatureStoreConfig } from './config.js';

function s3Options(config: FeatureStoreConfig): S3UrlOptions {
  const { endpoint, region, forcePathStyle, accessKeyId, secretAccessKey } = config.s3;
  return {
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    ...(forcePathStyle === undefined ? {} : { forcePathStyle }),
    ...(accessKeyId !== undefined && secretAccessKey !== undefined
      ? { credentials: { accessKeyId, secretAccessKey } }
      : {}),
  };
}

function adlsOptions(config: FeatureStoreConfig): AdlsUrlOptions {
  const { accountKey, sasToken, blobEndpoint, hierarchicalNamespace } = config.azure;
  return {
    ...(accountKey !== undefined
      ? { credential: { accountKey } }
      : sasToken !== undefined
        ? { credential: { sasToken } }
        : {}),
    ...(blobEndpoint === undefined ? {} : { blobEndpoint }),
    ...(hierarchicalNamespace === undefined ? {} : { hierarchicalNamespace }),
  };
}

/** Opens the storage a `file://`, `s3://` or `abfss://` URL names, with the config's settings. */
export async function openStorageUrl(
  url: string,
  config: FeatureStoreConfig,
): Promise<ObjectStorage> {
  if (url.startsWith('s3://')) return S3ObjectStorage.fromUrl(url, s3Options(config));
  if (url.startsWith('abfss://')) return AdlsObjectStorage.fromUrl(url, adlsOptions(config));
  const root = fileURLToPath(url);
  await makePrivateFolder(root);
  return new LocalFileStorage(root);
}

/**
 * The store's own storage, plus one storage per bucket or filesystem that a source URL names
 * (opened on first use, closed with the store).
 */
export class StorageRegistry {
  readonly main: ObjectStorage;
  readonly #config: FeatureStoreConfig;
  readonly #opened = new Map<string, ObjectStorage>();
  readonly locate: StorageLocator;

  constructor(main: ObjectStorage, config: FeatureStoreConfig) {
    this.main = main;
    this.#config = config;
    this.locate = storagesLocator([main], (uri) => this.#open(uri));
  }

  #open(uri: string): LocatedObject | undefined {
    let root: string;
    let key: string;
    if (uri.startsWith('s3://')) {
      const { bucket, prefix } = parseS3Url(uri);
      root = `s3://${bucket}`;
      key = prefix ?? '';
    } else if (uri.startsWith('abfss://')) {
      const { filesystem, account, endpointSuffix, prefix } = parseAdlsUrl(uri);
      root = `abfss://${filesystem}@${account}.dfs.${endpointSuffix}`;
      key = prefix ?? '';
    } else {
      return undefined;
    }
    let storage = this.#opened.get(root);
    if (!storage) {
      storage = root.startsWith('s3://')
        ? S3ObjectStorage.fromUrl(root, s3Options(this.#config))
        : AdlsObjectStorage.fromUrl(root, adlsOptions(this.#config));
      this.#opened.set(root, storage);
    }
    return { storage, key };
  }

  async close(): Promise<void> {
    for (const storage of this.#opened.values()) await storage.close?.();
  }
}

export function defaultStorageUrl(storeDir: string): string {
  return pathToFileURL(join(storeDir, 'data')).href;
}
