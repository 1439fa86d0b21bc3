import {
  ACTION_REQUIREMENTS,
  type Action,
  type FeatureSetDefinition,
  ROLES,
  type Role,
} from '@featurestore/core';
import { FeatureSetSchema } from '@featurestore/protocol/featurestore/v1/core';
import type { Value } from '@featurestore/protocol/featurestore/v1/online';
import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureStoreServer } from '../src/grpc/featurestore-server.js';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { TestClient } from './grpc-client.js';
import { tempStore } from './helpers.js';
import { OnlineTestClient } from './online-client.js';

const definition: FeatureSetDefinition = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'score', type: 'float64' },
    { name: 'secret', type: 'float64', sensitive: true },
  ],
};

type Subject = Role | 'non_member' | 'admin';
const SUBJECTS: Subject[] = [...ROLES, 'non_member', 'admin'];

/** Whose account a `self` action concerns: the caller's own, or another user's. */
type Whose = 'own' | 'other';

/** What one case calls with: the subject's token, in a fresh project where it has its role. */
interface Fixture {
  core: TestClient;
  online: OnlineTestClient;
  token: string;
  /** The subject's user name. */
  caller: string;
  /** A fresh project with a feature set `fs`, where the caller has the subject's role. */
  project: string;
  /** Another user (not an admin), a viewer of the project. */
  other: string;
  /** A live token of the caller's, and one of the other user's. */
  ownTokenId: string;
  otherTokenId: string;
  /** A name nothing has yet, for what a call creates. */
  fresh: string;
}

const int64 = (value: number): Value => ({ int64Value: String(value) });

/**
 * Every CoreService metadata/access RPC and every OnlineService RPC, the engine action it
 * performs and, for `self` actions, whose account it concerns. The expectation comes from the
 * engine's one action table, `ACTION_REQUIREMENTS`; the data RPCs (ingest, retrieve, jobs…)
 * have their own matrix in grpc-data-permissions.test.ts.
 */
const RPCS: {
  rpc: string;
  action: Action;
  whose?: Whose;
  call: (f: Fixture) => Promise<unknown>;
}[] = [
  {
    rpc: 'CreateProject',
    action: 'project.create',
    call: (f) => f.core.core('createProject', { name: f.fresh }, f.token),
  },
  {
    rpc: 'GetProject',
    action: 'project.get',
    call: (f) => f.core.core('getProject', { name: f.project }, f.token),
  },
  {
    rpc: 'UpdateProject',
    action: 'project.update',
    call: (f) => f.core.core('updateProject', { name: f.project, description: 'changed' }, f.token),
  },
  {
    rpc: 'DeleteProject',
    action: 'project.delete',
    call: (f) => f.core.core('deleteProject', { name: f.project, force: true }, f.token),
  },
  {
    rpc: 'RegisterFeatureSet',
    action: 'featureset.register',
    call: (f) =>
      f.core.core(
        'registerFeatureSet',
        {
          project: f.project,
          name: f.fresh,
          schema: FeatureSetSchema.fromPartial({
            primaryKey: [...definition.primaryKey],
            eventTime: definition.eventTime,
            features: definition.features.map((feature) => ({ ...feature })),
          }),
        },
        f.token,
      ),
  },
  {
    rpc: 'GetFeatureSet',
    action: 'featureset.get',
    call: (f) => f.core.core('getFeatureSet', { project: f.project, name: 'fs' }, f.token),
  },
  {
    rpc: 'ListFeatureSets',
    action: 'featureset.get',
    call: (f) => f.core.core('listFeatureSets', { project: f.project }, f.token),
  },
  {
    rpc: 'UpdateFeatureSet',
    action: 'featureset.update',
    call: (f) =>
      f.core.core(
        'updateFeatureSet',
        { project: f.project, name: 'fs', description: 'changed' },
        f.token,
      ),
  },
  {
    rpc: 'ListFeatureSetVersions',
    action: 'featureset.get',
    call: (f) => f.core.core('listFeatureSetVersions', { project: f.project, name: 'fs' }, f.token),
  },
  {
    rpc: 'DeleteFeatureSet',
    action: 'featureset.delete',
    call: (f) => f.core.core('deleteFeatureSet', { project: f.project, name: 'fs' }, f.token),
  },
  {
    rpc: 'GrantPermission',
    action: 'permission.grant',
    call: (f) =>
      f.core.core(
        'grantPermission',
        { project: f.project, user: f.other, role: 'editor' },
        f.token,
      ),
  },
  {
    rpc: 'RevokePermission',
    action: 'permission.revoke',
    call: (f) => f.core.core('revokePermission', { project: f.project, user: f.other }, f.token),
  },
  {
    rpc: 'ListPermissions',
    action: 'permission.list',
    call: (f) => f.core.core('listPermissions', { project: f.project }, f.token),
  },
  {
    rpc: 'CreateUser',
    action: 'user.create',
    call: (f) => f.core.core('createUser', { name: f.fresh }, f.token),
  },
  {
    rpc: 'ListUsers',
    action: 'user.list',
    call: (f) => f.core.core('listUsers', {}, f.token),
  },
  {
    rpc: 'SetUserAdmin',
    action: 'user.update',
    call: (f) => f.core.core('setUserAdmin', { name: f.other, admin: false }, f.token),
  },
  ...(['own', 'other'] as const).flatMap((whose) => {
    const user = (f: Fixture) => (whose === 'own' ? f.caller : f.other);
    return [
      {
        rpc: 'CreateAccessToken',
        action: 'token.create' as const,
        whose,
        call: (f: Fixture) =>
          f.core.core('createAccessToken', { name: 'matrix', user: user(f) }, f.token),
      },
      {
        rpc: 'ListAccessTokens',
        action: 'token.list' as const,
        whose,
        call: (f: Fixture) => f.core.core('listAccessTokens', { user: user(f) }, f.token),
      },
      {
        rpc: 'RevokeAccessToken',
        action: 'token.revoke' as const,
        whose,
        call: (f: Fixture) =>
          f.core.core(
            'revokeAccessToken',
            { id: whose === 'own' ? f.ownTokenId : f.otherTokenId },
            f.token,
          ),
      },
    ];
  }),
  {
    rpc: 'GetOnlineFeatures',
    action: 'data.read',
    call: (f) =>
      f.online.call(
        'getOnlineFeatures',
        { features: [`${f.project}/fs:score`], entities: [{ values: { id: int64(1) } }] },
        f.token,
      ),
  },
  {
    rpc: 'GetOnlineFeatures (a sensitive feature)',
    action: 'data.read_sensitive',
    call: (f) =>
      f.online.call(
        'getOnlineFeatures',
        {
          features: [`${f.project}/fs:score`, `${f.project}/fs:secret`],
          entities: [{ values: { id: int64(1) } }],
        },
        f.token,
      ),
  },
  {
    rpc: 'Push',
    action: 'data.write',
    call: (f) =>
      f.online.call(
        'push',
        {
          project: f.project,
          featureSet: 'fs',
          rows: [
            {
              values: {
                id: int64(1),
                ts: { timestampValue: new Date('2026-01-01T00:00:00Z') },
                score: { doubleValue: 0.5 },
              },
            },
          ],
        },
        f.token,
      ),
  },
  {
    rpc: 'Materialize',
    action: 'data.write',
    call: (f) => f.online.call('materialize', { project: f.project, featureSet: 'fs' }, f.token),
  },
];

/** What the engine's action table allows `subject`; `self` actions allow one's own account. */
function expected(action: Action, subject: Subject, whose: Whose | undefined): boolean {
  const requirement = ACTION_REQUIREMENTS[action];
  if (subject === 'admin' || requirement === 'authenticated') return true;
  if (requirement === 'self') return whose === 'own';
  if (requirement === 'admin' || subject === 'non_member') return false;
  return ROLES.indexOf(subject) >= ROLES.indexOf(requirement);
}

describe('CoreService metadata/access and OnlineService RPCs × roles through the wire', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let store: FeatureStore;
  let server: FeatureStoreServer;
  let core: TestClient;
  let online: OnlineTestClient;
  /** Each subject's user name and token, created once. */
  const callers = new Map<Subject, { name: string; token: string }>();
  let counter = 0;

  beforeAll(async () => {
    folder = await tempStore();
    store = await openFeatureStore({ store: folder.dir });
    const { engine, principal: admin } = store;
    for (const subject of SUBJECTS) {
      const name = `as_${subject}`;
      await engine.access.createUser(admin, { name, admin: subject === 'admin' });
      const { secret } = await engine.access.createToken(admin, { name: 'matrix', user: name });
      callers.set(subject, { name, token: secret });
    }
    server = await FeatureStoreServer.start(store, { listen: '127.0.0.1:0' });
    core = new TestClient(server.address);
    online = new OnlineTestClient(server.address);
  }, 60_000);
  afterAll(async () => {
    core?.close();
    online?.close();
    await server?.shutdown();
    await store?.close();
    await folder?.remove();
  });

  async function fixture(subject: Subject): Promise<Fixture> {
    const { engine, principal: admin } = store;
    const id = counter++;
    const project = `m${id}`;
    const other = `other_${id}`;
    const caller = callers.get(subject)!;
    await engine.projects.create(admin, { name: project });
    await engine.featureSets.register(admin, project, 'fs', definition);
    await engine.access.createUser(admin, { name: other });
    await engine.access.grant(admin, project, other, 'viewer');
    if (subject !== 'non_member' && subject !== 'admin') {
      await engine.access.grant(admin, project, caller.name, subject);
    }
    const own = await engine.access.createToken(admin, { name: 'own', user: caller.name });
    const theirs = await engine.access.createToken(admin, { name: 'theirs', user: other });
    return {
      core,
      online,
      token: caller.token,
      caller: caller.name,
      project,
      other,
      ownTokenId: own.token.id,
      otherTokenId: theirs.token.id,
      fresh: `fresh_${id}`,
    };
  }

  for (const { rpc, action, whose, call } of RPCS) {
    for (const subject of SUBJECTS) {
      const allowed = expected(action, subject, whose);
      const about =
        whose === undefined ? '' : ` (${whose === 'own' ? 'its own' : "another user's"})`;
      it(`${rpc}${about} by ${subject}: ${allowed ? 'allowed' : 'PERMISSION_DENIED'}`, async () => {
        const f = await fixture(subject);
        const outcome = call(f);
        if (allowed) await outcome;
        else {
          const error = (await outcome.then(
            () => expect.fail('the call succeeded'),
            (rejected: unknown) => rejected,
          )) as ServiceError;
          expect({ code: error.code, message: error.details }).toMatchObject({
            code: status.PERMISSION_DENIED,
            message: expect.stringContaining(f.caller),
          });
        }
      });
    }
  }

  // Listings are open to every caller but show only what `project.get` allows.
  for (const subject of SUBJECTS) {
    const visible = expected('project.get', subject, undefined);
    it(`ListProjects by ${subject}: the project is ${visible ? 'listed' : 'not listed'}`, async () => {
      const f = await fixture(subject);
      const page = await f.core.core('listProjects', { namePrefix: f.project }, f.token);
      expect(page.projects.some((project) => project.name === f.project)).toBe(visible);
    });
  }
});
