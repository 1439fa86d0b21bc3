import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  ConflictError,
  type FeatureSetDefinition,
  FeatureStoreClient,
  FeatureStoreError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  ValidationError,
} from '../src/index.js';
import { type RunningServer, startTestServer } from './test-server.js';

const definition: FeatureSetDefinition = {
  primaryKey: ['user_id'],
  eventTime: 'ts',
  features: [
    { name: 'user_id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'amount', type: 'float64', description: 'last amount', tags: { unit: 'EUR' } },
    { name: 'card', type: 'string', sensitive: true },
  ],
  description: 'card payments',
  timeToLive: 'P30D',
};

/** The error a call failed with. */
async function failure(call: Promise<unknown>): Promise<FeatureStoreError> {
  const error = await call.then(
    () => expect.fail('the call succeeded'),
    (rejected: unknown) => rejected,
  );
  expect(error).toBeInstanceOf(FeatureStoreError);
  return error as FeatureStoreError;
}

describe('FeatureStoreClient against a real server on loopback', () => {
  let server: RunningServer;
  let client: FeatureStoreClient;

  beforeAll(async () => {
    server = await startTestServer();
    client = new FeatureStoreClient({ endpoint: server.address, token: server.adminToken });
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  it('projects: create, get, list, update, delete', async () => {
    const created = await client.projects.create({
      name: 'fraud',
      description: 'fraud models',
      tags: { team: 'risk' },
    });
    expect(created).toMatchObject({ name: 'fraud', tags: { team: 'risk' }, revision: 1 });
    expect(created.createdAt).toBeInstanceOf(Date);
    await client.projects.create({ name: 'marketing' });

    expect(await client.projects.get('fraud')).toEqual(created);
    const page = await client.projects.list({ namePrefix: 'fr' });
    expect(page.items.map((project) => project.name)).toEqual(['fraud']);
    expect(page.nextPageToken).toBeUndefined();
    const first = await client.projects.list({ pageSize: 1 });
    expect(first.items).toHaveLength(1);
    const second = await client.projects.list({ pageSize: 1, pageToken: first.nextPageToken! });
    expect(second.items.map((project) => project.name)).not.toEqual(
      first.items.map((project) => project.name),
    );
    expect(
      (await client.projects.list({ tag: { key: 'team', value: 'risk' } })).items,
    ).toHaveLength(1);

    // Tags given to update replace them all, as the engine's update does.
    const updated = await client.projects.update('fraud', {
      description: 'fraud detection',
      tags: { tier: 'gold' },
    });
    expect(updated).toMatchObject({
      description: 'fraud detection',
      tags: { tier: 'gold' },
      revision: 2,
    });
    await client.projects.delete('marketing');
    await expect(client.projects.get('marketing')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('feature sets: register, get, list, update, versions, delete', async () => {
    await client.projects.create({ name: 'shop' });
    const registered = await client.featureSets.register('shop', 'payments', definition);
    expect(registered).toMatchObject({
      projectName: 'shop',
      name: 'payments',
      version: { major: 1, minor: 0 },
      latestVersion: { major: 1, minor: 0 },
      description: 'card payments',
      timeToLive: 'P30D',
      schema: {
        primaryKey: ['user_id'],
        eventTime: 'ts',
        features: definition.features,
      },
    });

    const retagged = await client.featureSets.update('shop', 'payments', {
      tags: { tier: 'gold' },
      timeToLive: null,
    });
    expect(retagged).toMatchObject({ version: { major: 1, minor: 1 }, tags: { tier: 'gold' } });
    expect(retagged.timeToLive).toBeUndefined();

    const reshaped = await client.featureSets.update('shop', 'payments', {
      schema: {
        ...definition,
        features: [...definition.features, { name: 'merchant', type: 'string' }],
      },
    });
    expect(reshaped.version).toEqual({ major: 2, minor: 0 });
    // A definition without tags keeps the feature set's, as the engine's update does.
    expect(reshaped.tags).toEqual({ tier: 'gold' });
    expect(reshaped.schema.features.map((feature) => feature.name)).toContain('merchant');

    const old = await client.featureSets.get('shop', 'payments', '1.0');
    expect(old).toMatchObject({
      version: { major: 1, minor: 0 },
      latestVersion: { major: 2, minor: 0 },
    });
    const versions = await client.featureSets.versions('shop', 'payments');
    expect(versions.map((version) => version.version)).toEqual([
      { major: 1, minor: 0 },
      { major: 1, minor: 1 },
      { major: 2, minor: 0 },
    ]);
    expect(versions[2]!.changes.join(' ')).toMatch(/merchant/);

    expect(
      (await client.featureSets.list({ project: 'shop', feature: 'merchant' })).items.map(
        (featureSet) => featureSet.name,
      ),
    ).toEqual(['payments']);
    await client.featureSets.delete('shop', 'payments');
    expect((await client.featureSets.list({ project: 'shop' })).items).toEqual([]);
  });

  it('access: users, admin flag, tokens, permissions', async () => {
    await client.projects.create({ name: 'access' });
    const jane = await client.access.createUser({ name: 'jane', email: 'jane@example.test' });
    expect(jane).toMatchObject({ name: 'jane', admin: false, email: 'jane@example.test' });
    expect((await client.access.listUsers()).items.map((user) => user.name)).toContain('jane');
    expect(await client.access.setAdmin('jane', true)).toMatchObject({ admin: true });
    await client.access.setAdmin('jane', false);

    const created = await client.access.createToken({ name: 'ci', user: 'jane', expiresIn: 'P1D' });
    expect(created.secret).toMatch(/^fst_/);
    expect(created.token.expiresAt).toBeInstanceOf(Date);
    expect((await client.access.listTokens('jane')).map((token) => token.id)).toEqual([
      created.token.id,
    ]);

    const granted = await client.access.grant('access', 'jane', 'viewer');
    expect(granted).toMatchObject({ projectName: 'access', userName: 'jane', role: 'viewer' });
    const permissions = await client.access.listPermissions('access');
    expect(permissions.map(({ userName, role }) => ({ userName, role }))).toEqual(
      expect.arrayContaining([
        { userName: 'admin', role: 'owner' },
        { userName: 'jane', role: 'viewer' },
      ]),
    );

    // Jane's own token acts as Jane: a viewer reads, cannot write.
    const asJane = new FeatureStoreClient({ endpoint: server.address, token: created.secret });
    try {
      expect((await asJane.projects.get('access')).name).toBe('access');
      const refused = await failure(asJane.projects.update('access', { description: 'mine' }));
      expect(refused).toBeInstanceOf(PermissionDeniedError);
      expect(refused).toMatchObject({
        code: 'PERMISSION_DENIED',
        grpcCode: status.PERMISSION_DENIED,
      });

      expect(await client.access.revoke('access', 'jane')).toBe(true);
      expect(await client.access.revoke('access', 'jane')).toBe(false);
      const revoked = await client.access.revokeToken(created.token.id);
      expect(revoked.revokedAt).toBeInstanceOf(Date);
      expect(await failure(asJane.projects.list())).toBeInstanceOf(UnauthenticatedError);
    } finally {
      asJane.close();
    }
  });

  it('errors carry the engine code and details from the status', async () => {
    const missing = await failure(client.projects.get('nowhere'));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({
      code: 'NOT_FOUND',
      grpcCode: status.NOT_FOUND,
      details: { field: 'project', value: 'nowhere' },
    });
    expect(missing.message).toMatch(/nowhere/);

    await client.projects.create({ name: 'errors' });
    const twice = await failure(client.projects.create({ name: 'errors' }));
    expect(twice).toBeInstanceOf(AlreadyExistsError);

    const stale = await failure(client.projects.update('errors', { expectedRevision: 0 }));
    expect(stale).toBeInstanceOf(ConflictError);
    expect(stale.grpcCode).toBe(status.ABORTED);

    // Refused by the server's validation, which names the field.
    const badType = await failure(
      client.featureSets.register('errors', 'bad', {
        ...definition,
        features: [...definition.features, { name: 'x', type: 'decimal' }],
      }),
    );
    expect(badType).toBeInstanceOf(ValidationError);
    expect(badType.grpcCode).toBe(status.INVALID_ARGUMENT);
    expect(badType.message).toMatch(/decimal/);

    // What the wire cannot carry is refused before any call, the same way.
    const unknownField = await failure(
      client.featureSets.register('errors', 'bad', { ...definition, owner: 'me' }),
    );
    expect(unknownField).toBeInstanceOf(ValidationError);
    expect(unknownField).toMatchObject({ details: { field: 'owner' }, grpcCode: undefined });
  });

  it('a call without a token is UNAUTHENTICATED', async () => {
    const anonymous = new FeatureStoreClient({ endpoint: server.address, token: '' });
    try {
      const refused = await failure(anonymous.projects.list());
      expect(refused).toBeInstanceOf(UnauthenticatedError);
      expect(refused.message).toMatch(/authorization/);
    } finally {
      anonymous.close();
    }
  });

  it('takes the endpoint and token from FEATURESTORE_ENDPOINT and FEATURESTORE_TOKEN', async () => {
    const saved = { ...process.env };
    process.env.FEATURESTORE_ENDPOINT = server.address;
    process.env.FEATURESTORE_TOKEN = server.adminToken;
    const fromEnvironment = new FeatureStoreClient();
    try {
      expect((await fromEnvironment.projects.get('fraud')).name).toBe('fraud');
    } finally {
      fromEnvironment.close();
      process.env.FEATURESTORE_ENDPOINT = saved.FEATURESTORE_ENDPOINT;
      process.env.FEATURESTORE_TOKEN = saved.FEATURESTORE_TOKEN;
      if (saved.FEATURESTORE_ENDPOINT === undefined) delete process.env.FEATURESTORE_ENDPOINT;
      if (saved.FEATURESTORE_TOKEN === undefined) delete process.env.FEATURESTORE_TOKEN;
    }
  });

  it('refuses an endpoint that is not HOST:PORT, naming it', () => {
    expect(() => new FeatureStoreClient({ endpoint: 'http://x:1', token: 't' })).toThrow(
      ValidationError,
    );
    expect(() => new FeatureStoreClient({ endpoint: 'localhost', token: 't' })).toThrow(
      /"localhost" is not HOST:PORT/,
    );
  });
});
