import { onlineStoreConformance, serviceEnv } from '@featurestore/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { RedisOnlineStore } from '../src/index.js';

const api = { describe, it, beforeAll, afterAll };
const url = serviceEnv('FEATURESTORE_TEST_REDIS_URL');

describe('Redis online store', () => {
  describe('from a URL', () => {
    onlineStoreConformance(api, async () => RedisOnlineStore.fromUrl(url));
  });

  describe('on an injected client, with small batches and pages', () => {
    const clients: Redis[] = [];
    afterAll(async () => {
      for (const client of clients) await client.quit();
    });
    onlineStoreConformance(api, async () => {
      const client = new Redis(url);
      clients.push(client);
      return new RedisOnlineStore({ client, writeBatchSize: 7, scanCount: 10 });
    });
  });
});
