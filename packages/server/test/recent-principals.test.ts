import { UnauthenticatedError } from '@featurestore/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RecentPrincipals } from '../src/grpc/recent-principals.js';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { tempStore } from './helpers.js';

describe('RecentPrincipals (the online service authenticating from memory)', () => {
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

  it('drops what it remembered at an access change made by this process: a revocation here applies at once', async () => {
    const { engine, principal } = store;
    const recent = new RecentPrincipals(engine.tokens, {
      ttlMs: 60_000,
      changes: engine.accessChanges,
    });
    const created = await engine.access.createToken(principal, { name: 'revoked-here' });
    const bearer = { kind: 'bearer' as const, token: created.secret };
    expect(await recent.authenticate(bearer)).toMatchObject({ name: principal.name });
    await engine.access.revokeToken(principal, created.token.id);
    await expect(recent.authenticate(bearer)).rejects.toThrow('was revoked');
  });

  it('answers for a token again within its time without asking, then asks (a revocation by another process applies)', async () => {
    const { engine, principal } = store;
    let now = 0;
    const lookups = vi.spyOn(engine.tokens, 'authenticate');
    const recent = new RecentPrincipals(engine.tokens, { ttlMs: 1000, now: () => now });
    const created = await engine.access.createToken(principal, { name: 'model' });
    const bearer = { kind: 'bearer' as const, token: created.secret };
    expect(await recent.authenticate(bearer)).toMatchObject({ name: principal.name });
    await engine.access.revokeToken(principal, created.token.id);
    now = 999;
    expect(await recent.authenticate(bearer)).toMatchObject({ name: principal.name });
    expect(lookups).toHaveBeenCalledTimes(1);
    now = 1000;
    await expect(recent.authenticate(bearer)).rejects.toThrow(UnauthenticatedError);
    // A refusal is not remembered: each try asks again.
    await expect(recent.authenticate(bearer)).rejects.toThrow('was revoked');
    expect(lookups).toHaveBeenCalledTimes(3);
    // Tokens of another kind are the provider's to pass on, uncached.
    expect(await recent.authenticate({ kind: 'bearer', token: 'eyJ.not.ours' })).toBeUndefined();
    expect(recent.name).toBe(engine.tokens.name);
    lookups.mockRestore();
  });
});
