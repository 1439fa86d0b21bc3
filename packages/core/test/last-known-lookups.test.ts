import { afterEach, describe, expect, it, vi } from 'vitest';
import { UnauthenticatedError, UnavailableError } from '../src/errors.js';
import { LastKnownLookups, type MetadataOutageEvent } from '../src/metadata/last-known-lookups.js';
import { MetadataChanges } from '../src/metadata/metadata-changes.js';
import type { MetadataStore } from '../src/ports/metadata-store.js';

/** A lookup whose answer the test gives when it wants: a hung database until then. */
function pending<T>(): {
  load: () => Promise<T>;
  answer: (value: T) => void;
  fail: (error: Error) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { load: () => promise, answer: resolve, fail: reject };
}

const down = () => Promise.reject(new UnavailableError('PostgreSQL at db:5432 is unreachable'));

function lookups(options: { now?: () => number; maxStalenessMs?: number } = {}) {
  const events: MetadataOutageEvent[] = [];
  const lastKnown = new LastKnownLookups({
    timeoutMs: 50,
    onChange: (event) => events.push(event),
    ...options,
  });
  return { lastKnown, events };
}

describe('LastKnownLookups', () => {
  afterEach(() => vi.useRealTimers());

  it('serves the last known answer while the store is unavailable, and says so once', async () => {
    const { lastKnown, events } = lookups();
    expect(await lastKnown.get('k', 'k', async () => 'fresh')).toBe('fresh');
    expect(lastKnown.degraded).toBe(false);
    expect(await lastKnown.get('k', 'k', down)).toBe('fresh');
    expect(await lastKnown.get('k', 'k', down)).toBe('fresh');
    expect(lastKnown).toMatchObject({ degraded: true, staleServed: 2 });
    expect(lastKnown.since).toBeInstanceOf(Date);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ degraded: true });
    expect(events[0]!.message).toMatch(/metadata store is unreachable.*served from lookups known/);
  });

  it('does not wait past its timeout for a hung store, and sends one probe at a time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { lastKnown } = lookups();
    await lastKnown.get('k', 'k', async () => 'fresh');
    const hung = pending<string>();
    let loads = 0;
    const load = () => {
      loads += 1;
      return hung.load();
    };
    const first = lastKnown.get('k', 'k', load);
    await vi.advanceTimersByTimeAsync(50);
    expect(await first).toBe('fresh');
    expect(lastKnown.degraded).toBe(true);
    // The hung lookup is the probe: the next ones are answered at once, without a query.
    expect(await lastKnown.get('k', 'k', load)).toBe('fresh');
    expect(loads).toBe(1);
    // A probe that never answers is given up after ten timeouts: the next call probes again.
    await vi.advanceTimersByTimeAsync(500);
    const again = lastKnown.get('k', 'k', load);
    expect(loads).toBe(2);
    await vi.advanceTimersByTimeAsync(50);
    expect(await again).toBe('fresh');
    // The store answers: the outage ends and the answer replaces the known one.
    hung.answer('newer');
    await vi.advanceTimersByTimeAsync(0);
    expect(lastKnown.degraded).toBe(false);
    expect(await lastKnown.get('k', 'k', down)).toBe('newer');
  });

  it('refuses UNAVAILABLE a lookup never answered before, at once while degraded', async () => {
    const { lastKnown } = lookups();
    await lastKnown.get('known', 'known', async () => 1);
    await lastKnown.get('known', 'known', down);
    const never = pending<number>();
    const refused = lastKnown.get('new', 'this access token', never.load);
    await expect(refused).rejects.toThrow(UnavailableError);
    await expect(refused).rejects.toThrow(
      /metadata store is unreachable \(since .*\) and this access token was not looked up before/,
    );
    expect(lastKnown.staleRefused).toBe(1);
  });

  it('waits for a slow store when it has nothing to serve instead and no outage is known', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { lastKnown } = lookups();
    const slow = pending<string>();
    let settled = false;
    const lookup = lastKnown.get('k', 'k', slow.load).finally(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(500);
    expect(settled).toBe(false);
    slow.answer('late but right');
    expect(await lookup).toBe('late but right');
    expect(lastKnown.degraded).toBe(false);
  });

  it('while the store is only slow, a lookup with nothing known waits for it (up to ten timeouts)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { lastKnown } = lookups();
    await lastKnown.get('known', 'known', async () => 1);
    // A slow answer for the known key: served from memory, and the store taken for down.
    const slow = pending<number>();
    const first = lastKnown.get('known', 'known', slow.load);
    await vi.advanceTimersByTimeAsync(50);
    expect(await first).toBe(1);
    expect(lastKnown.degraded).toBe(true);
    // Lookups never answered before are not refused for that: one the store answers late
    // gets its answer; one it does not answer within ten timeouts is refused, saying why.
    const late = pending<string>();
    const never = pending<string>();
    const waiting = lastKnown.get('new', 'this access token', late.load);
    const refused = lastKnown.get('other', 'another token', never.load);
    const settled = expect(refused).rejects.toThrow(/another token was not looked up before/);
    await vi.advanceTimersByTimeAsync(300);
    late.answer('late but right');
    expect(await waiting).toBe('late but right');
    await vi.advanceTimersByTimeAsync(200);
    await settled;
    expect(lastKnown.staleRefused).toBe(1);
  });

  it('refuses an answer older than the staleness bound, saying so', async () => {
    let now = 1_000_000;
    const { lastKnown } = lookups({ now: () => now, maxStalenessMs: 60_000 });
    await lastKnown.get('k', 'feature set p/f', async () => 'fresh');
    now += 60_000;
    expect(await lastKnown.get('k', 'feature set p/f', down)).toBe('fresh');
    now += 1;
    const refused = lastKnown.get('k', 'feature set p/f', down);
    await expect(refused).rejects.toThrow(UnavailableError);
    await expect(refused).rejects.toThrow(
      /last known answer for feature set p\/f is 60 s old, past the staleness bound of 60 s/,
    );
  });

  it('ends the outage on the next answer, and forgets a key the store refuses', async () => {
    const { lastKnown, events } = lookups();
    await lastKnown.get('token', 'token', async () => 'alice');
    await lastKnown.get('token', 'token', down);
    const revoked = lastKnown.get('token', 'token', () =>
      Promise.reject(new UnauthenticatedError('the access token "ci" was revoked')),
    );
    await expect(revoked).rejects.toThrow(UnauthenticatedError);
    expect(lastKnown.degraded).toBe(false);
    expect(events.map((event) => event.degraded)).toEqual([true, false]);
    expect(events[1]!.message).toMatch(/answers again.*1 served from memory/);
    // Refused once the store answered: a later outage does not bring the token back.
    await expect(lastKnown.get('token', 'token', down)).rejects.toThrow(UnavailableError);
    expect(lastKnown.staleServed).toBe(1);
  });

  it('never serves an answer known from before an access change made by this process', async () => {
    const changes = { generation: 0 };
    const lastKnown = new LastKnownLookups({ timeoutMs: 50, changes, onChange: () => {} });
    await lastKnown.get('token', 'token', async () => 'alice');
    changes.generation += 1; // this process revoked something
    await expect(lastKnown.get('token', 'token', down)).rejects.toThrow(UnavailableError);
    expect(lastKnown.staleServed).toBe(0);
    // Looked up again after the change: served again through an outage.
    await lastKnown.get('token', 'token', async () => 'alice');
    expect(await lastKnown.get('token', 'token', down)).toBe('alice');
  });

  it('takes a token revocation for an access change, and a token used for none', async () => {
    const changes = new MetadataChanges();
    const updates: unknown[] = [];
    const store = changes.track({
      async updateToken(_id: string, patch: unknown) {
        updates.push(patch);
        return {};
      },
    } as unknown as MetadataStore);
    await store.updateToken('t1', { lastUsedAt: new Date() });
    expect(changes.generation).toBe(0);
    await store.updateToken('t1', { revokedAt: new Date() });
    expect(changes.generation).toBe(1);
    expect(updates).toHaveLength(2);
  });
});
