import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { OnlineStore } from '@featurestore/core';
import { UnavailableError } from '@featurestore/core';
import { afterAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { PendingApplyRepair } from '../src/pending-apply-repair.js';
import { createLogger } from '../src/worker-log.js';
import { tempStore, until } from './helpers.js';

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
  ],
};

describe('an online apply that failed in process', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore | undefined;
  afterAll(async () => {
    await fs?.close();
    await store?.remove();
  });

  it('is reported in the job, stays pending, and the workers’ next pass finishes it', async () => {
    store = await tempStore();
    fs = await openFeatureStore({ store: store.dir });
    const { engine, principal } = fs;
    await engine.projects.create(principal, { name: 'shop' });
    await engine.featureSets.register(principal, 'shop', 'customers', customers);
    const source = join(store.dir, 'customers.csv');
    await writeFile(source, 'customer_id,ts,age\nc1,2026-01-01T00:00:00Z,33\n');

    // A stand-in for an online store that is down: its writes fail until it comes back.
    const online = engine.drivers.online!.store as OnlineStore;
    const write = online.write.bind(online);
    online.write = () => Promise.reject(new UnavailableError('the online store is down (test)'));
    const running = await engine.offline.ingest(principal, 'shop', 'customers', source);
    const result = await running.result;
    expect(result).toMatchObject({
      rowCount: 1,
      onlineApply: 'failed',
      onlineError: 'the online store is down (test)',
      onlineErrorCode: 'UNAVAILABLE',
    });
    expect(await engine.jobs.get(principal, running.job.id)).toMatchObject({
      state: 'succeeded',
      result: { onlineApply: 'failed' },
    });
    // A second one, of another key: two pending applies.
    const second = join(store.dir, 'second.csv');
    await writeFile(second, 'customer_id,ts,age\nc2,2026-01-01T00:00:00Z,44\n');
    const other = await (await engine.offline.ingest(principal, 'shop', 'customers', second))
      .result;
    expect(other).toMatchObject({ onlineApply: 'failed' });
    expect(
      (await engine.drivers.metadata.listPendingOnlineApplies()).map((pending) => pending.id),
    ).toEqual([result.ingestionId, other.ingestionId]);

    const lines: Record<string, unknown>[] = [];
    const log = createLogger(
      'info',
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    // The first pass takes every pending apply: here, the store is still down, and after the
    // first UNAVAILABLE the pass leaves the other for later instead of waiting on it too.
    online.write = () => Promise.reject(new UnavailableError('still down (test)'));
    const repair = await PendingApplyRepair.start(engine.onlineApplies!, log, { intervalMs: 200 });
    try {
      expect(lines).toEqual([
        expect.objectContaining({
          level: 40,
          msg: 'a pending online apply failed again; it stays pending',
          ingestionId: result.ingestionId,
          featureSet: 'shop/customers',
          code: 'UNAVAILABLE',
          reason: 'still down (test)',
        }),
      ]);
      online.write = write;
      const finished = () => lines.filter((line) => line.msg === 'finished a pending online apply');
      await until(() => finished().length === 2, 'a later pass to finish both applies', 30_000);
      expect(finished().map((line) => line.ingestionId)).toEqual([
        result.ingestionId,
        other.ingestionId,
      ]);
    } finally {
      await repair.stop();
    }
    expect(await engine.drivers.metadata.listPendingOnlineApplies()).toEqual([]);
    expect(
      await engine.online!.getOnlineFeatures(principal, {
        features: 'shop/customers:age',
        entities: [{ customer_id: 'c1' }, { customer_id: 'c2' }],
      }),
    ).toEqual([
      { customer_id: 'c1', customers__age: 33 },
      { customer_id: 'c2', customers__age: 44 },
    ]);
    expect(await engine.jobs.get(principal, running.job.id)).toMatchObject({
      state: 'succeeded',
      result: { ingestionId: result.ingestionId, onlineApply: 'applied' },
    });
    expect((await engine.jobs.get(principal, running.job.id)).result).not.toHaveProperty(
      'onlineError',
    );
  }, 60_000);
});
