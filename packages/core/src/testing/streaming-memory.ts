import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ObjectStorage } from '../ports/object-storage.js';

const MiB = 1024 * 1024;

/**
 * V8 collects garbage buffers only after some 64 MiB of them piled up, so a bare `rss` reading
 * mostly measures its schedule. Collecting before each sample measures what the code holds.
 */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** `size` bytes in 64 KiB chunks, as a file or socket stream would deliver them. */
async function* generate(size: number, hash: ReturnType<typeof createHash>) {
  const chunk = 64 * 1024;
  for (let offset = 0; offset < size; offset += chunk) {
    const block = Buffer.alloc(Math.min(chunk, size - offset), Math.floor(offset / MiB));
    hash.update(block);
    yield block;
  }
}

/**
 * Streams an object of `size` bytes up and down through `storage` (checking the bytes) and
 * returns how far the resident set grew at its peak. Run it in a test file of its own, so
 * other suites' buffers do not blur the measurement.
 *
 * @example
 * const growth = await streamingRssGrowth(storage, 64 * 1024 * 1024);
 * expect(growth).toBeLessThan(32 * 1024 * 1024);
 */
export async function streamingRssGrowth(storage: ObjectStorage, size: number): Promise<number> {
  const gc = collector();
  // Load the SDK and fill the allocator once, so the measurement sees the streaming only.
  await storage.put('memory-warm-up', Buffer.alloc(11 * MiB));
  for await (const _ of await storage.get('memory-warm-up'));
  gc();
  const before = process.memoryUsage().rss;
  let peak = 0;
  const sample = () => {
    gc();
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const written = createHash('sha256');
  const read = createHash('sha256');
  const timer = setInterval(sample, 20);
  try {
    await storage.put('memory-large.bin', generate(size, written));
    for await (const chunk of await storage.get('memory-large.bin')) read.update(chunk as Buffer);
  } finally {
    clearInterval(timer);
  }
  sample();
  assert.equal(
    read.digest('hex'),
    written.digest('hex'),
    'the bytes read back are the bytes written',
  );
  await storage.delete(['memory-warm-up', 'memory-large.bin']);
  return peak - before;
}
