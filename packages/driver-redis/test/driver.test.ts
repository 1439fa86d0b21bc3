import net from 'node:net';
import {
  FeatureStoreError,
  MemoryOnlineStore,
  type OnlineRecord,
  type OnlineStore,
} from '@featurestore/core';
import { serviceEnv, uniqueName } from '@featurestore/core/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  encodeKey,
  forgetShapes,
  type RedisClientLike,
  RedisOnlineStore,
  versionPrefix,
  WRITE_SCRIPT_SHA,
} from '../src/index.js';

const url = serviceEnv('FEATURESTORE_TEST_REDIS_URL');
const admin = new Redis(url);
const stores: OnlineStore[] = [];
const versions: { featureSetId: string; major: number }[] = [];

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});
afterAll(async () => {
  const cleaner = RedisOnlineStore.fromUrl(url);
  for (const featureSet of versions) await cleaner.drop(featureSet);
  await cleaner.close();
  await admin.quit();
});

function track<T extends OnlineStore>(store: T): T {
  stores.push(store);
  return store;
}

function version(major = 1) {
  const featureSet = { featureSetId: uniqueName('driver'), major };
  versions.push(featureSet);
  return featureSet;
}

const record = (key: string[], eventTime: number, writeSequence = 1, values = {}) => ({
  key,
  eventTime,
  writeSequence,
  values,
});

/** A port that nothing listens on: the OS refuses connections at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Forwards to the test Redis until stopped: Redis "goes down" and "comes back". */
async function proxy(port = 0) {
  const target = new URL(url);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The calls each method of a client received. */
function counting(client: Redis) {
  const calls: Record<string, number> = {};
  const counted = new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        calls[property] = (calls[property] ?? 0) + 1;
        return value.apply(target, args);
      };
    },
  });
  return { client: counted as RedisClientLike, calls };
}

describe('round trips', () => {
  it('reads three feature sets with one MGET, and writes a batch per script call', async () => {
    const raw = new Redis(url);
    const { client, calls } = counting(raw);
    const store = track(new RedisOnlineStore({ client, writeBatchSize: 1000 }));
    const [a, b, c] = [version(), version(), version(2)];
    const rows = Array.from({ length: 2500 }, (_, i) => record([`k${i}`], 1000 + i, 1, { i }));
    expect(await store.write(a, rows)).toBe(2500);
    expect(calls.evalsha).toBe(3);
    await store.write(b, [record(['b'], 1, 1, { x: 'b' })]);
    await store.write(c, [record(['c'], 1, 1, { y: 'c' })]);
    for (const name of Object.keys(calls)) delete calls[name];

    const result = await store.readMany([
      { featureSet: a, keys: [['k1'], ['k2499']], features: ['i'] },
      { featureSet: b, keys: [['b'], ['none']] },
      { featureSet: c, keys: [['c']], ttlMs: 10, now: 5 },
    ]);
    expect(result.map((rows) => rows.map((row) => row?.values))).toEqual([
      [{ i: 1 }, { i: 2499 }],
      [{ x: 'b' }, undefined],
      [{ y: 'c' }],
    ]);
    expect(calls).toEqual({ mgetBuffer: 1 });

    // A process that never saw these shapes fetches their names once, in one more MGET.
    forgetShapes();
    for (const name of Object.keys(calls)) delete calls[name];
    const fresh = await store.readMany([
      { featureSet: a, keys: [['k7']] },
      { featureSet: b, keys: [['b']] },
    ]);
    expect(fresh.map((rows) => rows.map((row) => row?.values))).toEqual([[{ i: 7 }], [{ x: 'b' }]]);
    expect(calls).toEqual({ mgetBuffer: 2 });
    await store.read({ featureSet: c, keys: [['c']] });
    expect(calls).toEqual({ mgetBuffer: 4 });
    await store.read({ featureSet: c, keys: [['c']] });
    expect(calls).toEqual({ mgetBuffer: 5 });
    await raw.quit();
  });
});

describe('the write script', () => {
  it('is sent again after Redis forgot it (SCRIPT FLUSH)', async () => {
    const store = track(RedisOnlineStore.fromUrl(url));
    const featureSet = version();
    await store.write(featureSet, [record(['k'], 10, 1, { v: 'first' })]);
    await admin.script('FLUSH');
    expect(await admin.script('EXISTS', WRITE_SCRIPT_SHA)).toEqual([0]);
    expect(await store.write(featureSet, [record(['k'], 9, 1, { v: 'older' })])).toBe(0);
    expect(await store.write(featureSet, [record(['k'], 11, 1, { v: 'newer' })])).toBe(1);
    expect(await admin.script('EXISTS', WRITE_SCRIPT_SHA)).toEqual([1]);
    const [row] = await store.read({ featureSet, keys: [['k']] });
    expect(row?.values).toEqual({ v: 'newer' });
  });

  it('applies exactly what the reference store applies, batch after random batch', async () => {
    const redis = track(RedisOnlineStore.fromUrl(url, { writeBatchSize: 5 }));
    const memory = track(new MemoryOnlineStore());
    const featureSet = version();
    const keys = Array.from({ length: 12 }, (_, i) => [`k${i}`]);
    // Fractional times, sequences beyond 2^32 and equal pairs: the script compares float64s.
    const times = [-1.5, 0, 0.25, 1e12 + 0.5, 1e12 + 0.75, 1_700_000_000_000];
    const sequences = [0, 1, 2 ** 40, 2 ** 40 + 1, 2 ** 53 - 1];
    const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!;
    for (let round = 0; round < 60; round++) {
      const batch: OnlineRecord[] = Array.from({ length: 1 + Math.floor(Math.random() * 15) }, () =>
        record(pick(keys), pick(times), pick(sequences), { round, n: Math.random() }),
      );
      const expected = await memory.write(featureSet, batch);
      expect(await redis.write(featureSet, batch), `round ${round}`).toBe(expected);
    }
    expect(await redis.read({ featureSet, keys })).toEqual(await memory.read({ featureSet, keys }));
  });

  it('lets Redis expire records a time to live after their event time, when asked', async () => {
    const store = track(RedisOnlineStore.fromUrl(url));
    const featureSet = version();
    const now = Date.now();
    await store.write(
      featureSet,
      [record(['fresh'], now, 1, { v: 1 }), record(['stale'], now - 120_000, 1, { v: 2 })],
      { ttlMs: 60_000 },
    );
    const prefix = versionPrefix(featureSet);
    const left = await admin.pttl(encodeKey(prefix, ['fresh']));
    expect(left).toBeGreaterThan(50_000);
    expect(left).toBeLessThanOrEqual(60_000);
    expect(await admin.exists(encodeKey(prefix, ['stale']))).toBe(0);
    await store.write(featureSet, [record(['forever'], now, 1, { v: 3 })]);
    expect(await admin.pttl(encodeKey(prefix, ['forever']))).toBe(-1);
  });

  it('rejects records it cannot order', async () => {
    const store = track(RedisOnlineStore.fromUrl(url));
    const featureSet = version();
    await expect(store.write(featureSet, [record(['k'], Number.NaN)])).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(/eventTime is not a finite number/),
    });
    await expect(
      store.write(featureSet, [{ ...record(['k'], 1), key: [1 as unknown as string] }]),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});

describe('errors', () => {
  it('fails fast with UNAVAILABLE naming the server when nothing listens', async () => {
    const port = await closedPort();
    const store = track(RedisOnlineStore.fromUrl(`redis://127.0.0.1:${port}`));
    const started = Date.now();
    const error = await store.read({ featureSet: version(), keys: [['k']] }).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(FeatureStoreError);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it('gives up on a server that accepts connections but never answers', async () => {
    const accepted = new Set<net.Socket>();
    const silent = net.createServer((socket) => accepted.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const store = track(
      RedisOnlineStore.fromUrl(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 300 }),
    );
    const started = Date.now();
    await expect(store.write(version(), [record(['k'], 1)])).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    expect(Date.now() - started).toBeLessThan(1500);
    await store.close();
    for (const socket of accepted) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('fails fast while Redis is down, and recovers when it is back', async () => {
    const relay = await proxy();
    const store = track(RedisOnlineStore.fromUrl(`redis://127.0.0.1:${relay.port}`));
    const featureSet = version();
    await store.write(featureSet, [record(['k'], 1, 1, { v: 1 })]);
    await relay.stop();
    const started = Date.now();
    await expect(store.read({ featureSet, keys: [['k']] })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining(`127.0.0.1:${relay.port}`),
    });
    expect(Date.now() - started).toBeLessThan(1000);
    const back = await proxy(relay.port);
    let row: OnlineRecord | undefined;
    for (let attempt = 0; attempt < 50 && !row; attempt++) {
      [row] = await store.read({ featureSet, keys: [['k']] }).catch(() => [undefined]);
      if (!row) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(row?.values).toEqual({ v: 1 });
    await store.close();
    await back.stop();
  });

  it('says the credentials are wrong', async () => {
    const { host } = new URL(url);
    const store = track(RedisOnlineStore.fromUrl(`redis://nobody:wrong@${host}`));
    const error = await store.read({ featureSet: version(), keys: [['k']] }).catch((e) => e);
    expect(error).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(error.message).toMatch(/WRONGPASS/);
    expect(error.message).not.toContain('wrong@');
  });

  it('quotes the reply Redis gave', async () => {
    const store = track(RedisOnlineStore.fromUrl(url));
    const featureSet = version();
    await admin.hset(encodeKey(versionPrefix(featureSet), ['hash']), 'f', 'v');
    const error = await store.write(featureSet, [record(['hash'], 1)]).catch((e) => e);
    expect(error).toMatchObject({ code: 'INTERNAL', details: { redisReply: 'WRONGTYPE' } });
    expect(error.message).toMatch(
      /^Redis at .* replied to write \(EVALSHA\) with an error: WRONGTYPE/,
    );
  });

  it('says so when the feature names of a record are gone', async () => {
    const store = track(RedisOnlineStore.fromUrl(url));
    const featureSet = version();
    await store.write(featureSet, [record(['k'], 1, 1, { only_here: 1 })]);
    const prefix = versionPrefix(featureSet);
    const [shape] = await admin.keys(`${prefix.replace(/[{}]/g, '\\$&')}~*`);
    await admin.del(shape!);
    forgetShapes();
    await expect(store.read({ featureSet, keys: [['k']] })).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/feature names .* are missing .*maxmemory-policy/),
    });
    // The next write of that shape brings them back.
    await store.write(featureSet, [record(['k2'], 1, 1, { only_here: 2 })]);
    forgetShapes();
    const rows = await store.read({ featureSet, keys: [['k'], ['k2']] });
    expect(rows.map((row) => row?.values)).toEqual([{ only_here: 1 }, { only_here: 2 }]);
  });

  it('names the key of a record it cannot decode', async () => {
    const store = track(RedisOnlineStore.fromUrl(url));
    const featureSet = version();
    await admin.set(encodeKey(versionPrefix(featureSet), ['bad']), 'not a record');
    await expect(store.read({ featureSet, keys: [['bad']] })).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/key \["bad"\].*cannot be read/),
    });
  });
});

describe('clients and URLs', () => {
  it('connects an injected lazy client and leaves it open on close', async () => {
    const client = new Redis(url, { lazyConnect: true });
    const store = new RedisOnlineStore({ client });
    const featureSet = version();
    expect(await store.write(featureSet, [record(['k'], 1)])).toBe(1);
    await store.close();
    expect(await client.ping()).toBe('PONG');
    await client.quit();
  });

  it('uses the database of the URL', async () => {
    const store = track(RedisOnlineStore.fromUrl(`${url}/3`));
    const featureSet = version();
    await store.write(featureSet, [record(['k'], 1)]);
    const db3 = new Redis(`${url}/3`);
    const key = encodeKey(versionPrefix(featureSet), ['k']);
    expect(await db3.exists(key)).toBe(1);
    expect(await admin.exists(key)).toBe(0);
    await store.drop(featureSet);
    await db3.quit();
  });

  it('takes a url or a client, not both', () => {
    const client = new Redis(url, { lazyConnect: true });
    expect(() => new RedisOnlineStore({ url, client })).toThrow(/either a url or a client/);
    expect(() => new RedisOnlineStore({})).toThrow(/either a url or a client/);
    expect(() => RedisOnlineStore.fromUrl(url, { writeBatchSize: 0 })).toThrow(/writeBatchSize/);
    client.disconnect();
  });

  it('refuses a key prefix, which would move every key out of the layout', async () => {
    const store = track(RedisOnlineStore.fromUrl(url, { redisOptions: { keyPrefix: 'x:' } }));
    await expect(store.read({ featureSet: version(), keys: [] })).rejects.toThrow(/keyPrefix/);
  });
});
