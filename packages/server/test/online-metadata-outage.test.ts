import { randomBytes } from 'node:crypto';
import { isFeatureStoreError, type MetadataOutageEvent } from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { dropMetadataSchema } from './fixtures/kafka-namespace.js';
import { PausableTcpProxy } from './fixtures/pausable-tcp-proxy.js';
import { tempStore, until } from './helpers.js';

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
    { name: 'income', type: 'float64', sensitive: true },
  ],
};
const READ = {
  features: ['outage/customers:age', 'outage/customers:income'],
  entities: [{ customer_id: 'c1' }],
};
const EXPECTED = [{ customer_id: 'c1', customers__age: 41, customers__income: 5200.5 }];

/** The error code a promise rejects with, or 'ok'. */
function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    (error: unknown) => (isFeatureStoreError(error) ? error.code : String(error)),
  );
}

/**
 * One engine on PostgreSQL (through a proxy this test alone pauses) and Redis: its online
 * reads outlive the metadata database, within the staleness bound.
 */
describe('online reads while the metadata database is unreachable', () => {
  const schema = `outage_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('serve the last known lookups, fast, refuse what they never saw, and fail past the staleness bound', async () => {
    const direct = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');
    const proxy = new PausableTcpProxy(direct);
    await proxy.open();
    cleanups.push(() => proxy.close());
    cleanups.push(() => dropMetadataSchema(schema));
    const config = { metadataSchema: schema, online: serviceEnv('FEATURESTORE_TEST_REDIS_URL') };
    let skewMs = 0;
    const events: MetadataOutageEvent[] = [];
    const store = await tempStore();
    cleanups.push(store.remove);
    const fs: FeatureStore = await openFeatureStore(
      { ...config, store: store.dir, metadata: proxy.via(direct) },
      { metadataClock: () => Date.now() + skewMs, onMetadataOutage: (e) => events.push(e) },
    );
    cleanups.push(() => fs.close());
    // Another server of the same deployment, on the database directly: it revokes a token.
    const otherStore = await tempStore();
    cleanups.push(otherStore.remove);
    const other = await openFeatureStore({ ...config, store: otherStore.dir, metadata: direct });
    cleanups.push(() => other.close());

    const { engine } = fs;
    const online = engine.online!;
    await engine.projects.create(fs.principal, { name: 'outage' });
    await engine.featureSets.register(fs.principal, 'outage', 'customers', customers);
    await engine.access.createUser(fs.principal, { name: 'model' });
    await engine.access.grant(fs.principal, 'outage', 'model', 'sensitive_consumer');
    const reader = await engine.access.createToken(fs.principal, { name: 'm', user: 'model' });
    const unseen = await engine.access.createToken(fs.principal, { name: 'n', user: 'model' });
    const row = { customer_id: 'c1', ts: new Date().toISOString(), age: 41, income: 5200.5 };
    await online.push(fs.principal, 'outage', 'customers', [row]);
    await online.waitApplied(fs.principal, 'outage', 'customers', [row], { timeoutMs: 30_000 });
    const read = async () => online.getOnlineFeatures(await fs.authenticate(reader.secret), READ);
    expect(await read()).toEqual(EXPECTED);
    expect(engine.metadataOutage).toMatchObject({ degraded: false, staleServed: 0 });

    // Frozen: lookups would hang for the connection timeout (10 s); reads don't wait for them.
    proxy.freeze();
    skewMs += 2000; // past the 1 s lookup cache: every lookup goes to the database
    const started = performance.now();
    expect(await read()).toEqual(EXPECTED);
    // Well under the 10 s a lookup waits for its connection to a frozen server.
    expect(performance.now() - started).toBeLessThan(5000);
    expect(engine.metadataOutage.degraded).toBe(true);
    expect(engine.metadataOutage.since).toBeInstanceOf(Date);
    // The token, the feature set and the sensitive-read permission came from memory.
    expect(engine.metadataOutage.staleServed).toBeGreaterThanOrEqual(3);
    expect(events).toMatchObject([{ degraded: true }]);
    expect(events[0]!.message).toMatch(/metadata store is unreachable/);
    // A token never seen before cannot be checked: UNAVAILABLE, not UNAUTHENTICATED.
    const refused = fs.authenticate(unseen.secret);
    await expect(refused).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(refused).rejects.toThrow(/this access token was not looked up before/);

    // Stopped: connections are refused at once; reads go on, pushes need the database.
    proxy.break();
    skewMs += 2000;
    expect(await read()).toEqual(EXPECTED);
    const push = online.push(fs.principal, 'outage', 'customers', [row]);
    expect(await outcome(push)).toBe('UNAVAILABLE');
    // Revoked through the other server meanwhile: still served until the database is back.
    await other.engine.access.revokeToken(other.principal, reader.token.id);
    expect(await read()).toEqual(EXPECTED);

    // Past the staleness bound (5 minutes by default), reads fail and say why.
    const model = await fs.authenticate(reader.secret);
    skewMs += 5 * 60_000;
    expect(await outcome(fs.authenticate(reader.secret))).toBe('UNAVAILABLE');
    const stale = online.getOnlineFeatures(model, READ);
    await expect(stale).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(stale).rejects.toThrow(/past the staleness bound of 300 s/);

    // Back: the next lookup answers, and the revocation applies.
    proxy.resume();
    await until(
      async () => (await outcome(fs.authenticate(reader.secret))) === 'UNAUTHENTICATED',
      'the revoked token refused',
      30_000,
    );
    await expect(fs.authenticate(reader.secret)).rejects.toThrow(/was revoked/);
    expect(engine.metadataOutage.degraded).toBe(false);
    expect(events.map((event) => event.degraded)).toEqual([true, false]);
    expect(await online.getOnlineFeatures(fs.principal, READ)).toEqual(EXPECTED);
  }, 90_000);
});
