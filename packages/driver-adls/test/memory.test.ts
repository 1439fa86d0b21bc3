import type { ContainerClient } from '@azure/storage-blob';
import { streamingRssGrowth } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdlsObjectStorage } from '../src/index.js';
import { azuriteConnection, azuriteService, createFilesystem } from './azurite-service.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

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
    const growth = await streamingRssGrowth(storage, SIZE);
    console.log(`rss growth ${(growth / MiB).toFixed(1)} MiB streaming ${SIZE / MiB} MiB`);
    // maxBuffers × bufferSize = 16 MiB of pooled buffers, plus the SDK's own.
    // Holding the object would take 64 MiB or more; the process's own allocations (the test
    // runner's, the other worker threads') add noise up to ~20 MiB on a busy machine.
    expect(growth).toBeLessThan(SIZE * 0.75);
  }, 60_000);
});
