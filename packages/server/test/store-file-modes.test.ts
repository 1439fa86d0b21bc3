import { chmod, lstat, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openFeatureStore } from '../src/index.js';
import { tempStore, until } from './helpers.js';

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
  ],
};

/**
 * Every entry under `root` (itself included) whose mode is not 0700 (folders) or 0600 (files),
 * except those under `skip`. Entries removed while walking (a staging folder) are passed over.
 */
async function looseModes(root: string, skip?: string): Promise<string[]> {
  const loose: string[] = [];
  const visit = async (path: string): Promise<void> => {
    if (skip !== undefined && path.startsWith(`${skip}/`)) return;
    const info = await lstat(path).catch(() => undefined);
    const mode = (info?.mode ?? 0) & 0o777;
    if (info?.isFile() && mode !== 0o600) loose.push(`${path} ${mode.toString(8)}`);
    if (!info?.isDirectory()) return;
    if (mode !== 0o700) loose.push(`${path} ${mode.toString(8)}`);
    for (const name of await readdir(path).catch(() => [])) await visit(join(path, name));
  };
  await visit(root);
  return loose;
}

describe('the embedded store is private to its owner', () => {
  let scratch: Awaited<ReturnType<typeof tempStore>>;
  let umask: number;
  beforeAll(async () => {
    scratch = await tempStore();
  });
  afterAll(async () => scratch.remove());
  // The usual umask lets everyone read what is created with default modes.
  beforeEach(() => {
    umask = process.umask(0o022);
  });
  afterEach(() => {
    process.umask(umask);
  });

  it('creates every folder 0700 and every file 0600 through an ingest, a retrieve and a push', async () => {
    const storeDir = join(scratch.dir, 'store');
    const source = join(scratch.dir, 'customers.csv');
    await writeFile(source, 'customer_id,ts,age\nc1,2026-01-01T00:00:00Z,30\n');
    const fs = await openFeatureStore({ store: storeDir }, { workers: true });
    try {
      const { engine, principal } = fs;
      await engine.projects.create(principal, { name: 'modes' });
      await engine.featureSets.register(principal, 'modes', 'customers', customers);
      await (await engine.offline.ingest(principal, 'modes', 'customers', source)).result;
      await (await engine.offline.retrieve(principal, 'modes', 'customers', { format: 'parquet' }))
        .result;
      const rows = [{ customer_id: 'c2', ts: new Date().toISOString(), age: 41 }];
      await engine.online!.push(principal, 'modes', 'customers', rows);
      await engine.online!.waitApplied(principal, 'modes', 'customers', rows, {
        timeoutMs: 20_000,
      });
      // The push is synced offline too: wait for that ingestion, so nothing is in flight.
      await until(
        async () => (await engine.offline.ingestions(principal, 'modes', 'customers')).length === 2,
        'the offline sync of the pushed row',
        20_000,
      );
      // PGlite creates its files 0666 while open; the 0700 folders above keep them private
      // until close tightens them.
      expect(await looseModes(storeDir, join(storeDir, 'metadata'))).toEqual([]);
    } finally {
      await fs.close();
    }
    expect(await looseModes(storeDir)).toEqual([]);
  }, 60_000);

  it('tightens a store created with loose modes when it is opened', async () => {
    const storeDir = join(scratch.dir, 'loose');
    await (await openFeatureStore({ store: storeDir })).close();
    await chmod(storeDir, 0o755);
    await chmod(join(storeDir, 'metadata'), 0o755);
    await chmod(join(storeDir, 'metadata', 'PG_VERSION'), 0o644);
    const fs = await openFeatureStore({ store: storeDir });
    await fs.close();
    expect(await looseModes(storeDir)).toEqual([]);
  }, 60_000);
});
