import { objectStorageConformance } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { S3ObjectStorage } from '../src/index.js';
import { createBucket, deleteBucket, s3Client, s3Connection } from './s3-service.js';

const api = { describe, it, beforeAll, afterAll };

describe('S3 (moto)', () => {
  const admin = s3Client();
  let bucket: string;
  beforeAll(async () => {
    bucket = await createBucket(admin);
  });
  afterAll(async () => {
    if (bucket) await deleteBucket(admin, bucket);
    admin.destroy();
  }, 60_000);

  describe('at the bucket root', () => {
    objectStorageConformance(api, async () => new S3ObjectStorage({ bucket, ...s3Connection() }), {
      uriScheme: 's3:',
      openAt: async (storage, prefix) =>
        S3ObjectStorage.fromUrl(storage.uri(prefix), s3Connection()),
    });
  });

  describe('under a prefix', () => {
    objectStorageConformance(
      api,
      async () => S3ObjectStorage.fromUrl(`s3://${bucket}/tenant a/データ`, s3Connection()),
      // Pages across 1000 keys are proven at the root; here the cursor case covers the prefix.
      {
        uriScheme: 's3:',
        largeObjectBytes: 0,
        manyKeys: 30,
        bulkDeleteKeys: 30,
        openAt: async (storage, prefix) =>
          S3ObjectStorage.fromUrl(storage.uri(prefix), s3Connection()),
      },
    );
  });
});
