import { randomUUID } from 'node:crypto';
import {
  BlobServiceClient,
  type ContainerClient,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { serviceEnv } from '@featurestore/core/testing';

/** How the tests reach the Azurite blob endpoint `scripts/services up` started. */
export function azuriteConnection() {
  return {
    account: serviceEnv('FEATURESTORE_TEST_AZURITE_ACCOUNT'),
    blobEndpoint: serviceEnv('FEATURESTORE_TEST_AZURITE_BLOB_URL'),
    credential: { accountKey: serviceEnv('FEATURESTORE_TEST_AZURITE_KEY') },
  };
}

export function sharedKey(): StorageSharedKeyCredential {
  const { account, credential } = azuriteConnection();
  return new StorageSharedKeyCredential(account, credential.accountKey);
}

export function azuriteService(): BlobServiceClient {
  return new BlobServiceClient(azuriteConnection().blobEndpoint, sharedKey());
}

/** A fresh container (filesystem) for one test file; Azurite's data is shared by every run. */
export async function createFilesystem(service: BlobServiceClient): Promise<ContainerClient> {
  const container = service.getContainerClient(`featurestore-test-${randomUUID().slice(0, 13)}`);
  await container.create();
  return container;
}
