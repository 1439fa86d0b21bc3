import assert from 'node:assert/strict';
import type {
  FeatureSetVersionRef,
  OnlineReadRequest,
  OnlineRecord,
  OnlineStore,
  OnlineValue,
} from '../ports/online-store.js';
import { type SuiteApi, uniqueName } from './suite-api.js';

/** The groups of `onlineStoreConformance`, one per capability of the port. */
export type OnlineStoreCapability =
  | 'values'
  | 'projection'
  | 'keys'
  | 'newestWins'
  | 'concurrency'
  | 'replace'
  | 'ttl'
  | 'readMany'
  | 'delete'
  | 'drop'
  | 'scan'
  | 'versions'
  | 'largeBatches'
  | 'close';

export interface OnlineStoreConformanceOptions {
  /** Groups to leave out, e.g. while a driver is being written. A finished driver skips none. */
  skip?: readonly OnlineStoreCapability[];
  /** Concurrent write batches in the concurrency case (default 20). */
  concurrentWriters?: number;
  /** Keys of the large-batch case (default 1000). */
  largeBatchKeys?: number;
  /** Timeout of the slow cases in milliseconds (default 60 s). */
  slowTimeout?: number;
}

const T0 = Date.UTC(2025, 0, 1);

/** A value of every kind a feature can hold online, including the edges of each. */
const EVERY_KIND: Record<string, OnlineValue> = {
  text: 'card payment',
  emptyText: '',
  unicode: 'héllo 日本語 🚀 \u0001 "quoted" \\',
  zero: 0,
  int: 42,
  negative: -7,
  int32Max: 2_147_483_647,
  int32Over: 2_147_483_648,
  int32Min: -2_147_483_648,
  safeMax: Number.MAX_SAFE_INTEGER,
  safeMin: Number.MIN_SAFE_INTEGER,
  // int64 beyond 2^53 travels as a string: a JS number would lose digits.
  int64: '9223372036854775807',
  float: Math.PI,
  negativeFloat: -0.25,
  tiny: 5e-324,
  huge: 1.7976931348623157e308,
  yes: true,
  no: false,
  missing: null,
  floats: [1.5, -2.25, 0],
  ints: [1, 2, 3_000_000_000],
  strings: ['a', '', '日本'],
  bools: [true, false],
  withNulls: [1, null, 3],
  emptyList: [],
};

/**
 * The contract every `OnlineStore` driver meets, one group per capability. Every case writes
 * to feature sets of its own (`uniqueName`), so several suites can share one backend; they are
 * dropped at the end. `factory` is called once per suite, and once more by the close case.
 *
 * Write batches follow one rule the port leaves implicit: a batch is reduced to its newest
 * record per key first (among equals, the later one in the batch), so several records for one
 * key count at most once in the applied count, whatever their order.
 *
 * @example
 * // packages/driver-x/test/suite.test.ts
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * import { onlineStoreConformance } from '@featurestore/core/testing';
 * onlineStoreConformance({ describe, it, beforeAll, afterAll }, async () => new XOnlineStore(…));
 */
export function onlineStoreConformance(
  t: SuiteApi,
  factory: () => Promise<OnlineStore>,
  options: OnlineStoreConformanceOptions = {},
): void {
  const slow = options.slowTimeout ?? 60_000;
  const writers = options.concurrentWriters ?? 20;
  const largeKeys = options.largeBatchKeys ?? 1000;
  let store: OnlineStore;
  const created: FeatureSetVersionRef[] = [];
  const group = (capability: OnlineStoreCapability, name: string, body: () => void) => {
    if (!options.skip?.includes(capability)) t.describe(name, body);
  };

  /** A feature set version no other case (or suite run) touches, dropped in `afterAll`. */
  function version(major = 1, featureSetId = uniqueName('online')): FeatureSetVersionRef {
    const ref = { featureSetId, major };
    created.push(ref);
    return ref;
  }

  function record(
    key: readonly string[],
    eventTime: number,
    writeSequence: number,
    values: Record<string, OnlineValue>,
  ): OnlineRecord {
    return { key: [...key], eventTime, writeSequence, values };
  }

  const read = (featureSet: FeatureSetVersionRef, keys: string[][], extra = {}) =>
    store.read({ featureSet, keys, ...extra });

  async function scanAll(featureSet: FeatureSetVersionRef): Promise<OnlineRecord[]> {
    const records: OnlineRecord[] = [];
    for await (const found of store.scan(featureSet)) records.push(found);
    return records.sort(byKey);
  }

  t.describe('OnlineStore conformance', () => {
    t.beforeAll(async () => {
      store = await factory();
    });
    t.afterAll(async () => {
      if (!store) return;
      for (const ref of created) await store.drop(ref);
      await store.close();
    }, slow);

    t.it('names its driver', () => {
      assert.equal(typeof store.driver, 'string');
      assert.ok(store.driver.length > 0);
    });

    group('values', 'values', () => {
      t.it('round-trips a value of every kind with its event time and sequence', async () => {
        const fs = version();
        const written = record(['k1'], T0 + 123, 7, EVERY_KIND);
        assert.equal(await store.write(fs, [written]), 1);
        assert.deepEqual(await read(fs, [['k1']]), [written]);
      });

      t.it('keeps records of different shapes in one feature set apart', async () => {
        const fs = version();
        const a = record(['a'], T0, 1, { x: 1, y: 'one' });
        const b = record(['b'], T0, 1, { z: [true] });
        const empty = record(['c'], T0, 1, {});
        assert.equal(await store.write(fs, [a, b, empty]), 3);
        assert.deepEqual(await read(fs, [['a'], ['b'], ['c']]), [a, b, empty]);
      });

      t.it('does not alias the caller’s objects', async () => {
        const fs = version();
        const values = { list: [1, 2] as OnlineValue[], s: 'x' };
        await store.write(fs, [record(['k'], T0, 1, values)]);
        values.list.push(3);
        values.s = 'changed';
        const [first] = await read(fs, [['k']]);
        assert.deepEqual(first?.values, { list: [1, 2], s: 'x' });
        (first!.values.list as OnlineValue[]).push(4);
        const [second] = await read(fs, [['k']]);
        assert.deepEqual(second?.values, { list: [1, 2], s: 'x' });
      });

      t.it('an empty write applies nothing and an empty read returns nothing', async () => {
        const fs = version();
        assert.equal(await store.write(fs, []), 0);
        assert.deepEqual(await read(fs, []), []);
      });
    });

    group('projection', 'projection', () => {
      t.it('returns only the requested features', async () => {
        const fs = version();
        const values = { a: 1, b: 'two', c: [3], d: null, e: true };
        await store.write(fs, [record(['k1'], T0, 1, values), record(['k2'], T0, 2, values)]);
        const rows = await read(fs, [['k2'], ['k1']], { features: ['d', 'b'] });
        assert.deepEqual(rows, [
          record(['k2'], T0, 2, { b: 'two', d: null }),
          record(['k1'], T0, 1, { b: 'two', d: null }),
        ]);
      });

      t.it('an empty projection returns the records without values', async () => {
        const fs = version();
        await store.write(fs, [record(['k'], T0, 1, { a: 1 })]);
        assert.deepEqual(await read(fs, [['k'], ['none']], { features: [] }), [
          record(['k'], T0, 1, {}),
          undefined,
        ]);
      });

      t.it(
        'an empty projection keeps exact times and sequences, duplicates and the TTL',
        async () => {
          const fs = version();
          const exact = record(['k'], 1_767_225_600_123.5, 1_767_225_600_123_456.5, { a: 1 });
          await store.write(fs, [exact, record(['old'], T0, 2, { a: 2 })]);
          const rows = await read(fs, [['k'], ['old'], ['k']], {
            features: [],
            ttlMs: 1000,
            now: T0 + 1000,
          });
          assert.deepEqual(rows, [
            record(['k'], exact.eventTime, exact.writeSequence, {}),
            undefined,
            record(['k'], exact.eventTime, exact.writeSequence, {}),
          ]);
        },
      );
    });

    group('keys', 'keys', () => {
      t.it('returns undefined for missing keys, in request order, duplicates kept', async () => {
        const fs = version();
        const a = record(['a'], T0, 1, { v: 'a' });
        const c = record(['c'], T0, 1, { v: 'c' });
        await store.write(fs, [a, c]);
        assert.deepEqual(await read(fs, [['x'], ['c'], ['b'], ['a'], ['c'], ['y']]), [
          undefined,
          c,
          undefined,
          a,
          c,
          undefined,
        ]);
        assert.deepEqual(await read(version(), [['a']]), [undefined]);
      });

      t.it('keeps keys apart that only a naive join of their columns would confuse', async () => {
        const fs = version();
        const keys = [
          ['a', 'b'],
          ['a:b'],
          ['a', ':b'],
          ['a|b'],
          ['a', '|b'],
          ['ab'],
          ['', 'ab'],
          ['ab', ''],
          ['a', 'b', ''],
          [''],
          ['', ''],
          ['a\\', 'b'],
          ['a', '\\b'],
          ['{a}', 'b*'],
          ['[x]?', '%'],
          ['1:a'],
          ['1', 'a'],
          ['日本語', 'ключ', 'emoji 🚀'],
          ['with space', 'tab\tnew\nline'],
        ];
        const records = keys.map((key, i) => record(key, T0, 1, { i, key: key.join('/') }));
        assert.equal(await store.write(fs, records), keys.length);
        assert.deepEqual(await read(fs, keys), records);
        assert.deepEqual(await scanAll(fs), [...records].sort(byKey));
      });

      t.it(
        'refuses a batch with a record no store can hold, naming it, and writes none of it',
        async () => {
          const fs = version();
          const good = record(['ok'], T0, 1, { v: 1 });
          const bad: [string, unknown][] = [
            ['a number in the key', { ...good, key: [7] }],
            ['an empty key', { ...good, key: [] }],
            ['a key that is not an array', { ...good, key: 'ok' }],
            ['a NaN event time', { ...good, eventTime: Number.NaN }],
            ['an infinite event time', { ...good, eventTime: Number.POSITIVE_INFINITY }],
            ['a write sequence that is not a number', { ...good, writeSequence: '1' }],
            ['values that are not an object', { ...good, values: null }],
          ];
          for (const [what, candidate] of bad) {
            await assert.rejects(
              store.write(fs, [good, candidate as OnlineRecord]),
              (error: Error & { code?: string }) => {
                assert.equal(error.code, 'VALIDATION', `${what}: ${error.message}`);
                assert.match(error.message, /online record 2\b/, what);
                return true;
              },
              what,
            );
          }
          assert.deepEqual(await read(fs, [['ok']]), [undefined]);
        },
      );

      t.it('treats a key with more or fewer columns as a different key', async () => {
        const fs = version();
        await store.write(fs, [record(['1', '2'], T0, 1, { v: 12 })]);
        assert.deepEqual(await read(fs, [['1'], ['1', '2', '3'], ['12'], ['1', '2']]), [
          undefined,
          undefined,
          undefined,
          record(['1', '2'], T0, 1, { v: 12 }),
        ]);
      });
    });

    group('newestWins', 'newest wins', () => {
      const setUp = async () => {
        const fs = version();
        await store.write(fs, [record(['k'], T0 + 1000, 5, { v: 'stored' })]);
        return fs;
      };

      t.it('ignores an older event time, whatever its sequence', async () => {
        const fs = await setUp();
        assert.equal(await store.write(fs, [record(['k'], T0 + 999, 99, { v: 'older' })]), 0);
        assert.deepEqual(await read(fs, [['k']]), [record(['k'], T0 + 1000, 5, { v: 'stored' })]);
      });

      t.it('applies a newer event time, whatever its sequence', async () => {
        const fs = await setUp();
        assert.equal(await store.write(fs, [record(['k'], T0 + 1001, 0, { v: 'newer' })]), 1);
        assert.deepEqual(await read(fs, [['k']]), [record(['k'], T0 + 1001, 0, { v: 'newer' })]);
      });

      t.it('on equal event times, applies a greater sequence', async () => {
        const fs = await setUp();
        assert.equal(await store.write(fs, [record(['k'], T0 + 1000, 6, { v: 'greater' })]), 1);
        assert.deepEqual(await read(fs, [['k']]), [record(['k'], T0 + 1000, 6, { v: 'greater' })]);
      });

      t.it('on equal event times, applies an equal sequence (a replay replaces)', async () => {
        const fs = await setUp();
        assert.equal(await store.write(fs, [record(['k'], T0 + 1000, 5, { v: 'replayed' })]), 1);
        assert.deepEqual(await read(fs, [['k']]), [record(['k'], T0 + 1000, 5, { v: 'replayed' })]);
      });

      t.it('on equal event times, ignores a smaller sequence', async () => {
        const fs = await setUp();
        assert.equal(await store.write(fs, [record(['k'], T0 + 1000, 4, { v: 'smaller' })]), 0);
        assert.deepEqual(await read(fs, [['k']]), [record(['k'], T0 + 1000, 5, { v: 'stored' })]);
      });

      t.it('a write replaces the whole record, not single features', async () => {
        const fs = await setUp();
        await store.write(fs, [record(['k'], T0 + 2000, 1, { other: 1 })]);
        assert.deepEqual(await read(fs, [['k']]), [record(['k'], T0 + 2000, 1, { other: 1 })]);
      });

      t.it('in one batch the newest record of a key wins, whatever the order', async () => {
        const fs = version();
        const newest = record(['k'], T0 + 9, 1, { v: 'newest' });
        const batch = [
          record(['k'], T0 + 5, 9, { v: 'old' }),
          newest,
          record(['other'], T0, 1, { v: 'other' }),
          record(['k'], T0 + 9, 0, { v: 'smaller sequence' }),
          record(['k'], T0 + 7, 3, { v: 'middle' }),
        ];
        assert.equal(await store.write(fs, batch), 2, 'one applied record per key');
        assert.deepEqual(await read(fs, [['k']]), [newest]);
        // Among equal (event time, sequence), the later record of the batch wins.
        const later = record(['k'], T0 + 9, 1, { v: 'later' });
        assert.equal(await store.write(fs, [record(['k'], T0 + 9, 1, { v: 'earlier' }), later]), 1);
        assert.deepEqual(await read(fs, [['k']]), [later]);
      });

      t.it('returns how many records of a batch applied', async () => {
        const fs = version();
        await store.write(fs, [
          record(['a'], T0 + 10, 1, { v: 1 }),
          record(['b'], T0 + 10, 1, { v: 1 }),
        ]);
        const applied = await store.write(fs, [
          record(['a'], T0 + 9, 1, { v: 2 }), // older: ignored
          record(['b'], T0 + 11, 1, { v: 2 }), // newer
          record(['c'], T0, 1, { v: 2 }), // new key
          record(['d'], T0, 1, { v: 2 }), // new key
        ]);
        assert.equal(applied, 3);
        const values = (await read(fs, [['a'], ['b'], ['c'], ['d']])).map((r) => r?.values.v);
        assert.deepEqual(values, [1, 2, 2, 2]);
      });
    });

    group('concurrency', 'concurrency', () => {
      t.it(
        'concurrent writers leave the newest (event time, sequence) of every key',
        async () => {
          const fs = version();
          const keys = Array.from({ length: 50 }, (_, i) => [`key${i}`, String(i % 3)]);
          // Few distinct times and sequences, so ties happen; the value follows from both, so
          // whichever of two equal records lands last, the stored value is the same.
          const batches = Array.from({ length: writers }, () =>
            shuffled(keys).map((key) => {
              const eventTime = T0 + Math.floor(Math.random() * 10);
              const sequence = Math.floor(Math.random() * 4);
              return record(key, eventTime, sequence, { v: `${eventTime}/${sequence}`, n: 1 });
            }),
          );
          const expected = new Map<string, OnlineRecord>();
          for (const batch of batches) {
            for (const candidate of batch) {
              const id = JSON.stringify(candidate.key);
              const current = expected.get(id);
              if (!current || compare(candidate, current) >= 0) expected.set(id, candidate);
            }
          }
          const applied = await Promise.all(batches.map((batch) => store.write(fs, batch)));
          for (const count of applied) assert.ok(count >= 0 && count <= keys.length);
          assert.ok(applied.reduce((sum, n) => sum + n, 0) >= keys.length);
          const rows = await read(fs, keys);
          assert.deepEqual(
            rows,
            keys.map((key) => expected.get(JSON.stringify(key))),
          );
        },
        slow,
      );

      t.it(
        'concurrent reads and writes see whole records only',
        async () => {
          const fs = version();
          const key = ['k'];
          const writes = Array.from({ length: writers }, (_, i) =>
            store.write(fs, [record(key, T0 + i, i, { a: i, b: String(i), c: [i, i] })]),
          );
          const reads = Array.from({ length: writers }, () => read(fs, [key]));
          const [, seen] = await Promise.all([Promise.all(writes), Promise.all(reads)]);
          for (const [row] of seen) {
            if (!row) continue;
            const i = row.writeSequence;
            assert.deepEqual(row, record(key, T0 + i, i, { a: i, b: String(i), c: [i, i] }));
          }
          assert.equal((await read(fs, [key]))[0]?.writeSequence, writers - 1);
        },
        slow,
      );
    });

    group('replace', 'replace past newest-wins', () => {
      const stored = record(['k'], T0 + 1000, 5, { v: 'reverted' });
      const setUp = async () => {
        const fs = version();
        await store.write(fs, [stored]);
        return fs;
      };
      const seen = { eventTime: T0 + 1000, writeSequence: 5 };

      t.it('puts an older record over the stored one it expects', async () => {
        const fs = await setUp();
        const older = { eventTime: T0, writeSequence: 1, values: { v: 'recomputed' } };
        assert.deepEqual(await store.replace(fs, [{ key: ['k'], expected: seen, record: older }]), [
          true,
        ]);
        assert.deepEqual(await read(fs, [['k']]), [record(['k'], T0, 1, { v: 'recomputed' })]);
      });

      t.it('after a replace, ordinary writes follow newest-wins again', async () => {
        const fs = await setUp();
        const older = { eventTime: T0, writeSequence: 1, values: { v: 'recomputed' } };
        await store.replace(fs, [{ key: ['k'], expected: seen, record: older }]);
        assert.equal(await store.write(fs, [record(['k'], T0 - 1, 9, { v: 'older' })]), 0);
        assert.deepEqual(await read(fs, [['k']]), [record(['k'], T0, 1, { v: 'recomputed' })]);
        const newer = record(['k'], T0 + 1, 0, { v: 'newer' });
        assert.equal(await store.write(fs, [newer]), 1);
        assert.deepEqual(await read(fs, [['k']]), [newer]);
      });

      t.it('changes nothing when the stored record is not the expected one', async () => {
        const fs = await setUp();
        // A newer push landed after the caller read the record: it must not be lost.
        const pushed = record(['k'], T0 + 2000, 1, { v: 'pushed' });
        await store.write(fs, [pushed]);
        const older = { eventTime: T0, writeSequence: 1, values: { v: 'recomputed' } };
        const misses = [
          { key: ['k'], expected: seen, record: older },
          { key: ['absent'], expected: seen, record: older },
        ];
        assert.deepEqual(await store.replace(fs, misses), [false, false]);
        // Same event time, other sequence: still another record.
        const otherSequence = { eventTime: T0 + 2000, writeSequence: 2 };
        assert.deepEqual(
          await store.replace(fs, [{ key: ['k'], expected: otherSequence, record: older }]),
          [false],
        );
        assert.deepEqual(
          await store.replace(fs, [{ key: ['k'], expected: null, record: older }]),
          [false],
          'expected absent, but the key has a record',
        );
        assert.deepEqual(await read(fs, [['k'], ['absent']]), [pushed, undefined]);
      });

      t.it('removes a key, and creates one that must be absent', async () => {
        const fs = await setUp();
        const created = { eventTime: T0, writeSequence: 3, values: { v: 'created' } };
        assert.deepEqual(
          await store.replace(fs, [
            { key: ['k'], expected: seen, record: null },
            { key: ['new'], expected: null, record: created },
            { key: ['never'], expected: null, record: null },
          ]),
          [true, true, true],
        );
        assert.deepEqual(await read(fs, [['k'], ['new'], ['never']]), [
          undefined,
          record(['new'], T0, 3, { v: 'created' }),
          undefined,
        ]);
        assert.deepEqual(await scanAll(fs), [record(['new'], T0, 3, { v: 'created' })]);
      });

      t.it('refuses a key named twice in one call, changing nothing', async () => {
        const fs = await setUp();
        const older = { eventTime: T0, writeSequence: 1, values: { v: 'x' } };
        await assert.rejects(
          store.replace(fs, [
            { key: ['k'], expected: seen, record: older },
            { key: ['k'], expected: seen, record: null },
          ]),
          { code: 'VALIDATION' },
        );
        assert.deepEqual(await read(fs, [['k']]), [stored]);
        assert.deepEqual(await store.replace(fs, []), []);
      });

      t.it(
        'racing a newer write, either the replace or the write is kept, never a mix',
        async () => {
          const fs = version();
          const keys = Array.from({ length: 100 }, (_, i) => [`key${i}`]);
          await store.write(
            fs,
            keys.map((key) => record(key, T0 + 1000, 5, { v: 'reverted' })),
          );
          const pushed = keys.map((key) => record(key, T0 + 2000, 7, { v: 'pushed' }));
          const recomputed = { eventTime: T0, writeSequence: 1, values: { v: 'recomputed' } };
          const [applied] = await Promise.all([
            store.replace(
              fs,
              keys.map((key) => ({ key, expected: seen, record: recomputed })),
            ),
            ...pushed.map((row) => store.write(fs, [row])),
          ]);
          const rows = await read(fs, keys);
          keys.forEach((key, i) => {
            // The push always wins: it landed after the replace (newer than the recomputed
            // value) or before it (the replace then found another record and did nothing).
            assert.deepEqual(rows[i], pushed[i], `key ${key[0]} (replace applied: ${applied[i]})`);
          });
        },
        slow,
      );
    });

    group('ttl', 'time to live', () => {
      t.it('reads a record as missing once its event time is at or before now - ttl', async () => {
        const fs = version();
        const written = record(['k'], T0, 1, { v: 1 });
        await store.write(fs, [written]);
        const at = (now: number, ttlMs = 1000) => read(fs, [['k']], { ttlMs, now });
        assert.deepEqual(await at(T0 + 999), [written]);
        assert.deepEqual(await at(T0 + 1000), [undefined]);
        assert.deepEqual(await at(T0 + 86_400_000), [undefined]);
        assert.deepEqual(await at(T0 - 5), [written], 'a reader behind the writer');
        assert.deepEqual(await read(fs, [['k']], { now: T0 + 1e12 }), [written], 'no ttl');
      });

      t.it('uses the current time when the reader gives no clock', async () => {
        const fs = version();
        const eventTime = Date.now() - 60_000;
        const written = record(['k'], eventTime, 1, { v: 1 });
        await store.write(fs, [written]);
        assert.deepEqual(await read(fs, [['k']], { ttlMs: 30_000 }), [undefined]);
        assert.deepEqual(await read(fs, [['k']], { ttlMs: 3_600_000 }), [written]);
      });

      t.it('expires keys one by one and projects the live ones', async () => {
        const fs = version();
        const fresh = record(['fresh'], T0 + 500, 1, { a: 1, b: 2 });
        await store.write(fs, [record(['stale'], T0, 1, { a: 1, b: 2 }), fresh]);
        const rows = await read(fs, [['stale'], ['fresh'], ['none']], {
          ttlMs: 1000,
          now: T0 + 1200,
          features: ['b'],
        });
        assert.deepEqual(rows, [undefined, record(['fresh'], T0 + 500, 1, { b: 2 }), undefined]);
      });
    });

    group('readMany', 'reads across feature sets', () => {
      t.it(
        'reads three feature sets with their own keys, features and ttl',
        async (): Promise<void> => {
          if (!store.readMany) return;
          const a = version();
          const b = version();
          const c = version(2);
          await store.write(a, [
            record(['a1'], T0, 1, { x: 1, y: 2 }),
            record(['a2'], T0, 1, { x: 3, y: 4 }),
          ]);
          await store.write(b, [record(['b1', 'part'], T0, 1, { s: 'b', list: ['l'] })]);
          await store.write(c, [
            record(['c1'], T0 - 10_000, 1, { f: 1.5 }),
            record(['c2'], T0, 2, { f: 2.5 }),
          ]);
          const requests: OnlineReadRequest[] = [
            { featureSet: a, keys: [['a2'], ['missing'], ['a1']], features: ['y'] },
            { featureSet: b, keys: [['b1', 'part'], ['b1']], ttlMs: 3_600_000, now: T0 + 1 },
            { featureSet: c, keys: [['c1'], ['c2']], ttlMs: 5000, now: T0 + 1000 },
          ];
          assert.deepEqual(await store.readMany(requests), [
            [record(['a2'], T0, 1, { y: 4 }), undefined, record(['a1'], T0, 1, { y: 2 })],
            [record(['b1', 'part'], T0, 1, { s: 'b', list: ['l'] }), undefined],
            [undefined, record(['c2'], T0, 2, { f: 2.5 })],
          ]);
          assert.deepEqual(await store.readMany([]), []);
          assert.deepEqual(await store.readMany([{ featureSet: a, keys: [] }]), [[]]);
        },
      );

      t.it('reads one feature set twice in one call', async (): Promise<void> => {
        if (!store.readMany) return;
        const fs = version();
        await store.write(fs, [record(['k'], T0, 1, { x: 1, y: 2 })]);
        assert.deepEqual(
          await store.readMany([
            { featureSet: fs, keys: [['k']], features: ['x'] },
            { featureSet: fs, keys: [['k']], features: ['y'] },
          ]),
          [[record(['k'], T0, 1, { x: 1 })], [record(['k'], T0, 1, { y: 2 })]],
        );
      });
    });

    group('delete', 'delete', () => {
      t.it('deletes the given keys and leaves the others', async () => {
        const fs = version();
        const keep = record(['keep', '1'], T0, 1, { v: 1 });
        await store.write(fs, [
          keep,
          record(['gone', '1'], T0, 1, { v: 2 }),
          record(['gone', '2'], T0, 1, { v: 3 }),
        ]);
        await store.delete(fs, [
          ['gone', '1'],
          ['gone', '2'],
          ['never', 'written'],
        ]);
        assert.deepEqual(
          await read(fs, [
            ['keep', '1'],
            ['gone', '1'],
            ['gone', '2'],
          ]),
          [keep, undefined, undefined],
        );
        await store.delete(fs, []);
        await store.delete(version(), [['nothing']]);
      });

      t.it('a deleted key takes any later write, even an older one', async () => {
        const fs = version();
        await store.write(fs, [record(['k'], T0 + 1000, 1, { v: 'new' })]);
        await store.delete(fs, [['k']]);
        const older = record(['k'], T0, 1, { v: 'old' });
        assert.equal(await store.write(fs, [older]), 1);
        assert.deepEqual(await read(fs, [['k']]), [older]);
      });
    });

    group('drop', 'drop', () => {
      t.it('removes every record of the version and nothing else', async () => {
        const fs = version();
        // Names that share prefixes with the dropped version's, to catch prefix matching.
        const otherMajor = version(11, fs.featureSetId);
        const longerId = version(1, `${fs.featureSetId}1`);
        const other = version();
        const keys = Array.from({ length: 120 }, (_, i) => [`k${i}`]);
        const rows = (v: number) => keys.map((key) => record(key, T0, 1, { v }));
        for (const [i, ref] of [fs, otherMajor, longerId, other].entries()) {
          await store.write(ref, rows(i));
        }
        await store.drop(fs);
        assert.deepEqual(
          await read(fs, keys),
          keys.map(() => undefined),
        );
        assert.deepEqual(await scanAll(fs), []);
        for (const [i, ref] of [otherMajor, longerId, other].entries()) {
          assert.deepEqual(await read(ref, keys), rows(i + 1), `version ${JSON.stringify(ref)}`);
        }
        await store.drop(fs);
        await store.drop(version());
        await store.write(fs, [record(['k0'], T0 - 1, 1, { v: 'after drop' })]);
        assert.deepEqual(await read(fs, [['k0']]), [
          record(['k0'], T0 - 1, 1, { v: 'after drop' }),
        ]);
      });
    });

    group('scan', 'scan', () => {
      t.it('returns every record of the version once', async () => {
        const fs = version();
        const records = Array.from({ length: 250 }, (_, i) =>
          record([`k${i}`, i % 2 ? 'odd:|' : ''], T0 + i, i % 5, { i, s: `v${i}`, l: [i] }),
        );
        await store.write(fs, records);
        await store.write(version(2, fs.featureSetId), [record(['other'], T0, 1, { i: -1 })]);
        assert.deepEqual(await scanAll(fs), [...records].sort(byKey));
      });

      t.it('returns nothing for an empty version', async () => {
        assert.deepEqual(await scanAll(version()), []);
      });
    });

    group('versions', 'versions', () => {
      t.it('keeps the majors of one feature set apart', async () => {
        const v1 = version(1);
        const v2 = version(2, v1.featureSetId);
        await store.write(v1, [record(['k'], T0 + 100, 1, { v: 'one' })]);
        await store.write(v2, [record(['k'], T0, 1, { w: 'two' })]);
        assert.deepEqual(await read(v1, [['k']]), [record(['k'], T0 + 100, 1, { v: 'one' })]);
        assert.deepEqual(await read(v2, [['k']]), [record(['k'], T0, 1, { w: 'two' })]);
        await store.delete(v2, [['k']]);
        assert.deepEqual(await read(v1, [['k']]), [record(['k'], T0 + 100, 1, { v: 'one' })]);
        assert.deepEqual(await read(version(3, v1.featureSetId), [['k']]), [undefined]);
      });
    });

    group('largeBatches', 'large batches', () => {
      t.it(
        `writes and reads ${largeKeys} keys in one call, in order`,
        async () => {
          const fs = version();
          const values = (i: number) => ({ i, s: `value ${i}`, f: i / 3, b: i % 2 === 0 });
          const records = Array.from({ length: largeKeys }, (_, i) =>
            record([`entity_${i}`, String(i)], T0 + i, 1, values(i)),
          );
          assert.equal(await store.write(fs, records), largeKeys);
          const keys = shuffled(records.map((r) => [...r.key]));
          keys.splice(largeKeys / 2, 0, ['missing', '0']);
          const rows = await read(fs, keys);
          assert.equal(rows.length, keys.length);
          for (const [i, key] of keys.entries()) {
            const n = key[0] === 'missing' ? undefined : Number(key[1]);
            assert.deepEqual(rows[i], n === undefined ? undefined : records[n], `row ${i}`);
          }
          assert.equal(await store.write(fs, records), largeKeys, 'a replay applies again');
          const older = records.map((r) => ({ ...r, eventTime: r.eventTime - 1 }));
          assert.equal(await store.write(fs, older), 0);
        },
        slow,
      );
    });

    group('close', 'close', () => {
      t.it('closes once, twice is harmless, and later calls fail', async () => {
        const other = await factory();
        const fs = version();
        await other.write(fs, [record(['k'], T0, 1, { v: 1 })]);
        await other.close();
        await other.close();
        await assert.rejects(other.read({ featureSet: fs, keys: [['k']] }), {
          code: 'UNAVAILABLE',
        });
        await assert.rejects(other.write(fs, [record(['k'], T0, 1, { v: 1 })]), {
          code: 'UNAVAILABLE',
        });
      });
    });
  });
}

/** Orders (event time, write sequence): the store keeps the greatest. */
function compare(a: OnlineRecord, b: OnlineRecord): number {
  return a.eventTime - b.eventTime || a.writeSequence - b.writeSequence;
}

function byKey(a: OnlineRecord, b: OnlineRecord): number {
  const x = JSON.stringify(a.key);
  const y = JSON.stringify(b.key);
  return x < y ? -1 : x > y ? 1 : 0;
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
