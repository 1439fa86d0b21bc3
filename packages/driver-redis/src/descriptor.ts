import { defineDriver, tlsConnectionOptions, ValidationError } from '@featurestore/core/driver';
import { z } from 'zod';
import { RedisOnlineStore } from './redis-online-store.js';

const tls = z
  .object({
    ca: z.string().optional(),
    caFile: z.string().optional(),
    cert: z.string().optional(),
    certFile: z.string().optional(),
    key: z.string().optional(),
    keyFile: z.string().optional(),
    servername: z.string().optional(),
    rejectUnauthorized: z.boolean().optional(),
  })
  .strict();

const positive = z.number().int().positive();

/** The `drivers.redis` block of a configuration. */
export const redisDriverOptions = z
  .object({
    /** Connecting fails after this long (default 5000 ms). */
    connectTimeoutMs: positive.optional(),
    /** A command without a reply fails after this long (default 10 000 ms). */
    commandTimeoutMs: positive.optional(),
    /** Records per write script call (default 1000). */
    writeBatchSize: positive.optional(),
    /** Keys per SCAN page and UNLINK (default 1000). */
    scanCount: positive.optional(),
    /** TLS of `rediss://` and `rediss-cluster://` (certificates inline or as files). */
    tls: tls.optional(),
  })
  .strict()
  .default({});

/**
 * The online store on Redis or Redis Cluster: `redis://`, `rediss://` (TLS),
 * `redis-cluster://`, `rediss-cluster://`.
 */
export const redisDriver = defineDriver({
  name: 'redis',
  port: 'online',
  schemes: ['redis', 'rediss', 'redis-cluster', 'rediss-cluster'],
  options: redisDriverOptions,
  async open(url, options) {
    const { tls: tlsSettings, ...rest } = options;
    const secure = /^rediss(-cluster)?:/i.test(url);
    if (tlsSettings !== undefined && !secure) {
      throw new ValidationError(
        `drivers.redis.tls is set but ${url.split(':')[0]}:// does not use TLS: use rediss:// or rediss-cluster://`,
        { details: { field: 'drivers.redis.tls' } },
      );
    }
    const tlsOptions =
      tlsSettings === undefined
        ? undefined
        : await tlsConnectionOptions(tlsSettings, 'drivers.redis.tls');
    // A cluster's nodes take the same connection options (redis-client.ts passes them on).
    return RedisOnlineStore.fromUrl(url, {
      ...rest,
      ...(tlsOptions === undefined ? {} : { redisOptions: { tls: tlsOptions } }),
    });
  },
});
