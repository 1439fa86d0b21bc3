import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OFFLINE_SYNC_GROUP, ONLINE_APPLY_GROUP, ONLINE_INGEST_TOPIC } from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { RedisOnlineStore } from '@featurestore/driver-redis';
import { afterAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { dropKafkaNames, dropMetadataSchema } from './fixtures/kafka-namespace.js';
import { cli, spawnSource, tempStore, until } from './helpers.js';

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
  ],
};

/** The CLI in a child process, its stderr log lines parsed as they come. */
function startWorkers(args: string[]): { child: ChildProcess; logs: Record<string, unknown>[] } {
  const child = spawnSource(new URL('../src/cli/main.ts', import.meta.url), args);
  const logs: Record<string, unknown>[] = [];
  let pending = '';
  child.stderr!.on('data', (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('{')) logs.push(JSON.parse(line));
    }
  });
  return { child, logs };
}

describe('featurestore online workers', () => {
  const run = `workers_${Date.now().toString(36)}`;
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('applies and syncs pushed rows, logs dead letters, and stops on SIGTERM', async () => {
    const store = await tempStore();
    cleanups.push(store.remove);
    const config = {
      store: store.dir,
      metadata: serviceEnv('FEATURESTORE_TEST_POSTGRES_URL'),
      metadataSchema: run,
      online: serviceEnv('FEATURESTORE_TEST_REDIS_URL'),
      queue: `kafka://${serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS')}`,
      queueNamespace: run,
    };
    cleanups.push(() => dropMetadataSchema(run));
    cleanups.push(() => dropKafkaNames(run));
    const configFile = join(store.dir, 'config.json');
    await writeFile(configFile, JSON.stringify(config));
    // The pushing side: no workers of its own.
    const fs: FeatureStore = await openFeatureStore(config);
    cleanups.push(() => fs.close());
    const { engine, principal } = fs;
    await engine.projects.create(principal, { name: 'shop' });
    const featureSet = await engine.featureSets.register(principal, 'shop', 'customers', customers);
    cleanups.push(async () => {
      const online = RedisOnlineStore.fromUrl(config.online);
      await online.drop({ featureSetId: featureSet.id, major: 1 }).finally(() => online.close());
    });

    const { child, logs } = startWorkers(['--config', configFile, 'online', 'workers']);
    cleanups.push(async () => child.kill('SIGKILL'));
    let stdout = '';
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
    });
    const exited = once(child, 'exit');
    const logged = (message: string) => logs.filter((line) => line.msg === message);
    await until(
      () => logged('online workers started').length === 1,
      'the workers to start',
      60_000,
    );
    expect(logged('online workers started')[0]).toMatchObject({
      level: 30,
      name: 'featurestore',
      queue: 'kafka',
      online: 'redis',
      offlineSync: true,
    });

    const rows = Array.from({ length: 20 }, (_, i) => ({
      customer_id: `c${i}`,
      ts: '2026-01-01T00:00:00Z',
      age: 20 + i,
    }));
    const online = engine.online!;
    const pushed = await online.push(principal, 'shop', 'customers', rows);
    await online.waitApplied(principal, 'shop', 'customers', rows, { timeoutMs: 60_000 });
    await online.waitSynced(pushed, { timeoutMs: 60_000 });
    const [c7] = await online.getOnlineFeatures(principal, {
      features: 'shop/customers:age',
      entities: [{ customer_id: 'c7' }],
    });
    expect(c7).toEqual({ customer_id: 'c7', customers__age: 27 });

    // Bytes that no version reads: both groups move them aside and say so.
    await engine.drivers.online!.queue.publish([
      { topic: ONLINE_INGEST_TOPIC, key: 'garbage', value: Uint8Array.of(0xff, 0x00) },
    ]);
    const deadLetter = 'moved a message that can never be handled to the dead-letter topic';
    await until(() => logged(deadLetter).length === 2, 'two dead-letter log lines', 60_000);
    // Groups as the workers name them (the namespace prefixes them on the broker).
    expect(
      logged(deadLetter)
        .map((line) => line.group)
        .sort(),
    ).toEqual([ONLINE_APPLY_GROUP, OFFLINE_SYNC_GROUP]);
    expect(logged(deadLetter)[0]).toMatchObject({ level: 40, code: 'VALIDATION' });

    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(logged('online workers stopped')[0]).toMatchObject({
      deadLettered: { apply: 1, offlineSync: 1 },
    });
    expect(stdout).toContain('online workers stopped');
  }, 180_000);

  it('refuses an unknown log level, naming the levels', async () => {
    const store = await tempStore();
    cleanups.push(store.remove);
    const result = await cli(store.dir, 'online', 'workers', '--log-level', 'loud');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--log-level "loud" is not a level: use .*info/);
  });
});
