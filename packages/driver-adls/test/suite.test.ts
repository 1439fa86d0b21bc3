import type { ObjectStorage } from '@featurestore/core/driver';
import { objectStorageConformance } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { AdlsObjectStorage } from '../src/index.js';
import { azuriteConnection, azuriteService, createFilesystem } from './azurite-service.js';

const api = { describe, it, beforeAll, afterAll };

/** The same filesystem rooted under `prefix` of `storage`. */
async function openAt(storage: ObjectStorage, prefix: string): Promise<ObjectStorage> {
  const { blobEndpoint, credential } = azuriteConnection();
  return AdlsObjectStorage.fromUrl(storage.uri(prefix), { blobEndpoint, credential });
}

describe('ADLS on the Blob endpoint (Azurite)', () => {
  const service = azuriteService();
  let filesystem: string;
  beforeAll(async () => {
    filesystem = (await createFilesystem(service)).containerName;
  });
  afterAll(async () => {
    if (filesystem) await service.getContainerClient(filesystem).deleteIfExists();
  });

  describe('at the filesystem root', () => {
    objectStorageConformance(
      api,
      async () => new AdlsObjectStorage({ ...azuriteConnection(), filesystem }),
      { uriScheme: 'abfss:', openAt },
    );
  });

  describe('under a prefix', () => {
    objectStorageConformance(
      api,
      async () =>
        AdlsObjectStorage.fromUrl(
          `abfss://${filesystem}@devstoreaccount1.dfs.core.windows.net/tenant a/データ`,
          {
            blobEndpoint: azuriteConnection().blobEndpoint,
            credential: azuriteConnection().credential,
          },
        ),
      // Pages across 1000 keys are proven at the root; here the cursor case covers the prefix.
      { uriScheme: 'abfss:', largeObjectBytes: 0, manyKeys: 30, bulkDeleteKeys: 30, openAt },
    );
  });
});
