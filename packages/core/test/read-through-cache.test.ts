import { afterEach, describe, expect, it, vi } from 'vitest';
import { MetadataChanges } from '../src/metadata/metadata-changes.js';
import { ReadThroughCache } from '../src/metadata/read-through-cache.js';
import type { MetadataOperations, MetadataStore } from '../src/ports/metadata-store.js';

describe('ReadThroughCache', () => {
  afterEach(() => vi.useRealTimers());

  it('reuses a lookup until it expires, then loads again', async () => {
    let now = 1_000_000;
    const cache = new ReadThroughCache<number>({ ttlMs: 1000, now: () => now });
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.get('k', load)).toBe(1);
    now += 999;
    expect(await cache.get('k', load)).toBe(1);
    expect(await cache.get('other', load)).toBe(2);
    now += 1;
    expect(await cache.get('k', load)).toBe(3);
  });

  it('expires by the real clock without one given', async () => {
    vi.useFakeTimers();
    const cache = new ReadThroughCache<number>({ ttlMs: 1000 });
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.get('k', load)).toBe(1);
    vi.advanceTimersByTime(999);
    expect(await cache.get('k', load)).toBe(1);
    vi.advanceTimersByTime(1);
    expect(await cache.get('k', load)).toBe(2);
  });

  it('shares one load between concurrent callers and never keeps a failure', async () => {
    const cache = new ReadThroughCache<string>({ ttlMs: 60_000 });
    let loads = 0;
    const failing = async () => {
      loads += 1;
      throw new Error('denied');
    };
    const both = [cache.get('k', failing), cache.get('k', failing)];
    await expect(Promise.all(both)).rejects.toThrow('denied');
    expect(loads).toBe(1);
    expect(await cache.get('k', async () => 'allowed')).toBe('allowed');
  });

  it('looks up every time with ttlMs 0', async () => {
    const cache = new ReadThroughCache<number>({ ttlMs: 0 });
    let loads = 0;
    await cache.get('k', async () => ++loads);
    await cache.get('k', async () => ++loads);
    expect(loads).toBe(2);
  });

  it('drops everything after an access-changing write through the tracked store', async () => {
    const changes = new MetadataChanges();
    const calls: string[] = [];
    const operations = {
      async getPermission() {
        calls.push('getPermission');
        return undefined;
      },
      async putPermission() {
        calls.push('putPermission');
      },
      async updateJob() {
        calls.push('updateJob');
      },
      async commitIngestion() {
        calls.push('commitIngestion');
      },
    };
    const raw = {
      ...operations,
      async transaction<T>(work: (tx: MetadataOperations) => Promise<T>) {
        return work(operations as unknown as MetadataOperations);
      },
    } as unknown as MetadataStore;
    const store = changes.track(raw);
    const cache = new ReadThroughCache<number>({ ttlMs: 60_000, changes });
    let loads = 0;
    const load = async () => ++loads;

    await cache.get('k', load);
    await store.getPermission('p', 'u');
    // Workers write jobs and ingestions all the time: they don't change access.
    await store.updateJob({} as never);
    await store.commitIngestion({} as never);
    expect(await cache.get('k', load)).toBe(1);

    await store.putPermission({} as never);
    expect(await cache.get('k', load)).toBe(2);
    await store.transaction((tx) => tx.putPermission({} as never));
    expect(await cache.get('k', load)).toBe(3);
    expect(calls).toEqual([
      'getPermission',
      'updateJob',
      'commitIngestion',
      'putPermission',
      'putPermission',
    ]);
  });
});
