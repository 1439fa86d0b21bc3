import type { S3Client } from '@aws-sdk/client-s3';
import { streamingRssGrowth } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStorage } from '../src/index.js';
import { createBucket, deleteBucket, s3Client, s3Connection } from './s3-service.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

// Its own file, so its own worker: the other suites' buffers do not blur the measurement.
describe('S3ObjectStorage memory', () => {
  const admin: S3Client = s3Client();
  let bucket: string;
  beforeAll(async () => {
    bucket = await createBucket(admin);
  });
  afterAll(async () => {
    if (bucket) await deleteBucket(admin, bucket);
    admin.destroy();
  }, 60_000);

  it('stays bounded while streaming a 64 MiB object up and down', async () => {
    const storage = new S3ObjectStorage({
      bucket,
      ...s3Connection(),
      partSize: 5 * MiB,
      queueSize: 2,
    });
    const growth = await streamingRssGrowth(storage, SIZE);
    console.log(`rss growth ${(growth / MiB).toFixed(1)} MiB streaming ${SIZE / MiB} MiB`);
    // (queueSize + 1) × partSize = 15 MiB of parts, plus the SDK's own buffers.
    // Holding the object would take 64 MiB or more; the process's own allocations (the test
    // runner's, the other worker threads') add noise up to ~20 MiB on a busy machine.
    expect(growth).toBeLessThan(SIZE * 0.75);
    await storage.close();
  }, 60_000);
});
