import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
// @ts-expect-error oidc-provider 8 ships no types; the test uses its documented configuration.
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureStoreClient, UnauthenticatedError } from '../src/index.js';
import { OidcTokenSource } from '../src/oidc-client-credentials.js';
import { type RunningServer, startTestServer } from './test-server.js';

// oidc-provider takes resource indicators (RFC 8707) as the audience: they must be absolute URIs.
const audience = 'urn:featurestore:api';
const clientId = 'inference-service';
const clientSecret = 'a-client-secret-long-enough-for-the-provider';

/**
 * A certified OpenID provider on loopback that issues JWT access tokens for `audience` by the
 * client-credentials grant; it counts the token requests it answers.
 */
async function startProvider(): Promise<{
  issuer: string;
  tokenRequests: () => number;
  stop: () => Promise<void>;
}> {
  let tokenRequests = 0;
  let handler: (request: unknown, response: unknown) => void = () => {};
  const http: HttpServer = createServer((request, response) => {
    if (request.method === 'POST' && request.url?.startsWith('/token')) tokenRequests++;
    handler(request, response);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const provider = new Provider(issuer, {
    jwks: {
      keys: [{ ...signingKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }],
    },
    cookies: { keys: ['a-cookie-key-for-the-test-provider'] },
    ttl: { ClientCredentials: 600 },
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
    tokenRequests: () => tokenRequests,
    stop: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}

describe('OIDC client credentials against oidc-provider on loopback', () => {
  let provider: Awaited<ReturnType<typeof startProvider>>;
  let server: RunningServer;

  beforeAll(async () => {
    provider = await startProvider();
    server = await startTestServer({
      oidc: { issuer: provider.issuer, audience, jwksUri: `${provider.issuer}/jwks` },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await provider?.stop();
  });

  it('calls as the service account the provider vouches for, with one token for many calls', async () => {
    const client = new FeatureStoreClient({
      endpoint: server.address,
      oidc: { issuer: provider.issuer, clientId, clientSecret, audience },
    });
    try {
      const before = provider.tokenRequests();
      // A fresh OIDC identity is a user without roles: it sees no projects, and is refused
      // what only admins may do. Both prove the server accepted the token.
      const calls = await Promise.all([client.projects.list(), client.projects.list()]);
      expect(calls.map((page) => page.items)).toEqual([[], []]);
      await expect(client.access.listUsers()).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      expect(provider.tokenRequests() - before).toBe(1);

      const admin = new FeatureStoreClient({ endpoint: server.address, token: server.adminToken });
      try {
        const users = (await admin.access.listUsers()).items;
        expect(users.find((user) => user.oidcSubject === clientId)).toBeDefined();
      } finally {
        admin.close();
      }
    } finally {
      client.close();
    }
  });

  it('asks for a new token shortly before the cached one expires', async () => {
    let now = Date.now();
    const source = new OidcTokenSource(
      { issuer: provider.issuer, clientId, clientSecret, audience },
      () => now,
    );
    const before = provider.tokenRequests();
    const first = await source.token();
    expect(await source.token()).toBe(first);
    expect(provider.tokenRequests() - before).toBe(1);
    // 600 s tokens are renewed 30 s before they expire.
    now += 569_000;
    expect(await source.token()).toBe(first);
    now += 2_000;
    expect(await source.token()).not.toBe(first);
    expect(provider.tokenRequests() - before).toBe(2);
  });

  it('a wrong client secret is UNAUTHENTICATED, naming the client', async () => {
    const client = new FeatureStoreClient({
      endpoint: server.address,
      oidc: { issuer: provider.issuer, clientId, clientSecret: 'wrong', audience },
    });
    try {
      const error = await client.projects.list().catch((rejected: unknown) => rejected);
      expect(error).toBeInstanceOf(UnauthenticatedError);
      expect((error as Error).message).toMatch(/inference-service.*invalid_client/);
    } finally {
      client.close();
    }
  });
});
