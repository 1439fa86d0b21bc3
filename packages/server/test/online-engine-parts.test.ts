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

// OnlineEngine is a facade over parts with one job each: code that wants one part uses it
// directly, and gets what the facade's methods give.
describe("the online engine's parts, used directly on the embedded store", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('push (starting the workers on the first push), wait, read and materialize', async () => {
    const store = await tempStore();
    cleanups.push(store.remove);
    const fs = await openFeatureStore({ store: store.dir });
    cleanups.push(() => fs.close());
    const { engine, principal } = fs;
    const { pushes, reads, applyWorker, materializeJobs } = engine.online!;
    await engine.projects.create(principal, { name: 'parts' });
    await engine.featureSets.register(principal, 'parts', 'customers', customers);
    const rows = [{ customer_id: 'c1', ts: new Date().toISOString(), age: 41 }];

    // The pushes part alone still triggers the embedded store's workers, which apply and sync.
    const result = await pushes.push(principal, 'parts', 'customers', rows);
    expect(result).toMatchObject({ rows: 1, featureSet: 'parts/customers' });
    await pushes.waitApplied(principal, 'parts', 'customers', rows, { timeoutMs: 20_000 });
    await pushes.waitSynced(result, { timeoutMs: 20_000 });
    const request = { features: 'parts/customers:age', entities: [{ customer_id: 'c1' }] };
    expect(await reads.getOnlineFeatures(principal, request)).toEqual([
      { customer_id: 'c1', customers__age: 41 },
    ]);
    expect(await engine.online!.getOnlineFeatures(principal, request)).toEqual(
      await reads.getOnlineFeatures(principal, request),
    );
    expect(applyWorker.deadLettered).toBe(0);
    expect(engine.online!.deadLettered).toBe(0);

    // The synced row is offline now: a rebuild from the offline data keeps it online.
    const job = await materializeJobs.materialize(principal, 'parts', 'customers', {
      rebuild: true,
    });
    expect((await job.result).rows).toBe(1);
    expect(await reads.getOnlineFeatures(principal, request)).toEqual([
      { customer_id: 'c1', customers__age: 41 },
    ]);
  }, 60_000);
});
