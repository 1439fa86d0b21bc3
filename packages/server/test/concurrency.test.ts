import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { tempStore } from './helpers.js';

const definition = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
  ],
};

describe('optimistic concurrency', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;
  beforeAll(async () => {
    store = await tempStore();
    fs = await openFeatureStore({ store: store.dir });
    await fs.engine.projects.create(fs.principal, { name: 'race' });
    await fs.engine.featureSets.register(fs.principal, 'race', 'events', definition);
  });
  afterAll(async () => {
    await fs?.close();
    await store.remove();
  });

  it('two racing feature set updates: one succeeds, one gets ConflictError', async () => {
    const { engine, principal } = fs;
    const read = await engine.featureSets.get(principal, 'race', 'events');
    const results = await Promise.allSettled([
      engine.featureSets.update(principal, 'race', 'events', {
        description: 'first',
        expectedRevision: read.revision,
      }),
      engine.featureSets.update(principal, 'race', 'events', {
        description: 'second',
        expectedRevision: read.revision,
      }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect((rejected[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'CONFLICT' });
    const versions = await engine.featureSets.versions(principal, 'race', 'events');
    expect(versions.map((v) => `${v.version.major}.${v.version.minor}`)).toEqual(['1.0', '1.1']);
  });

  it('two racing project updates: one succeeds, one gets ConflictError, nothing lost silently', async () => {
    const { engine, principal } = fs;
    const read = await engine.projects.get(principal, 'race');
    const results = await Promise.allSettled(
      ['a', 'b'].map((description) =>
        engine.projects.update(principal, 'race', { description, expectedRevision: read.revision }),
      ),
    );
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    expect(fulfilled).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected')[0]).toMatchObject({
      reason: { code: 'CONFLICT' },
    });
    const after = await engine.projects.get(principal, 'race');
    expect(after.description).toBe(
      (fulfilled[0] as PromiseFulfilledResult<{ description: string }>).value.description,
    );
    expect(after.revision).toBe(read.revision + 1);
  });
});
