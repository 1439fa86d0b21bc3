import { afterAll, describe, expect, it } from 'vitest';
import { openFeatureStore } from '../src/index.js';
import { tempStore } from './helpers.js';

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
  ],
};

describe('an in-process push on the embedded store (no workers option)', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('is applied online and committed offline: the store starts its workers on the first push', async () => {
    const store = await tempStore();
    cleanups.push(store.remove);
    const fs = await openFeatureStore({ store: store.dir });
    cleanups.push(() => fs.close());
    const { engine, principal } = fs;
    await engine.projects.create(principal, { name: 'inproc' });
    await engine.featureSets.register(principal, 'inproc', 'customers', customers);
    const rows = [{ customer_id: 'c1', ts: new Date().toISOString(), age: 41 }];
    const result = await engine.online!.push(principal, 'inproc', 'customers', rows);
    await engine.online!.waitApplied(principal, 'inproc', 'customers', rows, { timeoutMs: 20_000 });
    await engine.online!.waitSynced(result, { timeoutMs: 20_000 });
    const [row] = await engine.online!.getOnlineFeatures(principal, {
      features: 'inproc/customers:age',
      entities: [{ customer_id: 'c1' }],
    });
    expect(row!.customers__age).toBe(41);
    const ingestions = await engine.offline.ingestions(principal, 'inproc', 'customers');
    expect(ingestions.map((ingestion) => ingestion.rowCount)).toEqual([1]);
    // Closing stops the workers it started: the store folder is free for the next process.
    await fs.close();
    const again = await openFeatureStore({ store: store.dir }, { lockWaitMs: 0 });
    await again.close();
  }, 60_000);
});
