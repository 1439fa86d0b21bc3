import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { type DriverPort, defineDriver, MemoryOnlineStore } from '@featurestore/core';
import { serviceEnv, uniqueName } from '@featurestore/core/testing';
import { KafkaMessageQueue } from '@featurestore/driver-kafka';
import { RedisOnlineStore } from '@featurestore/driver-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DriverRegistry } from '../src/driver-registry.js';
import { tempStore } from './helpers.js';

const context = {
  storeDir: '/tmp/unused',
  clientId: 'registry-test',
  metadataSchema: 'featurestore',
};

/** Every scheme each driver's URL parser accepts, with the driver that must open it. */
const SCHEMES: [DriverPort, string, string][] = [
  ['metadata', 'postgres://u@127.0.0.1:1/db', 'postgres'],
  ['metadata', 'postgresql://u@127.0.0.1:1/db', 'postgres'],
  ['online', 'redis://127.0.0.1:1', 'redis'],
  ['online', 'rediss://127.0.0.1:1', 'redis'],
  ['online', 'redis-cluster://127.0.0.1:1,127.0.0.1:2', 'redis'],
  ['online', 'rediss-cluster://127.0.0.1:1', 'redis'],
  ['online', 'REDISS://127.0.0.1:1', 'redis'],
  ['online', 'postgres://u@127.0.0.1:1/db', 'postgres-online'],
  ['online', 'postgresql://u@127.0.0.1:1/db', 'postgres-online'],
  ['queue', 'kafka://127.0.0.1:1', 'kafka'],
  ['queue', 'kafkas://127.0.0.1:1,127.0.0.1:2', 'kafka'],
  ['storage', 'file:///tmp/data', 'local'],
  ['storage', 's3://bucket/prefix', 's3'],
  ['storage', 'abfss://fs@account.dfs.core.windows.net/prefix', 'adls'],
  ['compute', 'duckdb://', 'duckdb'],
  ['compute', 'spark://127.0.0.1:7077', 'spark'],
  ['compute', 'spark://local[2]', 'spark'],
];

describe('driver registry', () => {
  const registry = new DriverRegistry();

  for (const [port, url, name] of SCHEMES) {
    it(`${port} ${url} reaches the ${name} driver`, async () => {
      expect((await registry.descriptor(port, url, port)).name).toBe(name);
    });
  }

  it('refuses a scheme no driver opens, naming the key, the schemes and plugins', async () => {
    await expect(registry.descriptor('online', 'memcached://x:1', 'online')).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(
        /^online: no online driver opens memcached:\/\/ URLs: use .*rediss:\/\/.* or load a plugin .*--plugin/,
      ),
    });
    expect(() => registry.check('queue', 'redis://x', 'queue')).toThrow(
      /no queue driver opens redis/,
    );
  });

  it('validates option blocks, naming the key of each bad option', async () => {
    await expect(
      registry.open(
        'online',
        'redis://127.0.0.1:1',
        { redis: { commandTimeoutMs: 'soon' } },
        context,
        'online',
      ),
    ).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining('drivers.redis.commandTimeoutMs'),
    });
    await expect(
      registry.validateDriverBlocks({ kafka: { partitions: 0, consumer: { sessionTimout: 1 } } }),
    ).rejects.toThrow(/drivers\.kafka\.partitions: .*drivers\.kafka\.consumer: .*sessionTimout/);
    await expect(registry.validateDriverBlocks({ memcached: {} })).rejects.toThrow(
      /drivers\.memcached: no driver named "memcached" is registered: the known drivers are adls, duckdb, kafka, local, postgres, postgres-online, redis, s3/,
    );
    await registry.validateDriverBlocks({ s3: { region: 'eu-west-1' }, redis: {} });
  });

  it('passes options to the driver it opens', async () => {
    const queue = await registry.open(
      'queue',
      'kafka://127.0.0.1:1',
      { kafka: { partitions: 3 } },
      context,
      'queue',
    );
    expect(queue).toBeInstanceOf(KafkaMessageQueue);
    await queue.close();
  });

  it('registers drivers from code and refuses a second one for the same scheme', () => {
    const own = new DriverRegistry();
    const memory = defineDriver({
      name: 'memory',
      port: 'online',
      schemes: ['memory'],
      options: z.object({}).strict().default({}),
      open: () => new MemoryOnlineStore(),
    });
    own.register(memory, 'a test');
    expect(own.schemes('online')).toContain('memory');
    expect(() => own.register({ ...memory, name: 'other' }, 'another test')).toThrow(
      /another test: the online scheme memory:\/\/ is already opened by the driver "memory" from a test/,
    );
    expect(() => own.register({ name: 'broken' } as never, 'a bad plugin')).toThrow(
      /not a driver descriptor/,
    );
  });
});

/*
 * TLS settings reach the clients: a TLS front with a certificate of the test's own authority.
 * With the authority's certificate in `drivers.<name>.tls.caFile` the client trusts it; without,
 * the handshake fails — so the setting is what made the difference.
 */
describe('TLS options of rediss:// and kafkas://', () => {
  let dir: Awaited<ReturnType<typeof tempStore>>;
  let certFile = '';
  let key = '';
  let cert = '';
  const servers: net.Server[] = [];

  beforeAll(async () => {
    dir = await tempStore();
    certFile = join(dir.dir, 'cert.pem');
    const keyFile = join(dir.dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    key = await readFile(keyFile, 'utf8');
    cert = await readFile(certFile, 'utf8');
  });
  afterAll(async () => {
    for (const server of servers) server.close();
    await dir?.remove();
  });

  /** A TLS server on loopback; `onSocket` gets each connection that completed the handshake. */
  async function tlsFront(onSocket: (socket: tls.TLSSocket) => void): Promise<{
    port: number;
    refused: Promise<void>;
  }> {
    let refusedOnce: () => void = () => {};
    const refused = new Promise<void>((resolve) => {
      refusedOnce = resolve;
    });
    const server = tls.createServer({ key, cert }, onSocket);
    server.on('tlsClientError', () => refusedOnce());
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as net.AddressInfo).port, refused };
  }

  it('rediss:// with drivers.redis.tls.caFile works through TLS; without it the certificate is refused', async () => {
    const redis = new URL(serviceEnv('FEATURESTORE_TEST_REDIS_URL'));
    const front = await tlsFront((socket) => {
      const upstream = net.connect(Number(redis.port), redis.hostname);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    const registry = new DriverRegistry();
    const url = `rediss://127.0.0.1:${front.port}`;
    const featureSet = { featureSetId: uniqueName('tls'), major: 1 };
    const trusted = await registry.open(
      'online',
      url,
      { redis: { tls: { caFile: certFile }, connectTimeoutMs: 5000 } },
      context,
      'online',
    );
    expect(trusted).toBeInstanceOf(RedisOnlineStore);
    await trusted.write(featureSet, [
      { key: ['k'], eventTime: 1, writeSequence: 1, values: { x: 1 } },
    ]);
    await (trusted as RedisOnlineStore).drop(featureSet);
    await trusted.close();

    const untrusted = await registry.open(
      'online',
      url,
      { redis: { connectTimeoutMs: 2000 } },
      context,
      'online',
    );
    await expect(
      untrusted.write(featureSet, [{ key: ['k'], eventTime: 1, writeSequence: 1, values: {} }]),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await front.refused;
    await untrusted.close();
  });

  it('kafkas:// with drivers.kafka.tls.caFile completes the TLS handshake; without it the certificate is refused', async () => {
    let secured!: () => void;
    const handshake = new Promise<void>((resolve) => {
      secured = resolve;
    });
    const front = await tlsFront((socket) => {
      secured();
      socket.destroy();
    });
    const registry = new DriverRegistry();
    const url = `kafkas://127.0.0.1:${front.port}`;
    const retry = { retries: 0 };
    const trusted = await registry.open(
      'queue',
      url,
      { kafka: { tls: { caFile: certFile }, retry, connectionTimeout: 2000 } },
      context,
      'queue',
    );
    await trusted
      .publish([{ topic: 'featurestore.tls-test', key: 'k', value: Buffer.from('x') }])
      .catch(() => {});
    await handshake;
    await trusted.close();

    const untrusted = await registry.open(
      'queue',
      url,
      { kafka: { retry, connectionTimeout: 2000 } },
      context,
      'queue',
    );
    await untrusted
      .publish([{ topic: 'featurestore.tls-test', key: 'k', value: Buffer.from('x') }])
      .catch(() => {});
    await front.refused;
    await untrusted.close();
  });

  it('refuses TLS settings for a URL without TLS', async () => {
    const registry = new DriverRegistry();
    await expect(
      registry.open(
        'online',
        'redis://127.0.0.1:1',
        { redis: { tls: { caFile: certFile } } },
        context,
        'online',
      ),
    ).rejects.toThrow(
      /drivers\.redis\.tls is set but redis:\/\/ does not use TLS: use rediss:\/\//,
    );
    await expect(
      registry.open(
        'queue',
        'kafka://127.0.0.1:1',
        { kafka: { tls: { caFile: certFile } } },
        context,
        'queue',
      ),
    ).rejects.toThrow(/drivers\.kafka\.tls is set but the queue URL does not use TLS/);
  });
});
