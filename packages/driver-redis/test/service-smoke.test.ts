import { randomUUID } from 'node:crypto';
import { serviceEnv } from '@featurestore/core/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

describe('Redis test service', () => {
  const redis = new Redis(serviceEnv('FEATURESTORE_TEST_REDIS_URL'));
  // One server serves every test file: a unique key keeps parallel runs apart.
  const key = `smoke:${randomUUID()}`;

  afterAll(async () => {
    await redis.del(key);
    await redis.quit();
  });

  it('stores and reads a value', async () => {
    await redis.set(key, 'hello', 'EX', 60);

    expect(await redis.get(key)).toBe('hello');
  });

  it('runs a Lua script', async () => {
    const result = await redis.eval(
      "redis.call('SET', KEYS[1], ARGV[1], 'EX', 60); return redis.call('STRLEN', KEYS[1])",
      1,
      key,
      'twelve chars',
    );

    expect(result).toBe(12);
    expect(await redis.get(key)).toBe('twelve chars');
  });
});
