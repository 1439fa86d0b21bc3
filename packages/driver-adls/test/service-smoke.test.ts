import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, describe, expect, it } from 'vitest';

describe('Azurite test service', () => {
  const service = BlobServiceClient.fromConnectionString(
    serviceEnv('FEATURESTORE_TEST_AZURITE_CONNECTION_STRING'),
  );
  const container = service.getContainerClient(`smoke-${randomUUID()}`);

  afterAll(async () => {
    await container.deleteIfExists();
  });

  it('uploads and downloads a blob', async () => {
    await container.create();
    const blob = container.getBlockBlobClient('dir/smoke.txt');
    const body = Buffer.from(`hello from ${container.containerName}`);

    await blob.upload(body, body.length);
    const downloaded = await blob.downloadToBuffer();

    expect(downloaded.equals(body)).toBe(true);
  });
});
