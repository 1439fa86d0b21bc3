import { Writable } from 'node:stream';
import { ONLINE_INGEST_TOPIC } from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { BackendHealth, type HealthProbe, workerProbes } from '../src/backend-health.js';
import { openFeatureStore } from '../src/index.js';
import { createLogger } from '../src/worker-log.js';
import { CuttableProxy } from './cuttable-proxy.js';
import { tempStore, until } from './helpers.js';

describe('the online workers’ backend health watch', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('logs an outage of the online store once (warn) and its end (info), and counts it', async () => {
    const proxy = new CuttableProxy(serviceEnv('FEATURESTORE_TEST_REDIS_URL'));
    await proxy.open();
    cleanups.push(() => proxy.cut());
    const store = await tempStore();
    cleanups.push(store.remove);
    const fs = await openFeatureStore({
      store: store.dir,
      online: `redis://127.0.0.1:${proxy.port}`,
    });
    cleanups.push(() => fs.close());
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    // Counts probe rounds, to wait on rounds instead of time.
    const calls = new Map<string, number>();
    const probes: HealthProbe[] = workerProbes({
      metadata: fs.engine.drivers.metadata,
      online: fs.engine.drivers.online!,
      ingestTopic: ONLINE_INGEST_TOPIC,
    }).map(({ name, probe }) => ({
      name,
      probe: () => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return probe();
      },
    }));
    // The embedded local log is not probed: only the two backends it can lose.
    expect(probes.map((probe) => probe.name)).toEqual(['metadata', 'online store']);
    const rounds = () => calls.get('online store') ?? 0;
    const health = BackendHealth.start(probes, logger, { intervalMs: 50, timeoutMs: 1000 });
    cleanups.push(() => health.stop());
    await until(() => rounds() >= 3, 'three probes while Redis is up', 20_000);
    expect(lines).toEqual([]);

    await proxy.cut();
    const warned = () => lines.filter((line) => line.level === 40);
    await until(() => warned().length > 0, 'the outage logged', 20_000);
    const afterWarn = rounds();
    await until(() => rounds() >= afterWarn + 5, 'five more probes while down', 20_000);
    expect(warned()).toHaveLength(1);
    expect(warned()[0]).toMatchObject({
      backend: 'online store',
      outages: 1,
      msg: 'online store is unreachable: the online workers retry until it is back',
    });
    expect(health.down).toEqual(['online store']);

    await proxy.open();
    await until(
      () => lines.some((line) => line.msg === 'online store is reachable again'),
      'the recovery logged',
      30_000,
    );
    const recovered = lines.find((line) => line.msg === 'online store is reachable again')!;
    expect(recovered).toMatchObject({ level: 30, backend: 'online store', outages: 1 });
    expect(recovered.downMs).toBeGreaterThanOrEqual(0);
    expect(health.outages).toEqual({ metadata: 0, 'online store': 1 });
    expect(health.down).toEqual([]);
    expect(warned()).toHaveLength(1);
  }, 90_000);
});
