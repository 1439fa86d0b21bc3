import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { LocalFileStorage } from '../src/index.js';
import { objectStorageConformance } from '../src/testing/index.js';

const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

objectStorageConformance(
  { describe, it, beforeAll, afterAll },
  async () => {
    const root = await mkdtemp(join(tmpdir(), 'featurestore-local-'));
    roots.push(root);
    return new LocalFileStorage(root);
  },
  {
    uriScheme: 'file:',
    rename: true,
    openAt: async (storage, prefix) =>
      new LocalFileStorage((storage as LocalFileStorage).pathOf(prefix)),
  },
);
