import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdlsObjectStorage } from '../src/index.js';
import { azuriteConnection, azuriteService, createFilesystem } from './azurite-service.js';

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
describe('AdlsObjectStorage memory', () => {
  const service = azuriteService();
  let container: ContainerClient;
  beforeAll(async () => {
    container = await createFilesystem(service);
  });
  afterAll(async () => {
    await container?.deleteIfExists();
  });

  it('stays bounded while streaming a 64 MiB object up and down', async () => {
    const storage = new AdlsObjectStorage({
      ...azuriteConnection(),
      filesystem: container.containerName,
      bufferSize: 4 * MiB,
      maxBuffers: 4,
    });
    // Load the SDK and fill the allocator once, so the measurement sees the streaming only.
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
    // maxBuffers × bufferSize = 16 MiB of pooled buffers, plus the SDK's own.
    expect(growth).toBeLessThan(SIZE / 2);
  }, 60_000);
});
