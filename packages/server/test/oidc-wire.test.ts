import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ServiceError, status } from '@grpc/grpc-js';
import { base64url, SignJWT } from 'jose';
// @ts-expect-error oidc-provider 8 ships no types; the test uses its documented configuration.
import Provider from 'oidc-provider';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFirstAdminToken } from '../src/first-admin-token.js';
import { FeatureStoreServer } from '../src/grpc/featurestore-server.js';
import { type FeatureStore, OidcIdentityProvider, openFeatureStore } from '../src/index.js';
import { TestClient } from './grpc-client.js';
import { tempStore } from './helpers.js';

// oidc-provider takes resource indicators (RFC 8707) as the audience: they must be absolute URIs.
const audience = 'urn:featurestore:api';
const clientId = 'batch-scorer';
const clientSecret = 'a-client-secret-long-enough-for-the-provider';
/** jose's default: an unknown key makes the JWKS refetched at most once per 30 s. */
const JWKS_COOLDOWN_MS = 30_000;

interface RunningProvider {
  issuer: string;
  /** The provider's signing key (kid `k1`), for hand-made tokens it would have signed. */
  signingKey: KeyObject;
  publicKeyPem: string;
  /** How many times its discovery document and its JWKS were fetched. */
  requests: () => { discovery: number; jwks: number };
  /** An access token for `audience` by the client-credentials grant. */
  clientCredentialsToken: () => Promise<string>;
  stop: () => Promise<void>;
}

/** A certified OpenID provider on loopback issuing JWT access tokens for `audience`. */
async function startProvider(): Promise<RunningProvider> {
  const counts = { discovery: 0, jwks: 0 };
  let handler: (request: unknown, response: unknown) => void = () => {};
  const http: HttpServer = createServer((request, response) => {
    if (request.url?.endsWith('/.well-known/openid-configuration')) counts.discovery++;
    if (request.url?.startsWith('/jwks')) counts.jwks++;
    handler(request, response);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    jwks: {
      keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }],
    },
    cookies: { keys: ['a-cookie-key-for-the-test-provider'] },
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
    ],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: '',
          audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 600,
        }),
      },
    },
  });
  handler = provider.callback();
  return {
    issuer,
    signingKey: privateKey,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    requests: () => ({ ...counts }),
    async clientCredentialsToken() {
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: audience }),
      });
      const body = (await response.json()) as { access_token?: string };
      if (!body.access_token)
        throw new Error(`no token from the provider: ${JSON.stringify(body)}`);
      return body.access_token;
    },
    stop: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}

/** The status and message a call failed with. */
async function refusal(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  const error = (await call.then(
    () => expect.fail('the call succeeded'),
    (rejected: unknown) => rejected,
  )) as ServiceError;
  return { code: error.code, message: error.details };
}

describe('authentication through the wire against a real OpenID provider (oidc-provider)', () => {
  let provider: RunningProvider;
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let store: FeatureStore;
  let server: FeatureStoreServer;
  let client: TestClient;
  let admin: string;
  const rogueKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  beforeAll(async () => {
    provider = await startProvider();
    folder = await tempStore();
    store = await openFeatureStore({ store: folder.dir });
    admin = (await createFirstAdminToken(store.engine, undefined))!.secret;
    // Only the issuer: the signing keys are found through its discovery document.
    server = await FeatureStoreServer.start(store, {
      listen: '127.0.0.1:0',
      oidc: { issuer: provider.issuer, audience },
    });
    client = new TestClient(server.address);
  }, 60_000);
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(async () => {
    client?.close();
    await server?.shutdown();
    await store?.close();
    await folder?.remove();
    await provider?.stop();
  });

  /** A JWT with the provider's key and claims unless a case says otherwise. */
  function handMade(
    subject: string,
    change: {
      issuer?: string;
      audience?: string;
      expires?: string | number;
      notBefore?: string;
      alg?: string;
      kid?: string;
      key?: KeyObject | Uint8Array;
    } = {},
  ): Promise<string> {
    const jwt = new SignJWT(subject === '' ? {} : { sub: subject })
      .setProtectedHeader({ alg: change.alg ?? 'RS256', kid: change.kid ?? 'k1' })
      .setIssuer(change.issuer ?? provider.issuer)
      .setAudience(change.audience ?? audience)
      .setIssuedAt()
      .setExpirationTime(change.expires ?? '5m');
    if (change.notBefore !== undefined) jwt.setNotBefore(change.notBefore);
    return jwt.sign(change.key ?? provider.signingKey);
  }

  it('a token the provider issued by the client-credentials grant is accepted', async () => {
    const token = await provider.clientCredentialsToken();
    const page = await client.core('listProjects', {}, token);
    expect(page.projects).toEqual([]);
    const users = await client.core('listUsers', {}, admin);
    expect(users.users.find((user) => user.oidcSubject === clientId)).toBeDefined();
    // So is a hand-made one with the provider's key and the right claims (the table's baseline).
    await client.core('listProjects', {}, await handMade('hand-made-valid'));
  });

  const unsigned = (claims: Record<string, unknown>) =>
    `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify(claims))}.`;

  const cases: [string, () => Promise<string>, RegExp][] = [
    [
      'an expired token',
      () => handMade('refused-expired', { expires: Math.floor(Date.now() / 1000) - 120 }),
      /OIDC token was refused: it expired at 20\d\d-/,
    ],
    [
      'a token not valid yet (nbf)',
      () => handMade('refused-nbf', { notBefore: '10m', expires: '20m' }),
      /OIDC token was refused: it is not valid before 20\d\d-/,
    ],
    [
      'a token of another issuer',
      () => handMade('refused-issuer', { issuer: 'https://login.attacker.test' }),
      /it was issued by "https:\/\/login\.attacker\.test" \(claim iss\), not by "http:\/\/127\.0\.0\.1:\d+"/,
    ],
    [
      'a token for another audience',
      () => handMade('refused-audience', { audience: 'urn:another:api' }),
      /it is meant for "urn:another:api" \(claim aud\), not for "urn:featurestore:api"/,
    ],
    [
      'an unsigned token (alg: none)',
      async () =>
        unsigned({
          sub: 'refused-none',
          iss: provider.issuer,
          aud: audience,
          exp: Math.floor(Date.now() / 1000) + 300,
        }),
      /its algorithm "none" is not accepted/,
    ],
    [
      "an HS256 token whose secret is the provider's public key",
      () =>
        handMade('refused-hs256', {
          alg: 'HS256',
          key: new TextEncoder().encode(provider.publicKeyPem),
        }),
      /its algorithm "HS256" is not accepted/,
    ],
    [
      'a token signed by a key the provider does not publish',
      () => handMade('refused-rogue', { kid: 'rogue', key: rogueKey }),
      /it is signed with a key the provider does not publish \(kid "rogue"\)/,
    ],
    [
      "a token signed by another key under the provider's key id",
      () => handMade('refused-forged', { key: rogueKey }),
      /its signature does not verify/,
    ],
    ['a token without a subject', () => handMade(''), /has no subject \(sub claim\)/],
    ['a malformed token', async () => 'not.a.jwt', /it is not a well-formed JWT/],
  ];

  it.each(cases)(
    '%s is UNAUTHENTICATED, saying why, and creates nothing',
    async (name, make, reason) => {
      const project = `refused_${cases.findIndex(([each]) => each === name)}`;
      const refused = await refusal(client.core('createProject', { name: project }, await make()));
      expect(refused).toMatchObject({
        code: status.UNAUTHENTICATED,
        message: expect.stringMatching(reason),
      });
      const projects = await client.core('listProjects', { namePrefix: 'refused_' }, admin);
      expect(projects.projects).toEqual([]);
      const users = await client.core('listUsers', {}, admin);
      expect(users.users.filter((user) => user.oidcSubject.startsWith('refused-'))).toEqual([]);
    },
  );

  it('personal access tokens: revoked and expired ones are UNAUTHENTICATED, saying why', async () => {
    const { engine, principal } = store;
    await engine.access.createUser(principal, { name: 'pat_holder' });
    const revoked = await engine.access.createToken(principal, {
      name: 'old-laptop',
      user: 'pat_holder',
    });
    await client.core('listProjects', {}, revoked.secret);
    await engine.access.revokeToken(principal, revoked.token.id);
    const expiring = await engine.access.createToken(principal, {
      name: 'short-lived',
      user: 'pat_holder',
      expiresIn: 'PT1H',
    });
    await client.core('listProjects', {}, expiring.secret);

    expect(
      await refusal(client.core('createProject', { name: 'by_revoked' }, revoked.secret)),
    ).toMatchObject({
      code: status.UNAUTHENTICATED,
      message: expect.stringMatching(/access token "old-laptop" was revoked/),
    });
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    vi.setSystemTime(Date.now() + 3_600_000 + 1_000);
    expect(
      await refusal(client.core('createProject', { name: 'by_expired' }, expiring.secret)),
    ).toMatchObject({
      code: status.UNAUTHENTICATED,
      message: expect.stringMatching(/access token "short-lived" expired at 20\d\d-/),
    });
    vi.useRealTimers();
    const projects = await client.core('listProjects', { namePrefix: 'by_' }, admin);
    expect(projects.projects).toEqual([]);
  });

  it('an unknown key id makes the JWKS refetched once, not on every call; discovery is read once', async () => {
    const rogue = await handMade('refused-rogue-kid', { kid: 'rogue', key: rogueKey });
    const valid = await provider.clientCredentialsToken();
    await client.core('listProjects', {}, valid);
    // Within jose's cooldown since the last fetch, an unknown key fetches nothing.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    vi.setSystemTime(Date.now() + JWKS_COOLDOWN_MS + 1_000);
    const before = provider.requests();
    for (let call = 0; call < 4; call++) {
      expect(await refusal(client.core('listProjects', {}, rogue))).toMatchObject({
        code: status.UNAUTHENTICATED,
        message: expect.stringMatching(/kid "rogue"/),
      });
    }
    // The known key is still served from the cache.
    await client.core('listProjects', {}, valid);
    expect(provider.requests().jwks - before.jwks).toBe(1);
    expect(provider.requests().discovery).toBe(1);
  });
  it('a discovery document that cannot be read, or names another issuer, is UNAVAILABLE naming it, and read again on the next token', async () => {
    const token = await handMade('discovery-probe');
    const missing = new OidcIdentityProvider(
      { issuer: `${provider.issuer}/no-such-tenant`, audience },
      store.engine.access,
    );
    const before = provider.requests().discovery;
    for (let attempt = 0; attempt < 2; attempt++) {
      await expect(missing.authenticate({ kind: 'bearer', token })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(
          /discovery document of the OIDC provider \(http:\/\/127\.0\.0\.1:\d+\/no-such-tenant\/\.well-known\/openid-configuration\) could not be read \(HTTP 404\)/,
        ),
      });
    }
    expect(provider.requests().discovery - before).toBe(2);
    // The issuer must be exactly the provider's: a trailing slash is another issuer.
    const misspelt = new OidcIdentityProvider(
      { issuer: `${provider.issuer}/`, audience },
      store.engine.access,
    );
    await expect(misspelt.authenticate({ kind: 'bearer', token })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(
        /names the issuer "http:\/\/127\.0\.0\.1:\d+", not "http:\/\/127\.0\.0\.1:\d+\/"/,
      ),
    });
  });
  it("signing keys that cannot be fetched are UNAVAILABLE (the caller may retry), not the token's fault", async () => {
    // A port that was just listened on and closed: nothing answers there.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = new OidcIdentityProvider(
      { issuer: provider.issuer, audience, jwksUri: `http://127.0.0.1:${port}/jwks` },
      store.engine.access,
    );
    await expect(
      unreachable.authenticate({ kind: 'bearer', token: await handMade('keys-probe') }),
    ).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(
        /signing keys of the OIDC provider http:\/\/127\.0\.0\.1:\d+ could not be read/,
      ),
    });
  });
});
