import * as fsPromises from 'node:fs/promises';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LockFiles, StoreLock } from '../src/store-lock.js';
import { cli, tempStore } from './helpers.js';

const LOCK = 'featurestore.lock';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected fault`), { code });
}

/** The real file operations with one of them replaced. */
function faulty(overrides: Partial<LockFiles>): LockFiles {
  return { ...fsPromises, ...overrides } as LockFiles;
}

describe('a failure while taking the lock leaves no lock behind', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  beforeEach(async () => {
    store = await tempStore();
  });
  afterEach(async () => {
    await store.remove();
  });

  const faults: [string, Partial<LockFiles>][] = [
    [
      // What a full disk does: the file is created, writing its contents fails.
      'ENOSPC while writing the contents',
      {
        writeFile: async (path, _data, options) => {
          await writeFile(path, '', options);
          throw errno('ENOSPC');
        },
      },
    ],
    [
      'EIO while linking the complete file into place',
      { link: async () => Promise.reject(errno('EIO')) },
    ],
  ];

  it.each(faults)('%s: a clear error, then the next open succeeds', async (_name, fault) => {
    const error = await StoreLock.acquire(store.dir, { waitMs: 0, files: faulty(fault) }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('no lock was left behind'),
    });
    expect(await readdir(store.dir)).toEqual([]);
    const lock = await StoreLock.acquire(store.dir, { waitMs: 0 });
    await lock.release();
    expect(await readdir(store.dir)).toEqual([]);
  });

  it('removes the temporary files of takers killed half-way, not those of live ones', async () => {
    const old = [`${LOCK}.0b1e.tmp`, `${LOCK}.5a1e.stale`];
    for (const name of old) {
      await writeFile(join(store.dir, name), '{"pid":1');
      const minuteAgo = new Date(Date.now() - 60_000);
      await utimes(join(store.dir, name), minuteAgo, minuteAgo);
    }
    const fresh = `${LOCK}.f5e5.tmp`;
    await writeFile(join(store.dir, fresh), '');
    await writeFile(join(store.dir, 'other.tmp'), '');
    const lock = await StoreLock.acquire(store.dir, { waitMs: 0 });
    expect((await readdir(store.dir)).sort()).toEqual([LOCK, fresh, 'other.tmp'].sort());
    await lock.release();
  });

  it('says the disk is full when it is', async () => {
    const fault = faults[0]![1];
    await expect(StoreLock.acquire(store.dir, { waitMs: 0, files: faulty(fault) })).rejects.toThrow(
      /disk is full: free some space/,
    );
  });
});

describe('an unreadable lock file is stale like a dead holder’s', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  beforeEach(async () => {
    store = await tempStore();
  });
  afterEach(async () => {
    await store.remove();
  });

  const contents: [string, string][] = [
    ['empty', ''],
    ['cut short', '{"pid":12'],
    ['not a holder', '"hello"'],
    ['binary garbage', '\u0000\u0001\u00ff'],
  ];

  it.each(contents)(
    '%s, left by a crashed writer: the next open takes it over',
    async (_name, text) => {
      const path = join(store.dir, LOCK);
      await writeFile(path, text);
      const minuteAgo = new Date(Date.now() - 60_000);
      await utimes(path, minuteAgo, minuteAgo);
      const lock = await StoreLock.acquire(store.dir, { waitMs: 0 });
      expect(JSON.parse(await fsPromises.readFile(path, 'utf8'))).toMatchObject({
        pid: process.pid,
      });
      await lock.release();
      expect(await readdir(store.dir)).toEqual([]);
    },
  );

  it('an empty lock file does not block the CLI forever', async () => {
    const path = join(store.dir, LOCK);
    await writeFile(path, '');
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(path, minuteAgo, minuteAgo);
    const listed = await cli(store.dir, 'project', 'list');
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    expect(await readdir(store.dir)).not.toContain(LOCK);
  }, 60_000);

  it('one being written right now (just created, still empty) is not stolen', async () => {
    const path = join(store.dir, LOCK);
    await writeFile(path, '');
    await expect(StoreLock.acquire(store.dir, { waitMs: 0 })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('in use by another process'),
    });
    expect(await fsPromises.readFile(path, 'utf8')).toBe('');
  });
});
