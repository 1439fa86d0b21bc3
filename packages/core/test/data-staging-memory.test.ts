import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageData } from '../src/data/staged-data.js';
import type { FeatureSetSchema } from '../src/index.js';
import { LocalFileStorage } from '../src/index.js';
import { StagedUploads } from '../src/offline/staged-uploads.js';

// Rows given to `ingest` as an async iterable are staged as they are read: memory holds about
// a megabyte of JSON Lines at a time, however many rows the source yields.

const MiB = 1024 * 1024;

const schema: FeatureSetSchema = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'amount', type: 'int64' },
    { name: 'note', type: 'string' },
  ],
};

describe('staging rows from an async iterable', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'featurestore-staging-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('streams 48 MiB of rows to storage in bounded memory', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const storage = new LocalFileStorage(root);
    const note = 'x'.repeat(200);
    const count = 200_000;
    async function* rows() {
      for (let i = 0; i < count; i++) {
        yield { id: `r${i}`, ts: new Date(1_700_000_000_000 + i), amount: BigInt(i) ** 3n, note };
      }
    }
    gc();
    const before = process.memoryUsage();
    let peak = 0;
    const sample = () => {
      gc();
      const now = process.memoryUsage();
      peak = Math.max(
        peak,
        now.heapUsed + now.arrayBuffers - (before.heapUsed + before.arrayBuffers),
      );
    };
    const timer = setInterval(sample, 50);
    let staged: Awaited<ReturnType<typeof stageData>>;
    try {
      staged = await stageData(new StagedUploads(storage), rows(), schema, {});
    } finally {
      clearInterval(timer);
    }
    sample();
    expect(staged.upload.size).toBeGreaterThan(48 * MiB);
    // Holding the text of the rows would take some 60 MiB.
    expect(peak).toBeLessThan(24 * MiB);

    let lines = 0;
    let last = '';
    const file = storage.pathOf(staged.upload.key);
    for await (const line of createInterface({ input: createReadStream(file) })) {
      lines++;
      last = line;
    }
    expect(lines).toBe(count);
    expect(JSON.parse(last)).toEqual({
      id: `r${count - 1}`,
      ts: new Date(1_700_000_000_000 + count - 1).toISOString(),
      amount: Number((BigInt(count - 1) ** 3n).toString()),
      note,
    });
    expect(last).toContain(`"amount":${(BigInt(count - 1) ** 3n).toString()}`);
    await new StagedUploads(storage).remove(staged.upload);
  }, 60_000);
});
