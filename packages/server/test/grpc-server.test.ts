import { once } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FeatureSetSchema } from '@featurestore/protocol/featurestore/v1/core';
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdminToken } from '../src/first-admin-token.js';
import { engineErrorOf } from '../src/grpc/error-status.js';
import { FeatureStoreServer } from '../src/grpc/featurestore-server.js';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { ServingStatus, TestClient } from './grpc-client.js';
import { tempStore, until } from './helpers.js';

const issuer = 'https://login.example.test';
const audience = 'featurestore';

const schema = FeatureSetSchema.fromPartial({
  primaryKey: ['user_id'],
  eventTime: 'ts',
  features: [
    { name: 'user_id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'amount', type: 'float64', description: 'last amount', tags: { unit: 'EUR' } },
    { name: 'card', type: 'string', sensitive: true },
  ],
});

/** The status a call failed with, and the engine error it carries. */
async function failure(call: Promise<unknown>) {
  const error = (await call.then(
    () => expect.fail('the call succeeded'),
    (rejected: unknown) => rejected,
  )) as ServiceError;
  return { code: error.code, message: error.details, engine: engineErrorOf(error) };
}

describe('gRPC server (CoreService over a real server on loopback)', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let store: FeatureStore;
  let server: FeatureStoreServer;
  let client: TestClient;
  let admin: string;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let jwk: JWK;

  beforeAll(async () => {
    folder = await tempStore();
    store = await openFeatureStore({ store: folder.dir });
    admin = (await createFirstAdminToken(store.engine, undefined))!.secret;
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' };
    server = await FeatureStoreServer.start(store, {
      listen: '127.0.0.1:0',
      oidc: { issuer, audience, jwks: { keys: [jwk] } },
    });
    client = new TestClient(server.address);
  });
  afterAll(async () => {
    client?.close();
    await server?.shutdown();
    await store?.close();
    await folder?.remove();
  });

  it('register → get → versions → tokens, as the admin of the first start', async () => {
    const project = await client.core(
      'createProject',
      { name: 'fraud', tags: { team: 'risk' } },
      admin,
    );
    expect(project).toMatchObject({ name: 'fraud', tags: { team: 'risk' }, revision: 1 });
    expect(project.createdAt).toBeInstanceOf(Date);

    const registered = await client.core(
      'registerFeatureSet',
      {
        project: 'fraud',
        name: 'payments',
        schema,
        description: 'card payments',
        timeToLive: 'P30D',
      },
      admin,
    );
    expect(registered).toMatchObject({
      project: 'fraud',
      name: 'payments',
      version: { major: 1, minor: 0 },
      description: 'card payments',
      timeToLive: 'P30D',
    });
    expect(registered.schema).toEqual(schema);

    const updated = await client.core(
      'updateFeatureSet',
      {
        project: 'fraud',
        name: 'payments',
        description: 'card payments, EUR',
        tags: { tier: 'gold' },
      },
      admin,
    );
    expect(updated).toMatchObject({ version: { major: 1, minor: 1 }, tags: { tier: 'gold' } });

    const got = await client.core(
      'getFeatureSet',
      { project: 'fraud', name: 'payments', version: '1.0' },
      admin,
    );
    expect(got).toMatchObject({
      version: { major: 1, minor: 0 },
      latestVersion: { major: 1, minor: 1 },
    });
    expect(got.description).toBe('card payments');

    const { versions } = await client.core(
      'listFeatureSetVersions',
      { project: 'fraud', name: 'payments' },
      admin,
    );
    expect(versions.map((v) => `${v.version!.major}.${v.version!.minor}`)).toEqual(['1.0', '1.1']);

    const listed = await client.core('listFeatureSets', { project: 'fraud' }, admin);
    expect(listed.featureSets.map((featureSet) => featureSet.name)).toEqual(['payments']);

    const created = await client.core('createAccessToken', { name: 'ci', expiresIn: 'P1D' }, admin);
    expect(created.secret).toMatch(/^fst_/);
    expect(created.token!.expiresAt).toBeInstanceOf(Date);
    // The new token works, and acts as the same user.
    const projects = await client.core('listProjects', {}, created.secret);
    expect(projects.projects.map((p) => p.name)).toEqual(['fraud']);
    const { tokens } = await client.core('listAccessTokens', {}, created.secret);
    expect(tokens.map((token) => token.name).sort()).toEqual(['admin (first start)', 'ci']);

    const revoked = await client.core('revokeAccessToken', { id: created.token!.id }, admin);
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    const refused = await failure(client.core('listProjects', {}, created.secret));
    expect(refused).toMatchObject({
      code: status.UNAUTHENTICATED,
      engine: { code: 'UNAUTHENTICATED' },
    });
    expect(refused.message).toContain('was revoked');
  });

  it('users, permissions, and a viewer calling an owner RPC: PERMISSION_DENIED with the engine code', async () => {
    await client.core('createProject', { name: 'churn' }, admin);
    await client.core('registerFeatureSet', { project: 'churn', name: 'visits', schema }, admin);
    const viewer = await client.core(
      'createUser',
      { name: 'vera', email: 'vera@example.test' },
      admin,
    );
    expect(viewer).toMatchObject({ name: 'vera', admin: false, email: 'vera@example.test' });
    const grant = await client.core(
      'grantPermission',
      { project: 'churn', user: 'vera', role: 'viewer' },
      admin,
    );
    expect(grant).toMatchObject({ project: 'churn', user: 'vera', role: 'viewer' });
    const veraToken = (
      await client.core('createAccessToken', { name: 'laptop', user: 'vera' }, admin)
    ).secret;

    // A viewer reads…
    const visits = await client.core(
      'getFeatureSet',
      { project: 'churn', name: 'visits' },
      veraToken,
    );
    expect(visits.name).toBe('visits');
    expect((await client.core('listProjects', {}, veraToken)).projects.map((p) => p.name)).toEqual([
      'churn',
    ]);
    // …and may not do what owners do.
    for (const call of [
      () => client.core('deleteFeatureSet', { project: 'churn', name: 'visits' }, veraToken),
      () =>
        client.core(
          'grantPermission',
          { project: 'churn', user: 'vera', role: 'owner' },
          veraToken,
        ),
      () => client.core('updateProject', { name: 'churn', description: 'mine' }, veraToken),
    ]) {
      const denied = await failure(call());
      expect(denied).toMatchObject({
        code: status.PERMISSION_DENIED,
        engine: { code: 'PERMISSION_DENIED' },
      });
    }
    // Admin-only RPCs, likewise.
    expect(await failure(client.core('listUsers', {}, veraToken))).toMatchObject({
      code: status.PERMISSION_DENIED,
      engine: { code: 'PERMISSION_DENIED' },
    });

    const { permissions } = await client.core('listPermissions', { project: 'churn' }, admin);
    expect(permissions.map((p) => `${p.user}:${p.role}`).sort()).toEqual([
      'admin:owner',
      'vera:viewer',
    ]);
    expect((await client.core('listUsers', {}, admin)).users.map((u) => u.name).sort()).toContain(
      'vera',
    );
    expect(await client.core('setUserAdmin', { name: 'vera', admin: true }, admin)).toMatchObject({
      admin: true,
    });
    // Authorization is the engine's, read on every call: vera is now an admin.
    expect((await client.core('listUsers', {}, veraToken)).users.length).toBeGreaterThan(1);
    expect(
      await client.core('revokePermission', { project: 'churn', user: 'vera' }, admin),
    ).toEqual({
      revoked: true,
    });
  });

  it('no token, a malformed header, a bad token, an expired token: UNAUTHENTICATED', async () => {
    const expiring = await client.core(
      'createAccessToken',
      { name: 'short', expiresIn: 'PT1S' },
      admin,
    );
    const expiresAt = expiring.token!.expiresAt!.getTime();
    await until(() => Date.now() > expiresAt, 'the token to expire', 10_000);
    const basic = new Metadata();
    basic.set('authorization', 'Basic YWRtaW46YWRtaW4=');
    const cases: [string, () => Promise<unknown>, string][] = [
      ['no token', () => client.core('listProjects', {}, undefined), 'no authorization metadata'],
      [
        'not a bearer header',
        () => client.coreWithMetadata('listProjects', {}, basic),
        'not one "Bearer',
      ],
      [
        'an unknown access token',
        () => client.core('listProjects', {}, 'fst_not-a-real-token'),
        'not valid',
      ],
      [
        'neither a token nor a JWT',
        () => client.core('listProjects', {}, 'hello'),
        'not a Featurestore access token',
      ],
      [
        'an expired access token',
        () => client.core('listProjects', {}, expiring.secret),
        'expired',
      ],
      [
        'an expired OIDC token',
        async () =>
          client.core(
            'listProjects',
            {},
            await new SignJWT({ sub: 'u-1' })
              .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
              .setIssuer(issuer)
              .setAudience(audience)
              .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
              .sign(privateKey),
          ),
        'expired',
      ],
    ];
    for (const [what, call, message] of cases) {
      const refused = await failure(call());
      expect(refused, what).toMatchObject({
        code: status.UNAUTHENTICATED,
        engine: { code: 'UNAUTHENTICATED' },
      });
      expect(refused.message, what).toContain(message);
    }
  });

  it('accepts a valid OIDC token, mapping its subject to a user the engine authorizes', async () => {
    const jwt = await new SignJWT({ sub: 'oidc-42', preferred_username: 'olga' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(privateKey);
    expect(await client.core('listProjects', {}, jwt)).toEqual({ projects: [], nextPageToken: '' });
    const project = await client.core('createProject', { name: 'olgas' }, jwt);
    const { permissions } = await client.core('listPermissions', { project: project.name }, jwt);
    expect(permissions).toMatchObject([{ user: 'olga', role: 'owner' }]);
  });

  it('bad input: the engine error, its code and details, over the wire', async () => {
    const missing = await failure(client.core('getProject', { name: 'nope' }, admin));
    expect(missing).toMatchObject({ code: status.NOT_FOUND, engine: { code: 'NOT_FOUND' } });
    const badType = FeatureSetSchema.fromPartial({
      ...schema,
      features: [...schema.features, { name: 'x', type: 'decimal' }],
    });
    const invalid = await failure(
      client.core('registerFeatureSet', { project: 'fraud', name: 'bad', schema: badType }, admin),
    );
    expect(invalid).toMatchObject({
      code: status.INVALID_ARGUMENT,
      engine: { code: 'VALIDATION' },
    });
    expect(invalid.engine!.details.field).toMatch(/features/);
    const exists = await failure(client.core('createProject', { name: 'fraud' }, admin));
    expect(exists).toMatchObject({
      code: status.ALREADY_EXISTS,
      engine: { code: 'ALREADY_EXISTS' },
    });
    const stale = await failure(
      client.core(
        'updateProject',
        { name: 'fraud', description: 'x', expectedRevision: 99 },
        admin,
      ),
    );
    expect(stale).toMatchObject({ code: status.ABORTED, engine: { code: 'CONFLICT' } });
  });

  it('health: SERVING for the server and CoreService, NOT_FOUND for another service', async () => {
    expect(await client.health()).toBe(ServingStatus.SERVING);
    expect(await client.health('featurestore.v1.CoreService')).toBe(ServingStatus.SERVING);
    expect(await failure(client.health('featurestore.v1.Nope'))).toMatchObject({
      code: status.NOT_FOUND,
    });
  });

  it('refuses plaintext on an address other machines reach, unless insecure', async () => {
    await expect(FeatureStoreServer.start(store, { listen: '0.0.0.0:0' })).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining('--insecure'),
    });
    await expect(FeatureStoreServer.start(store, { listen: 'nohost' })).rejects.toMatchObject({
      code: 'VALIDATION',
      details: { field: 'listen', value: 'nohost' },
    });
    const open = await FeatureStoreServer.start(store, { listen: '0.0.0.0:0', insecure: true });
    const other = new TestClient(`127.0.0.1:${open.address.split(':').at(-1)}`);
    expect(await other.health()).toBe(ServingStatus.SERVING);
    other.close();
    await open.shutdown();
  });

  it('shutdown: a watcher sees NOT_SERVING and its stream ends; new calls are refused', async () => {
    const second = await FeatureStoreServer.start(store, { listen: '127.0.0.1:0' });
    const watcher = new TestClient(second.address);
    const seen: ServingStatus[] = [];
    const watching = watcher.watch('', (value) => seen.push(value));
    await until(() => seen.length > 0, 'the first health status', 10_000);
    await second.shutdown();
    await watching;
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    expect(await failure(watcher.health())).toMatchObject({ code: status.UNAVAILABLE });
    watcher.close();
  });

  /**
   * A call held in flight for as long as the test wants: an OIDC token makes the server fetch
   * the issuer's keys, and this JWKS endpoint answers only when released.
   */
  async function heldCall(drainTimeoutMs?: number) {
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const jwks: HttpServer = createServer((_request, response) => {
      arrived();
      void released.then(() => response.end(JSON.stringify({ keys: [jwk] })));
    });
    jwks.listen(0, '127.0.0.1');
    await once(jwks, 'listening');
    const { port } = jwks.address() as AddressInfo;
    const held = await FeatureStoreServer.start(store, {
      listen: '127.0.0.1:0',
      oidc: { issuer, audience, jwksUri: `http://127.0.0.1:${port}/jwks.json` },
      ...(drainTimeoutMs === undefined ? {} : { drainTimeoutMs }),
    });
    const caller = new TestClient(held.address);
    const jwt = await new SignJWT({ sub: 'oidc-42', preferred_username: 'olga' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(privateKey);
    const inFlight = caller.core('listProjects', {}, jwt);
    void inFlight.catch(() => undefined);
    await reached;
    return {
      held,
      inFlight,
      release,
      async close() {
        release();
        caller.close();
        jwks.closeAllConnections();
        jwks.close();
      },
    };
  }

  it('SIGTERM-style shutdown drains: a call in flight completes, new connections are refused', async () => {
    const { held, inFlight, release, close } = await heldCall();
    try {
      let stopped = false;
      const stopping = held.shutdown().then(() => {
        stopped = true;
      });
      const latecomer = new TestClient(held.address);
      expect(await failure(latecomer.health())).toMatchObject({ code: status.UNAVAILABLE });
      latecomer.close();
      expect(stopped).toBe(false);
      release();
      // Answered in full after the shutdown began.
      expect(await inFlight).toMatchObject({ nextPageToken: '' });
      await stopping;
    } finally {
      await close();
    }
  });

  it('a call still in flight after the drain timeout is cancelled, and the shutdown ends', async () => {
    const { held, inFlight, close } = await heldCall(100);
    try {
      await held.shutdown();
      expect(await failure(inFlight)).toMatchObject({
        code: expect.toSatisfy(
          (code: status) => code === status.CANCELLED || code === status.UNAVAILABLE,
        ),
      });
    } finally {
      await close();
    }
  });
});
