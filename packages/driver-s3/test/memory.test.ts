import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStorage } from '../src/index.js';
import { createBucket, deleteBucket, s3Client, s3Connection } from './s3-service.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

/**
 * V8 collects garbage buffers only after some 64 MiB of them piled up, so a bare `rss` reading
 * mostly measures its schedule. Collecting before each sample measures what the code holds.
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The highest resident set size seen while `work` runs, sampled after a collection. */
async function peakRss(work: () => Promise<void>): Promise<number> {
  let peak = 0;
  const sample = () => {
    gc();
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  sample();
  return peak;
}

/** 64 MiB in 64 KiB chunks, as a file or socket stream would deliver them. */
async function* generate(hash: ReturnType<typeof createHash>) {
  const chunk = 64 * 1024;
  for (let offset = 0; offset < SIZE; offset += chunk) {
    const block = Buffer.alloc(chunk, offset / MiB);
    hash.update(block);
    yield block;
  }
}

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
    // Load lib-storage and fill the allocator once, so the measurement sees the streaming only.
    await storage.put('warm-up', Buffer.alloc(11 * MiB));
    for await (const _ of await storage.get('warm-up'));
    gc();
    const before = process.memoryUsage().rss;
    const written = createHash('sha256');
    const read = createHash('sha256');
    const peak = await peakRss(async () => {
      await storage.put('large.bin', generate(written));
      for await (const chunk of await storage.get('large.bin')) read.update(chunk as Buffer);
    });
    expect(read.digest('hex')).toBe(written.digest('hex'));
    const growth = peak - before;
    console.log(`rss growth ${(growth / MiB).toFixed(1)} MiB streaming ${SIZE / MiB} MiB`);
    // (queueSize + 1) × partSize = 15 MiB of parts, plus the SDK's own buffers.
    expect(growth).toBeLessThan(SIZE / 2);
    await storage.close();
  }, 60_000);
});
