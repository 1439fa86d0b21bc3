import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdminToken } from '../src/first-admin-token.js';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { tempStore } from './helpers.js';

// One store through the life of a deployment: the tests run in order.
describe('the admin token of a first start', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let store: FeatureStore;
  beforeAll(async () => {
    folder = await tempStore();
    store = await openFeatureStore({ store: folder.dir });
  });
  afterAll(async () => {
    await store?.close();
    await folder?.remove();
  });

  it('refuses an environment secret that is not an access token', async () => {
    await expect(createFirstAdminToken(store.engine, 'password')).rejects.toMatchObject({
      code: 'VALIDATION',
      details: { field: 'FEATURESTORE_ADMIN_TOKEN' },
    });
    expect(await store.engine.access.listTokens(store.principal)).toEqual([]);
  });

  it('takes FEATURESTORE_ADMIN_TOKEN as the secret, which then authenticates as the admin', async () => {
    const secret = `fst_${'s3cr3t'.repeat(8)}`;
    expect(await createFirstAdminToken(store.engine, secret)).toEqual({ secret, generated: false });
    expect(await store.authenticate(secret)).toMatchObject({ name: 'admin', admin: true });
    // Set up once: a later start leaves the store as it is.
    expect(await createFirstAdminToken(store.engine, secret)).toBeUndefined();
    expect(await createFirstAdminToken(store.engine, undefined)).toBeUndefined();
  });

  it('generates a secret once every admin token is revoked (nobody could call the server)', async () => {
    for (const token of await store.engine.access.listTokens(store.principal)) {
      await store.engine.access.revokeToken(store.principal, token.id);
    }
    const next = await createFirstAdminToken(store.engine, undefined);
    expect(next).toMatchObject({ generated: true, secret: expect.stringMatching(/^fst_/) });
    expect(await store.authenticate(next!.secret)).toMatchObject({ name: 'admin' });
  });

  it('does nothing once the store has other users', async () => {
    for (const token of await store.engine.access.listTokens(store.principal)) {
      await store.engine.access.revokeToken(store.principal, token.id);
    }
    await store.engine.access.createUser(store.principal, { name: 'ann' });
    expect(await createFirstAdminToken(store.engine, undefined)).toBeUndefined();
  });
});
