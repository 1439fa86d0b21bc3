import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ObjectStorage } from '../ports/object-storage.js';
import { readAll } from '../storage/object-body.js';
import { listAll } from '../storage/object-keys.js';
import { type SuiteApi, uniqueName } from './suite-api.js';

export interface ObjectStorageConformanceOptions {
  /** Size of the large-object case in bytes (default 64 MiB); 0 switches it off. */
  largeObjectBytes?: number;
  /** Keys written for the pagination case (default 1100: more than one 1000-key page). */
  manyKeys?: number;
  /** The scheme `uri()` must produce, e.g. `file:` or `s3:`. */
  uriScheme?: string;
  /** Timeout of the slow cases in milliseconds (default 120 s). */
  slowTimeout?: number;
  /** The driver has the optional atomic `rename` (default false: the suite checks it is absent). */
  rename?: boolean;
  /** Keys of the bulk delete case (default 1050: more than one S3 `DeleteObjects` call). */
  bulkDeleteKeys?: number;
  /**
   * The same backend rooted at `prefix` under the factory's storage (`s3://bucket/<root>/<prefix>`,
   * a subfolder…): enables the prefix isolation case.
   */
  openAt?: (storage: ObjectStorage, prefix: string) => Promise<ObjectStorage>;
}

/**
 * The contract every `ObjectStorage` driver meets, one group per capability.
 *
 * @example
 * // packages/driver-x/test/suite.test.ts
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * import { objectStorageConformance } from '@featurestore/core/testing';
 * objectStorageConformance({ describe, it, beforeAll, afterAll }, async () => new XStorage(…));
 */
export function objectStorageConformance(
  t: SuiteApi,
  factory: () => Promise<ObjectStorage>,
  options: ObjectStorageConformanceOptions = {},
): void {
  const slow = options.slowTimeout ?? 120_000;
  let storage: ObjectStorage;
  let base: string;
  const key = (name: string) => `${base}/${name}`;
  const text = async (k: string, range?: { offset: number; length?: number }) =>
    (await readAll(await storage.get(k, range))).toString('utf8');

  t.describe(`ObjectStorage conformance`, () => {
    t.beforeAll(async () => {
      storage = await factory();
      base = uniqueName('conformance');
    });
    t.afterAll(async () => {
      if (!storage) return;
      const keys: string[] = [];
      for await (const object of listAll(storage, `${base}/`)) keys.push(object.key);
      for (let i = 0; i < keys.length; i += 500) await storage.delete(keys.slice(i, i + 500));
      await storage.close?.();
    }, slow);

    t.describe('put and get', () => {
      t.it('round-trips bytes, strings and streams', async () => {
        await storage.put(key('put/bytes'), new Uint8Array([0, 1, 2, 255]));
        await storage.put(key('put/string'), 'héllo');
        await storage.put(key('put/stream'), Readable.from([Buffer.from('ab'), Buffer.from('cd')]));
        assert.deepEqual([...(await readAll(await storage.get(key('put/bytes'))))], [0, 1, 2, 255]);
        assert.equal(await text(key('put/string')), 'héllo');
        assert.equal(await text(key('put/stream')), 'abcd');
      });

      t.it('put returns the stored size and overwrites replace the whole object', async () => {
        const first = await storage.put(key('put/overwrite'), 'a longer first version');
        assert.equal(first.size, 22);
        const second = await storage.put(key('put/overwrite'), 'short');
        assert.equal(second.size, 5);
        assert.equal(await text(key('put/overwrite')), 'short');
      });

      t.it('stores an empty object', async () => {
        await storage.put(key('put/empty'), '');
        assert.equal((await storage.head(key('put/empty')))?.size, 0);
        assert.equal(await text(key('put/empty')), '');
      });

      t.it('accepts names with spaces and unicode', async () => {
        const names = ['with space/file name.txt', 'unicodé/日本語/ключ.bin', 'emoji 🚀.txt'];
        for (const name of names) await storage.put(key(`names/${name}`), name);
        for (const name of names) assert.equal(await text(key(`names/${name}`)), name);
        const listed = [];
        for await (const object of listAll(storage, key('names/'))) listed.push(object.key);
        assert.deepEqual(listed.sort(), names.map((name) => key(`names/${name}`)).sort());
      });

      t.it('keeps URL-special characters in keys intact through every call', async () => {
        const names = [
          'plus+sign',
          'percent%20x',
          'q?mark#hash',
          `quote'"&<>`,
          'tab\tx',
          'trail /x',
        ];
        for (const name of names) {
          await storage.put(key(`special/${name}`), name);
          assert.equal(await text(key(`special/${name}`)), name, name);
          assert.equal((await storage.head(key(`special/${name}`)))?.size, Buffer.byteLength(name));
        }
        const listed: string[] = [];
        for await (const object of listAll(storage, key('special/'))) listed.push(object.key);
        assert.deepEqual(listed.sort(), names.map((name) => key(`special/${name}`)).sort());
        await storage.delete(listed);
        assert.deepEqual((await storage.list(key('special/'))).objects, []);
      });

      t.it("passes a failing body stream's own error through and leaves no object", async () => {
        const failure = new Error('the source broke');
        async function* broken() {
          yield Buffer.alloc(64 * 1024, 1);
          throw failure;
        }
        await assert.rejects(
          storage.put(key('put/broken'), broken()),
          (error) => error === failure,
        );
        assert.equal(await storage.head(key('put/broken')), undefined);
      });

      t.it('rejects keys that could escape the root', async () => {
        for (const bad of ['../escape', '/absolute', 'a//b', 'a/./b', 'a\\b', '']) {
          await assert.rejects(storage.put(bad, 'x'), { code: 'VALIDATION' }, bad);
        }
      });
    });

    t.describe('missing objects', () => {
      t.it('get of a missing object is a NotFoundError naming the key', async () => {
        const missing = key('missing/nothing-here');
        await assert.rejects(storage.get(missing), (error: Error & { code?: string }) => {
          assert.equal(error.code, 'NOT_FOUND');
          assert.match(error.message, /nothing-here/);
          return true;
        });
      });

      t.it('head of a missing object is undefined', async () => {
        assert.equal(await storage.head(key('missing/nothing-here')), undefined);
      });

      t.it('delete of missing objects succeeds', async () => {
        await storage.delete([key('missing/a'), key('missing/b')]);
      });
    });

    t.describe('ranged get', () => {
      t.it('returns exactly the requested bytes', async () => {
        await storage.put(key('range/digits'), '0123456789');
        assert.equal(await text(key('range/digits'), { offset: 2, length: 4 }), '2345');
        assert.equal(await text(key('range/digits'), { offset: 7 }), '789');
        assert.equal(await text(key('range/digits'), { offset: 8, length: 100 }), '89');
        assert.equal(await text(key('range/digits'), { offset: 0, length: 1 }), '0');
      });

      t.it('reads zero bytes and from the very end, and refuses ranges past the end', async () => {
        await storage.put(key('range/ten'), '0123456789');
        assert.equal(await text(key('range/ten'), { offset: 3, length: 0 }), '');
        assert.equal(await text(key('range/ten'), { offset: 10 }), '');
        await assert.rejects(storage.get(key('range/ten'), { offset: 12, length: 5 }), (error) => {
          assert.equal((error as { code?: string }).code, 'VALIDATION');
          assert.match((error as Error).message, /bytes=12-16 .*range\/ten.*10 bytes/);
          return true;
        });
        await assert.rejects(storage.get(key('range/ten'), { offset: -1 }), {
          code: 'VALIDATION',
        });
        await assert.rejects(storage.get(key('range/ten'), { offset: 1.5 }), {
          code: 'VALIDATION',
        });
        await assert.rejects(storage.get(key('range/missing'), { offset: 0, length: 0 }), {
          code: 'NOT_FOUND',
        });
        await storage.put(key('range/empty'), '');
        assert.equal(await text(key('range/empty'), { offset: 0 }), '');
      });
    });

    t.describe('head', () => {
      t.it('reports size and modification time', async () => {
        const before = Date.now() - 60_000;
        await storage.put(key('head/object'), 'twelve bytes');
        const info = await storage.head(key('head/object'));
        assert.equal(info?.key, key('head/object'));
        assert.equal(info?.size, 12);
        assert.ok(info.lastModified.getTime() > before, 'lastModified is recent');
      });
    });

    t.describe('list', () => {
      t.it('lists by prefix in ascending key order', async () => {
        for (const name of ['b', 'a', 'c/1', 'c/0', 'ab']) {
          await storage.put(key(`list/${name}`), name);
        }
        await storage.put(key('listing-other/x'), 'x');
        const page = await storage.list(key('list/'));
        assert.deepEqual(
          page.objects.map((object) => object.key),
          ['a', 'ab', 'b', 'c/0', 'c/1'].map((name) => key(`list/${name}`)),
        );
        assert.equal(page.cursor, undefined);
        assert.deepEqual(
          page.objects.map((object) => object.size),
          [1, 2, 1, 3, 3],
        );
      });

      t.it('matches a prefix that ends inside a name', async () => {
        const page = await storage.list(key('list/a'));
        assert.deepEqual(
          page.objects.map((object) => object.key),
          [key('list/a'), key('list/ab')],
        );
      });

      t.it('returns an empty page for a prefix with no objects', async () => {
        const page = await storage.list(key('list-nothing/'));
        assert.deepEqual(page.objects, []);
        assert.equal(page.cursor, undefined);
      });

      t.it('pages with a limit and a cursor, without gaps or repeats', async () => {
        const names = Array.from({ length: 7 }, (_, i) => `page/${i}`);
        for (const name of names) await storage.put(key(name), name);
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await storage.list(key('page/'), {
            limit: 3,
            ...(cursor ? { cursor } : {}),
          });
          assert.ok(page.objects.length <= 3);
          seen.push(...page.objects.map((object) => object.key));
          cursor = page.cursor;
          pages++;
        } while (cursor !== undefined && pages < 10);
        assert.deepEqual(
          seen,
          names.map((name) => key(name)),
        );
      });

      t.it('refuses a limit that is not a positive integer, and an invalid prefix', async () => {
        for (const limit of [0, -1, 1.5, Number.NaN]) {
          await assert.rejects(storage.list(key('list/'), { limit }), { code: 'VALIDATION' });
        }
        for (const prefix of ['../', '/abs', 'a//b', 'a\\b']) {
          await assert.rejects(storage.list(prefix), { code: 'VALIDATION' }, prefix);
        }
      });

      t.it(
        'lists more keys than one default page holds',
        async () => {
          const count = options.manyKeys ?? 1100;
          const keys = Array.from({ length: count }, (_, i) =>
            key(`many/${String(i).padStart(5, '0')}`),
          );
          for (let i = 0; i < keys.length; i += 50) {
            await Promise.all(keys.slice(i, i + 50).map((k) => storage.put(k, 'x')));
          }
          const listed: string[] = [];
          for await (const object of listAll(storage, key('many/'))) listed.push(object.key);
          assert.equal(listed.length, count);
          assert.deepEqual(listed, keys);
        },
        slow,
      );
    });

    t.describe('delete', () => {
      t.it('deletes a batch of objects and leaves the others', async () => {
        for (const name of ['d/1', 'd/2', 'd/3']) await storage.put(key(name), name);
        await storage.delete([key('d/1'), key('d/3')]);
        assert.equal(await storage.head(key('d/1')), undefined);
        assert.equal(await storage.head(key('d/3')), undefined);
        assert.equal(await text(key('d/2')), 'd/2');
        const page = await storage.list(key('d/'));
        assert.deepEqual(
          page.objects.map((object) => object.key),
          [key('d/2')],
        );
      });

      t.it(
        'deletes more keys than one batch call takes, missing keys included',
        async () => {
          const count = options.bulkDeleteKeys ?? 1050;
          const keys = Array.from({ length: count }, (_, i) =>
            key(`bulk/${String(i).padStart(5, '0')}`),
          );
          for (let i = 0; i < keys.length; i += 50) {
            await Promise.all(keys.slice(i, i + 50).map((k) => storage.put(k, 'x')));
          }
          await storage.delete([...keys, key('bulk/missing-1'), key('bulk/missing-2')]);
          assert.deepEqual((await storage.list(key('bulk/'))).objects, []);
        },
        slow,
      );
    });

    if (options.openAt) {
      const openAt = options.openAt;
      t.describe('prefixes', () => {
        t.it(
          'a storage rooted under a prefix never sees, lists or deletes keys outside it',
          async () => {
            for (const name of [
              'tenant/in.txt',
              'tenant/sub/deep.txt',
              'tenant-b/out.txt',
              'tenantx',
            ]) {
              await storage.put(key(`iso/${name}`), name);
            }
            const tenant = await openAt(storage, key('iso/tenant'));
            try {
              const seen: string[] = [];
              for await (const object of listAll(tenant, '')) seen.push(object.key);
              assert.deepEqual(seen, ['in.txt', 'sub/deep.txt']);
              assert.deepEqual(
                (await tenant.list('sub/')).objects.map((object) => object.key),
                ['sub/deep.txt'],
              );
              assert.equal((await tenant.head('in.txt'))?.size, 13);
              assert.equal(
                (await readAll(await tenant.get('sub/deep.txt'))).toString('utf8'),
                'tenant/sub/deep.txt',
              );
              await assert.rejects(tenant.get('../tenant-b/out.txt'), { code: 'VALIDATION' });
              await assert.rejects(tenant.list('../'), { code: 'VALIDATION' });
              assert.ok(tenant.uri('in.txt').endsWith('/iso/tenant/in.txt'), tenant.uri('in.txt'));
              await tenant.delete(['in.txt', 'sub/deep.txt', 'out.txt']);
              assert.deepEqual((await tenant.list('')).objects, []);
              assert.equal(await text(key('iso/tenant-b/out.txt')), 'tenant-b/out.txt');
              assert.equal(await text(key('iso/tenantx')), 'tenantx');
            } finally {
              await tenant.close?.();
            }
          },
        );
      });
    }

    t.describe('concurrency', () => {
      t.it('concurrent writers to one key leave one whole version', async () => {
        const versions = Array.from({ length: 8 }, (_, i) => String(i).repeat(64 * 1024));
        await Promise.all(versions.map((body) => storage.put(key('race/one'), body)));
        assert.ok(versions.includes(await text(key('race/one'))), 'content is one whole version');
      });

      t.it('concurrent writers to different keys all land', async () => {
        const names = Array.from({ length: 20 }, (_, i) => `race/many/${i}`);
        await Promise.all(names.map((name) => storage.put(key(name), name)));
        for (const name of names) assert.equal(await text(key(name)), name);
      });
    });

    if (options.uriScheme !== undefined) {
      t.describe('uri', () => {
        t.it('names the object for compute engines', () => {
          const uri = storage.uri(key('uri/x.parquet'));
          assert.ok(uri.startsWith(options.uriScheme!), `${uri} starts with ${options.uriScheme}`);
          assert.ok(uri.endsWith('/uri/x.parquet'), uri);
        });
      });
    }

    t.describe('rename', () => {
      if (options.rename) {
        t.it('moves an object atomically', async () => {
          await storage.put(key('rename/from'), 'moved');
          await storage.rename!(key('rename/from'), key('rename/to'));
          assert.equal(await storage.head(key('rename/from')), undefined);
          assert.equal(await text(key('rename/to')), 'moved');
        });
      } else {
        t.it('is absent, as the driver declares', () => {
          assert.equal(storage.rename, undefined);
        });
      }
    });

    const largeBytes = options.largeObjectBytes ?? 64 * 1024 * 1024;
    if (largeBytes > 0) {
      t.describe('large objects', () => {
        t.it(
          `streams an object of ${Math.round(largeBytes / 1024 / 1024)} MiB both ways`,
          async () => {
            const chunk = 1024 * 1024;
            const written = createHash('sha256');
            async function* generate() {
              for (let offset = 0; offset < largeBytes; offset += chunk) {
                const block = Buffer.alloc(Math.min(chunk, largeBytes - offset), offset / chunk);
                written.update(block);
                yield block;
              }
            }
            const info = await storage.put(key('large/object.bin'), generate());
            assert.equal(info.size, largeBytes);
            const read = createHash('sha256');
            let size = 0;
            for await (const part of await storage.get(key('large/object.bin'))) {
              read.update(part as Buffer);
              size += (part as Buffer).length;
            }
            assert.equal(size, largeBytes);
            assert.equal(read.digest('hex'), written.digest('hex'));
            const tail = await readAll(
              await storage.get(key('large/object.bin'), { offset: largeBytes - 3, length: 3 }),
            );
            assert.equal(tail.length, 3);
          },
          slow,
        );
      });
    }
  });
}
