import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ACTION_REQUIREMENTS,
  ACTIONS,
  type Action,
  type FeatureStoreEngine,
  type Principal,
  ROLES,
  type Role,
} from '@featurestore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { tempStore } from './helpers.js';

const definition = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'score', type: 'float64' },
    { name: 'secret', type: 'float64', sensitive: true },
  ],
};

let dataDir = '';

type Subject = Role | 'non_member' | 'admin';
const SUBJECTS: Subject[] = [...ROLES, 'non_member', 'admin'];

interface Fixture {
  engine: FeatureStoreEngine;
  admin: Principal;
  caller: Principal;
  /** A fresh project (with a feature set `fs`) where the caller has the subject's role. */
  project: string;
  /** Another user, a member of the project as viewer. */
  other: string;
}

let counter = 0;

/** One call per action, through the engine method that performs it. */
const PERFORM: Record<Action, (f: Fixture) => Promise<unknown>> = {
  'project.create': (f) => f.engine.projects.create(f.caller, { name: `created_${counter++}` }),
  'project.get': (f) => f.engine.projects.get(f.caller, f.project),
  'project.update': (f) =>
    f.engine.projects.update(f.caller, f.project, { description: 'changed' }),
  'project.delete': (f) => f.engine.projects.delete(f.caller, f.project, { force: true }),
  'featureset.register': (f) =>
    f.engine.featureSets.register(f.caller, f.project, 'fresh', definition),
  'featureset.get': (f) => f.engine.featureSets.get(f.caller, f.project, 'fs'),
  'featureset.update': (f) =>
    f.engine.featureSets.update(f.caller, f.project, 'fs', { description: 'x' }),
  'featureset.delete': (f) => f.engine.featureSets.delete(f.caller, f.project, 'fs'),
  'data.read': (f) => training(f, 'score'),
  'data.read_sensitive': (f) => training(f, 'secret'),
  'data.write': async (f) =>
    (await f.engine.offline.ingest(f.caller, f.project, 'fs', join(dataDir, 'rows.csv'))).result,
  'permission.list': (f) => f.engine.access.listPermissions(f.caller, f.project),
  'permission.grant': (f) => f.engine.access.grant(f.caller, f.project, f.other, 'editor'),
  'permission.revoke': (f) => f.engine.access.revoke(f.caller, f.project, f.other),
  'user.create': (f) => f.engine.access.createUser(f.caller, { name: `user_${counter++}` }),
  'user.list': (f) => f.engine.access.listUsers(f.caller),
  'user.update': (f) => f.engine.access.setAdmin(f.caller, f.other, false),
  'token.create': (f) => f.engine.access.createToken(f.caller, { name: 'mine' }),
  'token.list': (f) => f.engine.access.listTokens(f.caller),
  'job.read': async (f) => f.engine.jobs.get(f.caller, (await ownJob(f)).id),
  'job.cancel': async (f) => f.engine.jobs.cancel(f.caller, (await ownJob(f)).id),
  'store.gc': (f) => f.engine.collector.collect(f.caller, { dryRun: true }),
  'token.revoke': async (f) => {
    const { token } = await f.engine.access.createToken(f.admin, {
      name: 'theirs',
      user: f.caller.name,
    });
    return f.engine.access.revokeToken(f.caller, token.id);
  },
};

async function training(f: Fixture, feature: string) {
  const running = await f.engine.offline.historical(f.caller, {
    entities: join(dataDir, 'entities.csv'),
    entityTime: 'at',
    features: `${f.project}/fs:${feature}`,
  });
  return running.result;
}

/** A job record of the caller's own (jobs are the caller's, whatever the project role). */
function ownJob(f: Fixture) {
  return f.engine.drivers.metadata.insertJob({
    id: randomUUID(),
    type: 'ingest',
    state: 'pending',
    progress: 0,
    request: {},
    cancelRequested: false,
    createdBy: f.caller.userId,
    createdAt: new Date(),
  });
}

function expected(action: Action, subject: Subject): boolean {
  const requirement = ACTION_REQUIREMENTS[action];
  if (subject === 'admin' || requirement === 'authenticated' || requirement === 'self') return true;
  if (requirement === 'admin' || subject === 'non_member') return false;
  return ROLES.indexOf(subject) >= ROLES.indexOf(requirement);
}

describe('permission matrix: every action × every role, a non-member and an admin', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;
  beforeAll(async () => {
    store = await tempStore();
    fs = await openFeatureStore({ store: store.dir });
    dataDir = store.dir;
    await writeFile(
      join(dataDir, 'rows.csv'),
      'id,ts,score,secret\n1,2026-01-01T00:00:00Z,0.5,7\n',
    );
    await writeFile(join(dataDir, 'entities.csv'), 'id,at\n1,2026-01-02T00:00:00Z\n');
  });
  afterAll(async () => {
    await fs?.close();
    await store.remove();
  });

  async function fixture(subject: Subject): Promise<Fixture> {
    const { engine, principal: admin } = fs;
    const id = counter++;
    const project = `p${id}`;
    const callerName = `caller_${id}`;
    const other = `other_${id}`;
    await engine.projects.create(admin, { name: project });
    await engine.featureSets.register(admin, project, 'fs', definition);
    await engine.access.createUser(admin, { name: callerName, admin: subject === 'admin' });
    await engine.access.createUser(admin, { name: other });
    await engine.access.grant(admin, project, other, 'viewer');
    if (subject !== 'non_member' && subject !== 'admin') {
      await engine.access.grant(admin, project, callerName, subject);
    }
    return { engine, admin, caller: await engine.access.principalFor(callerName), project, other };
  }

  for (const action of ACTIONS) {
    for (const subject of SUBJECTS) {
      const allowed = expected(action, subject);
      it(`${action} by ${subject}: ${allowed ? 'allowed' : 'denied'}`, async () => {
        const f = await fixture(subject);
        const outcome = PERFORM[action](f);
        if (allowed) await outcome;
        else await expect(outcome).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      });
    }
  }

  it('a non-member does not see the project in listings', async () => {
    const f = await fixture('non_member');
    const page = await f.engine.projects.list(f.caller);
    expect(page.items.map((p) => p.name)).not.toContain(f.project);
    const sets = await f.engine.featureSets.list(f.caller);
    expect(sets.items).toEqual([]);
  });

  it("a user cannot read or cancel another user's job", async () => {
    const f = await fixture('owner');
    const theirs = await f.engine.drivers.metadata.insertJob({
      id: randomUUID(),
      type: 'ingest',
      state: 'pending',
      progress: 0,
      request: {},
      cancelRequested: false,
      createdBy: f.admin.userId,
      createdAt: new Date(),
    });
    await expect(f.engine.jobs.get(f.caller, theirs.id)).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
    });
    await expect(f.engine.jobs.cancel(f.caller, theirs.id)).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
    });
  });

  it('the last owner cannot be removed or demoted', async () => {
    const { engine, principal: admin } = fs;
    await engine.projects.create(admin, { name: 'owned' });
    await expect(engine.access.revoke(admin, 'owned', 'admin')).rejects.toThrow(/last owner/);
    await expect(engine.access.grant(admin, 'owned', 'admin', 'viewer')).rejects.toThrow(
      /last owner/,
    );
  });
});
