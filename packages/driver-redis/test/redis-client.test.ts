import { describe, expect, it } from 'vitest';
import { loadIoredis, parseRedisUrl, redact } from '../src/index.js';

describe('parseRedisUrl', () => {
  it('reads single-node URLs', () => {
    expect(parseRedisUrl('redis://127.0.0.1')).toEqual({
      cluster: false,
      tls: false,
      nodes: [{ host: '127.0.0.1', port: 6379 }],
      endpoint: '127.0.0.1:6379',
    });
    expect(parseRedisUrl('rediss://us%40r:p%3Ass@cache.internal:6380/2')).toEqual({
      cluster: false,
      tls: true,
      nodes: [{ host: 'cache.internal', port: 6380 }],
      username: 'us@r',
      password: 'p:ss',
      db: 2,
      endpoint: 'cache.internal:6380',
    });
    expect(parseRedisUrl('redis://:secret@[::1]:7000')).toMatchObject({
      nodes: [{ host: '::1', port: 7000 }],
      password: 'secret',
    });
  });

  it('reads cluster URLs with several nodes', () => {
    expect(parseRedisUrl('redis-cluster://10.0.0.1:7000,10.0.0.2:7001,node3')).toEqual({
      cluster: true,
      tls: false,
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: 'node3', port: 6379 },
      ],
      endpoint: '10.0.0.1:7000,10.0.0.2:7001,node3:6379',
    });
    expect(parseRedisUrl('rediss-cluster://u:p@a:1')).toMatchObject({ cluster: true, tls: true });
  });

  it('refuses what it cannot use, without showing the password', () => {
    const bad = [
      'http://host',
      'redis://a:1,b:2',
      'redis-cluster://a:1/0',
      'redis://host/name',
      'redis://host:99999',
      'redis://host:port',
    ];
    for (const url of bad) {
      expect(() => parseRedisUrl(url), url).toThrow(
        expect.objectContaining({ code: 'VALIDATION' }),
      );
    }
    expect(() => parseRedisUrl('redis://user:hunter2@a:1,b:2')).toThrow(/user:\*\*\*@/);
    expect(redact('redis://user:hunter2@host')).toBe('redis://user:***@host');
  });
});

describe('loadIoredis', () => {
  it('names the package to install when ioredis is missing', async () => {
    const missing = Object.assign(new Error("Cannot find package 'ioredis'"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    await expect(loadIoredis(() => Promise.reject(missing))).rejects.toMatchObject({
      code: 'NOT_SUPPORTED',
      message: expect.stringContaining('npm install ioredis'),
    });
  });

  it('loads the Redis and Cluster classes', async () => {
    const { Redis, Cluster } = await loadIoredis();
    expect(typeof Redis).toBe('function');
    expect(typeof Cluster).toBe('function');
  });
});
