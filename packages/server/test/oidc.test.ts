import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, OidcIdentityProvider, openFeatureStore } from '../src/index.js';
import { tempStore } from './helpers.js';

const issuer = 'https://login.example.test';
const audience = 'featurestore';

describe('OIDC identity provider', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;
  let oidc: OidcIdentityProvider;
  let privateKey: CryptoKey;
  beforeAll(async () => {
    store = await tempStore();
    fs = await openFeatureStore({ store: store.dir });
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' };
    oidc = new OidcIdentityProvider(
      { issuer, audience, jwks: { keys: [jwk] }, adminGroup: 'fs-admins' },
      fs.engine.access,
    );
  });
  afterAll(async () => {
    await fs?.close();
    await store.remove();
  });

  const sign = (
    claims: Record<string, unknown>,
    options: { expires?: string; aud?: string } = {},
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(options.aud ?? audience)
      .setIssuedAt()
      .setExpirationTime(options.expires ?? '5m')
      .sign(privateKey);

  it('maps a subject to a user on first sight and to the same user afterwards', async () => {
    const token = await sign({
      sub: 'abc-123',
      preferred_username: 'Jane.Doe@corp',
      email: 'jane@corp.test',
    });
    const first = await oidc.authenticate({ kind: 'bearer', token });
    expect(first).toMatchObject({ name: 'jane_doe', admin: false, via: 'oidc' });
    const again = await oidc.authenticate({
      kind: 'bearer',
      token: await sign({ sub: 'abc-123' }),
    });
    expect(again?.userId).toBe(first?.userId);
  });

  it('gives the admin flag from the groups claim, and takes it away again', async () => {
    const admin = await oidc.authenticate({
      kind: 'bearer',
      token: await sign({ sub: 'ops-1', groups: ['fs-admins'] }),
    });
    expect(admin?.admin).toBe(true);
    const demoted = await oidc.authenticate({
      kind: 'bearer',
      token: await sign({ sub: 'ops-1', groups: [] }),
    });
    expect(demoted?.admin).toBe(false);
  });

  it.each([
    ['an expired token', () => sign({ sub: 'x' }, { expires: '-1m' }), /expired/],
    ['another audience', () => sign({ sub: 'x' }, { aud: 'other' }), /claim aud/],
    ['a tampered token', async () => `${(await sign({ sub: 'x' })).slice(0, -4)}AAAA`, /signature/],
  ])('refuses %s with UNAUTHENTICATED', async (_case, make, reason) => {
    await expect(oidc.authenticate({ kind: 'bearer', token: await make() })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      message: expect.stringMatching(reason),
    });
  });

  it('ignores credentials that are not JWTs (personal access tokens)', async () => {
    expect(await oidc.authenticate({ kind: 'bearer', token: 'fst_abc' })).toBeUndefined();
  });
});
