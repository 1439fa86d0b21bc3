import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Ingestion, Job } from '../model/offline-records.js';
import type {
  AccessToken,
  FeatureSet,
  FeatureSetSchema,
  FeatureSetVersion,
  Page,
  Permission,
  Project,
  Role,
  User,
} from '../model/records.js';
import type { MetadataStore, PageRequest } from '../ports/metadata-store.js';
import { type SuiteApi, uniqueName } from './suite-api.js';

/** The groups of `metadataStoreConformance`, one per capability of the port. */
export type MetadataStoreCapability =
  | 'projects'
  | 'featureSets'
  | 'users'
  | 'tokens'
  | 'permissions'
  | 'ingestions'
  | 'jobs'
  | 'transactions'
  | 'consumerOffsets'
  | 'pendingOnlineApplies'
  | 'concurrency';

export interface MetadataStoreConformanceOptions {
  /** Groups to leave out, e.g. while a driver is being written. A finished driver skips none. */
  skip?: readonly MetadataStoreCapability[];
}

const SCHEMA: FeatureSetSchema = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'amount', type: 'float64', description: 'Amount in EUR', sensitive: false },
    { name: 'merchants', type: 'list<string>', tags: { pii: 'no' } },
  ],
};

/**
 * The contract every `MetadataStore` driver meets, one group per capability. Names come from
 * `uniqueName` and listings are filtered to what each case created, so several suites can
 * share one database; `factory` is called once per suite and may return a fresh store.
 *
 * @example
 * // packages/driver-x/test/suite.test.ts
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * import { metadataStoreConformance } from '@featurestore/core/testing';
 * metadataStoreConformance({ describe, it, beforeAll, afterAll }, () => XMetadataStore.open(…));
 */
export function metadataStoreConformance(
  t: SuiteApi,
  factory: () => Promise<MetadataStore>,
  options: MetadataStoreConformanceOptions = {},
): void {
  let store: MetadataStore;
  const createdProjects: string[] = [];
  const group = (capability: MetadataStoreCapability, name: string, body: () => void) => {
    if (!options.skip?.includes(capability)) t.describe(name, body);
  };

  // Records as the engine would build them: whole, with ids and times chosen by the caller.

  function newProject(overrides: Partial<Project> = {}): Project {
    const now = new Date();
    return {
      id: randomUUID(),
      name: uniqueName('project'),
      description: 'a project',
      ownerId: randomUUID(),
      tags: {},
      createdAt: now,
      updatedAt: now,
      revision: 1,
      ...overrides,
    };
  }

  async function insertProject(overrides: Partial<Project> = {}): Promise<Project> {
    const project = await store.insertProject(newProject(overrides));
    createdProjects.push(project.id);
    return project;
  }

  function newFeatureSet(project: Project, overrides: Partial<FeatureSet> = {}): FeatureSet {
    const id = overrides.id ?? randomUUID();
    const now = new Date();
    return {
      id,
      featureSetId: id,
      projectId: project.id,
      projectName: project.name,
      name: uniqueName('features'),
      ownerId: project.ownerId,
      version: { major: 1, minor: 0 },
      latestVersion: { major: 1, minor: 0 },
      schema: SCHEMA,
      description: 'card transactions',
      tags: { team: 'fraud' },
      createdAt: now,
      updatedAt: now,
      createdBy: project.ownerId,
      changes: ['created'],
      revision: 1,
      ...overrides,
    };
  }

  function nextVersion(
    featureSet: FeatureSet,
    major: number,
    minor: number,
    overrides: Partial<FeatureSetVersion> = {},
  ): FeatureSetVersion {
    return {
      featureSetId: featureSet.id,
      version: { major, minor },
      schema: featureSet.schema,
      description: featureSet.description,
      tags: featureSet.tags,
      createdAt: new Date(),
      createdBy: featureSet.ownerId,
      changes: [`version ${major}.${minor}`],
      ...overrides,
    };
  }

  /** The version part of a feature set as read, as `listFeatureSetVersions` returns it. */
  function versionOf(featureSet: FeatureSet): FeatureSetVersion {
    const version: FeatureSetVersion = {
      featureSetId: featureSet.id,
      version: featureSet.version,
      schema: featureSet.schema,
      description: featureSet.description,
      tags: featureSet.tags,
      createdAt: featureSet.createdAt,
      createdBy: featureSet.createdBy,
      changes: featureSet.changes,
    };
    if (featureSet.timeToLive !== undefined) version.timeToLive = featureSet.timeToLive;
    return version;
  }

  function newUser(overrides: Partial<User> = {}): User {
    return {
      id: randomUUID(),
      name: uniqueName('user'),
      admin: false,
      createdAt: new Date(),
      ...overrides,
    };
  }

  function newToken(user: User, overrides: Partial<AccessToken> = {}): AccessToken {
    return {
      id: randomUUID(),
      userId: user.id,
      name: uniqueName('token'),
      secretHash: randomUUID().replaceAll('-', '').repeat(2),
      createdAt: new Date(),
      ...overrides,
    };
  }

  function newPermission(project: Project, user: User, role: Role): Permission {
    return {
      projectId: project.id,
      userId: user.id,
      role,
      grantedAt: new Date(),
      grantedBy: project.ownerId,
    };
  }

  type NewIngestion = Omit<Ingestion, 'sequence' | 'state'>;

  /** An ingestion as the offline engine commits it, files under the storage layout. */
  function newIngestion(featureSet: FeatureSet, overrides: Partial<NewIngestion> = {}) {
    const id = overrides.id ?? randomUUID();
    const major = overrides.major ?? featureSet.version.major;
    const ingestion: NewIngestion = {
      id,
      featureSetId: featureSet.id,
      major,
      source: 's3://landing/transactions.csv',
      format: 'csv',
      rowCount: 3,
      files: [0, 1].map((n) => `featuresets/${featureSet.id}/v${major}/${id}/part-${n}.parquet`),
      statistics: {
        amount: { count: 3, nulls: 0, min: 1.5, max: 9, mean: 4.5, stddev: 3.2, approxDistinct: 3 },
        ts: {
          count: 3,
          nulls: 0,
          min: '2024-01-01T00:00:00.000Z',
          max: '2024-01-03T00:00:00.000Z',
        },
        merchants: { count: 3, nulls: 1 },
      },
      committedAt: new Date(),
      committedBy: featureSet.ownerId,
      ...overrides,
    };
    return ingestion;
  }

  /** What `commitIngestion` returns for `ingestion`, given the sequence it assigned. */
  function committed(ingestion: NewIngestion, sequence: number): Ingestion {
    return { ...ingestion, sequence, state: 'committed' };
  }

  function newJob(overrides: Partial<Job> = {}): Job {
    return {
      id: randomUUID(),
      type: 'ingest',
      state: 'pending',
      progress: 0,
      request: { featureSet: 'transactions', source: 's3://landing/a.csv', options: { n: 1 } },
      cancelRequested: false,
      createdBy: randomUUID(),
      createdAt: new Date(),
      ...overrides,
    };
  }

  /** Follows `nextPageToken` to the end, checking every page's size. */
  async function collect<T>(
    list: (page: PageRequest) => Promise<Page<T>>,
    pageSize: number,
  ): Promise<{ items: T[]; pages: number }> {
    const items: T[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const page = await list(pageToken === undefined ? { pageSize } : { pageSize, pageToken });
      assert.ok(page.items.length <= pageSize, `a page holds at most ${pageSize} items`);
      items.push(...page.items);
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== undefined && pages < 1000);
    return { items, pages };
  }

  async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp) {
    await assert.rejects(promise, (error: Error & { code?: string }) => {
      assert.equal(error.code, code, `expected a ${code} error, got: ${error.message}`);
      if (message) assert.match(error.message, message);
      return true;
    });
  }

  /**
   * A listing refuses page tokens it cannot have returned with VALIDATION naming the page
   * token, before its database sees them: garbage, and forgeries shaped like a keyset token
   * (base64url of a JSON array) whose parts have the wrong count, type or form or hold a
   * NUL. `forged` adds sort keys that are wrong for this listing only.
   */
  async function refusesForgedPageTokens(
    list: (pageToken: string) => Promise<unknown>,
    forged: readonly unknown[][] = [],
  ) {
    const keyset = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');
    const tokens = [
      'garbage',
      'not a token!',
      '',
      ...[[1, 2], ['a', 'not-a-uuid'], ['\u0000'], ['a\u0000', randomUUID()], ...forged].map(
        keyset,
      ),
    ];
    for (const token of tokens) {
      await rejectsWith(list(token), 'VALIDATION', /page ?token/i);
    }
  }

  const names = (items: readonly { name: string }[]) => items.map((item) => item.name);
  const sorted = (values: readonly string[]) => [...values].sort();

  t.describe('MetadataStore conformance', () => {
    t.beforeAll(async () => {
      store = await factory();
    });
    t.afterAll(async () => {
      if (!store) return;
      for (const id of createdProjects) await store.deleteProject(id).catch(() => {});
      await store.close();
    });

    group('projects', 'projects', () => {
      t.it('inserts a project and reads it back by id and by name', async () => {
        const project = newProject({ description: 'Card fraud', tags: { team: 'risk' } });
        assert.deepEqual(await store.insertProject(project), project);
        createdProjects.push(project.id);
        assert.deepEqual(await store.getProject({ id: project.id }), project);
        assert.deepEqual(await store.getProject({ name: project.name }), project);
      });

      t.it('returns undefined for a missing project', async () => {
        assert.equal(await store.getProject({ id: randomUUID() }), undefined);
        assert.equal(await store.getProject({ name: uniqueName('missing') }), undefined);
      });

      t.it('refuses a duplicate name with ALREADY_EXISTS naming it', async () => {
        const project = await insertProject();
        await rejectsWith(
          store.insertProject(newProject({ name: project.name })),
          'ALREADY_EXISTS',
          new RegExp(project.name),
        );
        assert.deepEqual(await store.getProject({ name: project.name }), project);
      });

      t.it('update applies the patch and bumps the revision', async () => {
        const project = await insertProject({ tags: { a: '1' } });
        const updated = await store.updateProject(
          project.id,
          { description: 'new description', tags: { b: '2' } },
          project.revision,
        );
        assert.equal(updated.revision, project.revision + 1);
        assert.equal(updated.description, 'new description');
        assert.deepEqual(updated.tags, { b: '2' });
        assert.equal(updated.name, project.name);
        assert.equal(updated.ownerId, project.ownerId);
        assert.deepEqual(updated.createdAt, project.createdAt);
        assert.ok(updated.updatedAt >= project.updatedAt, 'updatedAt does not go back');
        const owner = randomUUID();
        const again = await store.updateProject(project.id, { ownerId: owner }, updated.revision);
        assert.equal(again.revision, project.revision + 2);
        assert.equal(again.ownerId, owner);
        assert.equal(again.description, 'new description', 'fields not in the patch are kept');
        assert.deepEqual(await store.getProject({ id: project.id }), again);
      });

      t.it('update with a stale revision is a CONFLICT and keeps the other change', async () => {
        const project = await insertProject();
        const first = await store.updateProject(
          project.id,
          { description: 'first' },
          project.revision,
        );
        await rejectsWith(
          store.updateProject(project.id, { description: 'second' }, project.revision),
          'CONFLICT',
          new RegExp(`${project.revision}[\\s\\S]*${first.revision}`),
        );
        assert.deepEqual(await store.getProject({ id: project.id }), first);
      });

      t.it('update and delete of a missing project are NOT_FOUND', async () => {
        await rejectsWith(store.updateProject(randomUUID(), { description: 'x' }, 1), 'NOT_FOUND');
        await rejectsWith(store.deleteProject(randomUUID()), 'NOT_FOUND');
      });

      t.it(
        'delete removes the project with its feature sets, versions and permissions',
        async () => {
          const project = await insertProject();
          const featureSet = await store.insertFeatureSet(newFeatureSet(project));
          await store.insertFeatureSetVersion(nextVersion(featureSet, 1, 1), featureSet.revision);
          const user = await store.insertUser(newUser());
          await store.putPermission(newPermission(project, user, 'editor'));
          await store.deleteProject(project.id);
          assert.equal(await store.getProject({ id: project.id }), undefined);
          assert.equal(await store.getProject({ name: project.name }), undefined);
          assert.equal(await store.getFeatureSetById(featureSet.id), undefined);
          assert.deepEqual(await store.listFeatureSetVersions(featureSet.id), []);
          assert.equal(await store.getPermission(project.id, user.id), undefined);
          assert.deepEqual(await store.listPermissions({ userId: user.id }), []);
          assert.deepEqual(await store.getUser({ id: user.id }), user, 'users outlive projects');
        },
      );

      t.it('lists by name in code-point order, filtered by name prefix', async () => {
        const prefix = uniqueName('list');
        for (const suffix of ['c', 'a_z', 'ab', 'b', 'a']) {
          await insertProject({ name: `${prefix}_${suffix}` });
        }
        await insertProject({ name: `${prefix}x` });
        const page = await store.listProjects({ namePrefix: `${prefix}_` });
        assert.deepEqual(
          names(page.items),
          ['a', 'a_z', 'ab', 'b', 'c'].map((suffix) => `${prefix}_${suffix}`),
        );
        assert.equal(page.nextPageToken, undefined);
      });

      t.it('pages through a listing without gaps or repeats', async () => {
        const prefix = uniqueName('page');
        const created: string[] = [];
        for (let i = 6; i >= 0; i--)
          created.push((await insertProject({ name: `${prefix}_${i}` })).name);
        const { items, pages } = await collect(
          (page) => store.listProjects({ ...page, namePrefix: prefix }),
          3,
        );
        assert.deepEqual(names(items), sorted(created));
        assert.equal(pages, 3);
        const exact = await collect(
          (page) => store.listProjects({ ...page, namePrefix: prefix }),
          7,
        );
        assert.equal(exact.items.length, 7);
        assert.ok(exact.pages <= 2, 'a last, empty page is allowed at most');
      });

      t.it(
        'rejects page sizes outside 1..1000 and foreign page tokens with VALIDATION',
        async () => {
          await rejectsWith(store.listProjects({ pageSize: 1001 }), 'VALIDATION', /pageSize/);
          await rejectsWith(store.listProjects({ pageSize: 0 }), 'VALIDATION', /pageSize/);
          await rejectsWith(store.listProjects({ pageToken: 'not a token!' }), 'VALIDATION');
          const prefix = uniqueName('max');
          await insertProject({ name: `${prefix}_a` });
          const page = await store.listProjects({ pageSize: 1000, namePrefix: prefix });
          assert.equal(page.items.length, 1);
        },
      );

      t.it('refuses forged page tokens with VALIDATION naming the page token', async () => {
        await refusesForgedPageTokens((pageToken) => store.listProjects({ pageToken }));
      });

      t.it('matches % and _ in filters literally', async () => {
        const prefix = uniqueName('esc');
        const a = await insertProject({ name: `${prefix}_a_1`, description: 'at 100% recall' });
        const b = await insertProject({ name: `${prefix}_ab1`, description: 'under_score' });
        await insertProject({ name: `${prefix}_ac1`, description: 'plain' });
        const list = async (filter: { namePrefix: string; text?: string }) =>
          names((await store.listProjects(filter)).items);
        assert.deepEqual(await list({ namePrefix: `${prefix}_a_` }), [a.name]);
        assert.deepEqual(await list({ namePrefix: `${prefix}%` }), []);
        assert.deepEqual(await list({ namePrefix: prefix, text: '%' }), [a.name]);
        assert.deepEqual(await list({ namePrefix: prefix, text: '_' }), [b.name]);
      });

      t.it('filters by owner, tag, tag value, text and ids', async () => {
        const prefix = uniqueName('filter');
        const owner = randomUUID();
        const a = await insertProject({
          name: `${prefix}_a`,
          ownerId: owner,
          tags: { team: 'risk', tier: 'gold' },
          description: 'Detects CARD fraud',
        });
        const b = await insertProject({
          name: `${prefix}_b`,
          tags: { team: 'growth' },
          description: 'Marketing',
        });
        const c = await insertProject({ name: `${prefix}_c`, ownerId: owner, description: '' });
        const list = async (filter: Parameters<MetadataStore['listProjects']>[0]) =>
          names((await store.listProjects({ namePrefix: prefix, ...filter })).items);
        assert.deepEqual(await list({ ownerId: owner }), [a.name, c.name]);
        assert.deepEqual(await list({ tag: { key: 'team' } }), [a.name, b.name]);
        assert.deepEqual(await list({ tag: { key: 'team', value: 'risk' } }), [a.name]);
        assert.deepEqual(await list({ tag: { key: 'tier', value: 'silver' } }), []);
        assert.deepEqual(await list({ text: 'card FRAUD' }), [a.name]);
        assert.deepEqual(await list({ text: 'ketin' }), [b.name]);
        assert.deepEqual(await list({ ids: [a.id, b.id, randomUUID()] }), [a.name, b.name]);
        assert.deepEqual(await list({ ids: [] }), []);
        assert.deepEqual(await list({ ownerId: owner, tag: { key: 'team' } }), [a.name]);
      });
    });

    group('featureSets', 'feature sets', () => {
      let project: Project;
      t.beforeAll(async () => {
        project = await insertProject();
      });

      t.it('inserts a feature set with its first version and reads it back', async () => {
        const featureSet = newFeatureSet(project);
        assert.deepEqual(await store.insertFeatureSet(featureSet), featureSet);
        assert.deepEqual(await store.getFeatureSet(project.id, featureSet.name), featureSet);
        assert.deepEqual(await store.getFeatureSetById(featureSet.id), featureSet);
        assert.deepEqual(await store.listFeatureSetVersions(featureSet.id), [
          versionOf(featureSet),
        ]);
      });

      t.it('keeps timeToLive when set and leaves it absent otherwise', async () => {
        const withTtl = await store.insertFeatureSet(
          newFeatureSet(project, { timeToLive: 'P30D' }),
        );
        assert.equal(withTtl.timeToLive, 'P30D');
        assert.equal((await store.getFeatureSetById(withTtl.id))?.timeToLive, 'P30D');
        const without = await store.insertFeatureSet(newFeatureSet(project));
        assert.equal('timeToLive' in without, false);
        const read = await store.getFeatureSetById(without.id);
        assert.ok(read && !('timeToLive' in read), 'timeToLive is absent, not null');
      });

      t.it('refuses a duplicate name in one project and allows it in another', async () => {
        const featureSet = await store.insertFeatureSet(newFeatureSet(project));
        await rejectsWith(
          store.insertFeatureSet(newFeatureSet(project, { name: featureSet.name })),
          'ALREADY_EXISTS',
          new RegExp(featureSet.name),
        );
        const other = await insertProject();
        const copy = newFeatureSet(other, { name: featureSet.name });
        assert.deepEqual(await store.insertFeatureSet(copy), copy);
      });

      t.it('refuses a feature set in a missing project with NOT_FOUND', async () => {
        const ghost = newProject();
        await rejectsWith(store.insertFeatureSet(newFeatureSet(ghost)), 'NOT_FOUND');
      });

      t.it('appends versions and reads the latest, a major, or an exact version', async () => {
        const v10 = await store.insertFeatureSet(newFeatureSet(project, { tags: { stage: 'a' } }));
        const v11 = await store.insertFeatureSetVersion(
          nextVersion(v10, 1, 1, { description: 'described', tags: { stage: 'b' } }),
          v10.revision,
        );
        assert.deepEqual(v11.version, { major: 1, minor: 1 });
        assert.deepEqual(v11.latestVersion, { major: 1, minor: 1 });
        assert.equal(v11.revision, v10.revision + 1);
        assert.equal(v11.description, 'described');
        assert.deepEqual(v11.tags, { stage: 'b' });
        assert.deepEqual(v11.changes, ['version 1.1']);
        const schema2: FeatureSetSchema = {
          ...SCHEMA,
          features: [...SCHEMA.features, { name: 'country', type: 'string' }],
        };
        const v20 = await store.insertFeatureSetVersion(
          nextVersion(v11, 2, 0, { schema: schema2 }),
          v11.revision,
        );
        assert.equal(v20.revision, v10.revision + 2);
        assert.deepEqual(v20.schema, schema2);

        const latest = await store.getFeatureSet(project.id, v10.name);
        assert.deepEqual(latest, v20);
        assert.deepEqual(await store.getFeatureSetById(v10.id), v20);
        const major1 = await store.getFeatureSet(project.id, v10.name, { major: 1 });
        assert.deepEqual(major1?.version, { major: 1, minor: 1 });
        assert.deepEqual(major1?.latestVersion, { major: 2, minor: 0 });
        assert.equal(major1?.revision, v20.revision);
        assert.equal(major1?.description, 'described');
        const exact = await store.getFeatureSet(project.id, v10.name, { major: 1, minor: 0 });
        assert.deepEqual(exact?.version, { major: 1, minor: 0 });
        assert.deepEqual(exact?.schema, SCHEMA);
        assert.deepEqual(exact?.tags, { stage: 'a' });
        assert.equal(await store.getFeatureSet(project.id, v10.name, { major: 3 }), undefined);
        assert.equal(
          await store.getFeatureSet(project.id, v10.name, { major: 1, minor: 5 }),
          undefined,
        );
        assert.equal(await store.getFeatureSet(project.id, uniqueName('missing')), undefined);
        assert.equal(await store.getFeatureSetById(randomUUID()), undefined);
      });

      t.it('a new version with a stale revision is a CONFLICT', async () => {
        const featureSet = await store.insertFeatureSet(newFeatureSet(project));
        const next = await store.insertFeatureSetVersion(
          nextVersion(featureSet, 1, 1),
          featureSet.revision,
        );
        await rejectsWith(
          store.insertFeatureSetVersion(nextVersion(featureSet, 1, 2), featureSet.revision),
          'CONFLICT',
          /revision/,
        );
        assert.deepEqual(await store.getFeatureSetById(featureSet.id), next);
      });

      t.it('a version that already exists is a CONFLICT', async () => {
        const featureSet = await store.insertFeatureSet(newFeatureSet(project));
        await rejectsWith(
          store.insertFeatureSetVersion(nextVersion(featureSet, 1, 0), featureSet.revision),
          'CONFLICT',
          /1\.0/,
        );
        assert.equal((await store.listFeatureSetVersions(featureSet.id)).length, 1);
        assert.equal((await store.getFeatureSetById(featureSet.id))?.revision, featureSet.revision);
      });

      t.it('a new version of a missing feature set is NOT_FOUND', async () => {
        const ghost = newFeatureSet(project);
        await rejectsWith(store.insertFeatureSetVersion(nextVersion(ghost, 1, 1), 1), 'NOT_FOUND');
      });

      t.it('lists versions oldest first with their changes', async () => {
        const featureSet = await store.insertFeatureSet(newFeatureSet(project));
        const v11 = nextVersion(featureSet, 1, 1, { changes: ['description changed'] });
        const after11 = await store.insertFeatureSetVersion(v11, featureSet.revision);
        const v20 = nextVersion(featureSet, 2, 0, {
          changes: ['feature amount removed', 'feature country added'],
          timeToLive: 'PT12H',
        });
        await store.insertFeatureSetVersion(v20, after11.revision);
        assert.deepEqual(await store.listFeatureSetVersions(featureSet.id), [
          versionOf(featureSet),
          v11,
          v20,
        ]);
        assert.deepEqual(await store.listFeatureSetVersions(randomUUID()), []);
      });

      t.it('lists the latest versions of a project in name order', async () => {
        const own = await insertProject();
        const b = await store.insertFeatureSet(newFeatureSet(own, { name: 'b_set' }));
        const a = await store.insertFeatureSet(newFeatureSet(own, { name: 'a_set' }));
        const a11 = await store.insertFeatureSetVersion(nextVersion(a, 1, 1), a.revision);
        const page = await store.listFeatureSets({ projectId: own.id });
        assert.deepEqual(page.items, [a11, b]);
        assert.equal(page.nextPageToken, undefined);
      });

      t.it('filters by tag of the latest version', async () => {
        const own = await insertProject();
        const moved = await store.insertFeatureSet(
          newFeatureSet(own, { name: 'moved', tags: { team: 'risk' } }),
        );
        await store.insertFeatureSetVersion(
          nextVersion(moved, 1, 1, { tags: { team: 'growth' } }),
          moved.revision,
        );
        await store.insertFeatureSet(newFeatureSet(own, { name: 'stays', tags: { team: 'risk' } }));
        await store.insertFeatureSet(newFeatureSet(own, { name: 'untagged', tags: {} }));
        const list = async (tag: { key: string; value?: string }) =>
          names((await store.listFeatureSets({ projectId: own.id, tag })).items);
        assert.deepEqual(await list({ key: 'team', value: 'risk' }), ['stays']);
        assert.deepEqual(await list({ key: 'team', value: 'growth' }), ['moved']);
        assert.deepEqual(await list({ key: 'team' }), ['moved', 'stays']);
        assert.deepEqual(await list({ key: 'other' }), []);
      });

      t.it('filters by a feature name of the latest schema', async () => {
        const own = await insertProject();
        const gained = await store.insertFeatureSet(newFeatureSet(own, { name: 'gained' }));
        await store.insertFeatureSetVersion(
          nextVersion(gained, 2, 0, {
            schema: {
              ...SCHEMA,
              features: [...SCHEMA.features, { name: 'country', type: 'string' }],
            },
          }),
          gained.revision,
        );
        await store.insertFeatureSet(newFeatureSet(own, { name: 'plain' }));
        const list = async (feature: string) =>
          names((await store.listFeatureSets({ projectId: own.id, feature })).items);
        assert.deepEqual(await list('country'), ['gained']);
        assert.deepEqual(await list('amount'), ['gained', 'plain']);
        assert.deepEqual(await list('amoun'), [], 'feature names match whole');
      });

      t.it('filters by text in the name, the description or a feature description', async () => {
        const own = await insertProject();
        await store.insertFeatureSet(
          newFeatureSet(own, { name: 'card_payments', description: 'plain' }),
        );
        await store.insertFeatureSet(
          newFeatureSet(own, { name: 'described', description: 'All CARD swipes, 100% of them' }),
        );
        await store.insertFeatureSet(
          newFeatureSet(own, {
            name: 'featured',
            description: 'plain',
            schema: {
              ...SCHEMA,
              features: [...SCHEMA.features, { name: 'x', type: 'int64', description: 'Card age' }],
            },
          }),
        );
        await store.insertFeatureSet(
          newFeatureSet(own, { name: 'unrelated', description: 'plain' }),
        );
        const list = async (text: string) =>
          names((await store.listFeatureSets({ projectId: own.id, text })).items);
        assert.deepEqual(await list('card'), ['card_payments', 'described', 'featured']);
        assert.deepEqual(await list('CARD AGE'), ['featured']);
        assert.deepEqual(await list('100%'), ['described']);
        assert.deepEqual(await list('0% of'), ['described']);
      });

      t.it('filters by name prefix and by project ids', async () => {
        const one = await insertProject();
        const two = await insertProject();
        const three = await insertProject();
        const name = uniqueName('shared');
        const inOne = await store.insertFeatureSet(newFeatureSet(one, { name }));
        const inTwo = await store.insertFeatureSet(newFeatureSet(two, { name }));
        await store.insertFeatureSet(newFeatureSet(three, { name }));
        const more = await store.insertFeatureSet(newFeatureSet(one, { name: `${name}_more` }));
        const page = await store.listFeatureSets({
          namePrefix: name,
          projectIds: [one.id, two.id],
        });
        assert.deepEqual(names(page.items), [name, name, `${name}_more`]);
        assert.deepEqual(
          sorted(page.items.slice(0, 2).map((set) => set.id)),
          sorted([inOne.id, inTwo.id]),
        );
        assert.equal(page.items[2]?.id, more.id);
        const exact = await store.listFeatureSets({ namePrefix: `${name}_`, projectIds: [one.id] });
        assert.deepEqual(names(exact.items), [`${name}_more`]);
        assert.deepEqual((await store.listFeatureSets({ projectIds: [] })).items, []);
      });

      t.it('pages through feature sets without gaps or repeats', async () => {
        const one = await insertProject();
        const two = await insertProject();
        const prefix = uniqueName('paged');
        const created: string[] = [];
        for (const suffix of ['e', 'b', 'd', 'a', 'c']) {
          // The same name in two projects: pages must cut between them without losing one.
          for (const owner of [one, two]) {
            const set = await store.insertFeatureSet(
              newFeatureSet(owner, { name: `${prefix}_${suffix}` }),
            );
            created.push(set.id);
          }
        }
        const { items, pages } = await collect(
          (page) => store.listFeatureSets({ ...page, namePrefix: prefix }),
          3,
        );
        assert.equal(pages, 4);
        assert.deepEqual(sorted(items.map((set) => set.id)), sorted(created));
        assert.deepEqual(names(items), sorted(names(items)));
      });

      t.it('refuses forged page tokens with VALIDATION naming the page token', async () => {
        await refusesForgedPageTokens(
          (pageToken) => store.listFeatureSets({ pageToken }),
          [
            ['2026-01-01T00:00:00.000Z', 'not-a-uuid'],
            ['a', `${randomUUID()}x`],
          ],
        );
      });

      t.it(
        'delete removes the feature set and its versions; a missing one is NOT_FOUND',
        async () => {
          const featureSet = await store.insertFeatureSet(newFeatureSet(project));
          await store.insertFeatureSetVersion(nextVersion(featureSet, 1, 1), featureSet.revision);
          await store.deleteFeatureSet(featureSet.id);
          assert.equal(await store.getFeatureSetById(featureSet.id), undefined);
          assert.equal(await store.getFeatureSet(project.id, featureSet.name), undefined);
          assert.deepEqual(await store.listFeatureSetVersions(featureSet.id), []);
          await rejectsWith(store.deleteFeatureSet(featureSet.id), 'NOT_FOUND');
          const again = newFeatureSet(project, { name: featureSet.name });
          assert.deepEqual(await store.insertFeatureSet(again), again, 'the name is free again');
        },
      );
    });

    group('users', 'users', () => {
      t.it('inserts a user and reads it by id, name and OIDC subject', async () => {
        const user = newUser({ oidcSubject: randomUUID(), email: 'ada@example.com', admin: true });
        assert.deepEqual(await store.insertUser(user), user);
        assert.deepEqual(await store.getUser({ id: user.id }), user);
        assert.deepEqual(await store.getUser({ name: user.name }), user);
        assert.deepEqual(await store.getUser({ oidcSubject: user.oidcSubject! }), user);
        assert.equal(await store.getUser({ id: randomUUID() }), undefined);
        assert.equal(await store.getUser({ name: uniqueName('missing') }), undefined);
        assert.equal(await store.getUser({ oidcSubject: randomUUID() }), undefined);
      });

      t.it('leaves optional fields absent when unset', async () => {
        const user = newUser();
        const read = await store.insertUser(user);
        assert.deepEqual(read, user);
        assert.equal('email' in read, false);
        assert.equal('oidcSubject' in read, false);
      });

      t.it('refuses a duplicate name or OIDC subject with ALREADY_EXISTS', async () => {
        const user = await store.insertUser(newUser({ oidcSubject: randomUUID() }));
        await rejectsWith(
          store.insertUser(newUser({ name: user.name })),
          'ALREADY_EXISTS',
          new RegExp(user.name),
        );
        await rejectsWith(
          store.insertUser(newUser({ oidcSubject: user.oidcSubject! })),
          'ALREADY_EXISTS',
        );
      });

      t.it('updates admin and email; a missing user is NOT_FOUND', async () => {
        const user = await store.insertUser(newUser());
        const admin = await store.updateUser(user.id, { admin: true });
        assert.deepEqual(admin, { ...user, admin: true });
        const emailed = await store.updateUser(user.id, { email: 'bob@example.com' });
        assert.deepEqual(emailed, { ...user, admin: true, email: 'bob@example.com' });
        assert.deepEqual(await store.getUser({ id: user.id }), emailed);
        await rejectsWith(store.updateUser(randomUUID(), { admin: true }), 'NOT_FOUND');
      });

      t.it('lists users in name order across pages', async () => {
        const created = [];
        for (let i = 0; i < 3; i++) created.push(await store.insertUser(newUser()));
        // Users cannot be deleted, so a shared database holds many: read them in big pages,
        // and check the page boundaries on the first few small pages only.
        const { items } = await collect((page) => store.listUsers(page), 1000);
        const all = names(items);
        assert.deepEqual(all, sorted(all), 'ordered by name');
        assert.equal(new Set(all).size, all.length, 'no repeats');
        for (const user of created) assert.ok(all.includes(user.name), `${user.name} is listed`);
        const small: string[] = [];
        let pageToken: string | undefined;
        for (let i = 0; i < 3 && (i === 0 || pageToken !== undefined); i++) {
          const page = await store.listUsers(
            pageToken ? { pageSize: 2, pageToken } : { pageSize: 2 },
          );
          assert.ok(page.items.length <= 2);
          small.push(...names(page.items));
          pageToken = page.nextPageToken;
        }
        assert.deepEqual(small, all.slice(0, small.length), 'small pages follow the same order');
        assert.ok(small.length >= 3, 'the small pages cross a page boundary');
      });

      t.it('refuses forged page tokens with VALIDATION naming the page token', async () => {
        await refusesForgedPageTokens((pageToken) => store.listUsers({ pageToken }));
      });
    });

    group('tokens', 'access tokens', () => {
      let user: User;
      t.beforeAll(async () => {
        user = await store.insertUser(newUser());
      });

      t.it('inserts a token and reads it by id and by secret hash', async () => {
        const token = newToken(user, { expiresAt: new Date(Date.now() + 86_400_000) });
        assert.deepEqual(await store.insertToken(token), token);
        assert.deepEqual(await store.getToken(token.id), token);
        assert.deepEqual(await store.getTokenByHash(token.secretHash), token);
        assert.equal(await store.getToken(randomUUID()), undefined);
        assert.equal(await store.getTokenByHash('0'.repeat(64)), undefined);
        const plain = await store.insertToken(newToken(user));
        for (const field of ['expiresAt', 'revokedAt', 'lastUsedAt']) {
          assert.equal(field in plain, false, `${field} is absent, not null`);
        }
      });

      t.it('lists the tokens of one user by name', async () => {
        const owner = await store.insertUser(newUser());
        const other = await store.insertUser(newUser());
        const b = await store.insertToken(newToken(owner, { name: 'b_token' }));
        const a = await store.insertToken(newToken(owner, { name: 'a_token' }));
        await store.insertToken(newToken(other));
        assert.deepEqual(await store.listTokens(owner.id), [a, b]);
        assert.deepEqual(await store.listTokens(randomUUID()), []);
      });

      t.it('revokes and touches tokens; a missing token is NOT_FOUND', async () => {
        const token = await store.insertToken(newToken(user));
        const used = new Date(Date.now() + 1000);
        const touched = await store.updateToken(token.id, { lastUsedAt: used });
        assert.deepEqual(touched, { ...token, lastUsedAt: used });
        const revokedAt = new Date(Date.now() + 2000);
        const revoked = await store.updateToken(token.id, { revokedAt });
        assert.deepEqual(revoked, { ...token, lastUsedAt: used, revokedAt });
        assert.deepEqual(await store.getTokenByHash(token.secretHash), revoked);
        await rejectsWith(store.updateToken(randomUUID(), { revokedAt }), 'NOT_FOUND');
      });

      t.it('refuses a duplicate secret hash and an unknown user', async () => {
        const token = await store.insertToken(newToken(user));
        await rejectsWith(
          store.insertToken(newToken(user, { secretHash: token.secretHash })),
          'ALREADY_EXISTS',
        );
        await rejectsWith(store.insertToken(newToken(newUser())), 'NOT_FOUND');
      });
    });

    group('permissions', 'permissions', () => {
      let project: Project;
      let user: User;
      t.beforeAll(async () => {
        project = await insertProject();
        user = await store.insertUser(newUser());
      });

      t.it('grants, reads and replaces a role', async () => {
        const granted = newPermission(project, user, 'viewer');
        assert.deepEqual(await store.putPermission(granted), granted);
        assert.deepEqual(await store.getPermission(project.id, user.id), granted);
        const replaced = { ...newPermission(project, user, 'owner'), grantedBy: randomUUID() };
        assert.deepEqual(await store.putPermission(replaced), replaced);
        assert.deepEqual(await store.getPermission(project.id, user.id), replaced);
        assert.deepEqual(await store.listPermissions({ projectId: project.id, userId: user.id }), [
          replaced,
        ]);
        assert.equal(await store.getPermission(project.id, randomUUID()), undefined);
      });

      t.it('lists by project and by user', async () => {
        const one = await insertProject({ name: `${uniqueName('perm')}_a` });
        const two = await insertProject({ name: `${one.name}_b` });
        const ann = await store.insertUser(newUser({ name: `${uniqueName('ann')}` }));
        const bob = await store.insertUser(newUser({ name: `${ann.name}_bob` }));
        const grants = [
          newPermission(one, bob, 'editor'),
          newPermission(one, ann, 'consumer'),
          newPermission(two, ann, 'sensitive_consumer'),
        ];
        for (const grant of grants) await store.putPermission(grant);
        assert.deepEqual(await store.listPermissions({ projectId: one.id }), [
          grants[1],
          grants[0],
        ]);
        assert.deepEqual(await store.listPermissions({ userId: ann.id }), [grants[1], grants[2]]);
        assert.deepEqual(await store.listPermissions({ userId: bob.id }), [grants[0]]);
        assert.deepEqual(await store.listPermissions({ projectId: randomUUID() }), []);
      });

      t.it('delete returns whether there was something to revoke', async () => {
        const other = await store.insertUser(newUser());
        await store.putPermission(newPermission(project, other, 'consumer'));
        assert.equal(await store.deletePermission(project.id, other.id), true);
        assert.equal(await store.getPermission(project.id, other.id), undefined);
        assert.equal(await store.deletePermission(project.id, other.id), false);
      });

      t.it('refuses unknown projects, unknown users and unknown roles', async () => {
        await rejectsWith(
          store.putPermission(newPermission(newProject(), user, 'viewer')),
          'NOT_FOUND',
        );
        await rejectsWith(
          store.putPermission(newPermission(project, newUser(), 'viewer')),
          'NOT_FOUND',
        );
        await rejectsWith(
          store.putPermission(newPermission(project, user, 'superuser' as Role)),
          'VALIDATION',
        );
      });
    });

    group('ingestions', 'ingestions', () => {
      let project: Project;
      let featureSet: FeatureSet;
      t.beforeAll(async () => {
        project = await insertProject();
        featureSet = await store.insertFeatureSet(newFeatureSet(project));
      });

      t.it('commits an ingestion with a sequence and reads it back', async () => {
        const ingestion = newIngestion(featureSet);
        const result = await store.commitIngestion(ingestion);
        assert.ok(Number.isSafeInteger(result.sequence), 'the sequence is a JS integer');
        assert.deepEqual(result, committed(ingestion, result.sequence));
        assert.deepEqual(await store.getIngestion(ingestion.id), result);
        for (const field of ['idempotencyKey', 'jobId', 'revertedAt', 'revertedBy']) {
          assert.equal(field in result, false, `${field} is absent, not null`);
        }
        const keyed = newIngestion(featureSet, { idempotencyKey: 'batch-1', jobId: randomUUID() });
        const withKey = await store.commitIngestion(keyed);
        assert.deepEqual(withKey, committed(keyed, withKey.sequence));
        assert.deepEqual(await store.getIngestion(keyed.id), withKey);
        assert.equal(await store.getIngestion(randomUUID()), undefined);
      });

      t.it('sequences increase across commits and across feature sets', async () => {
        const other = await store.insertFeatureSet(newFeatureSet(project));
        const sequences: number[] = [];
        for (const set of [featureSet, other, featureSet, other]) {
          sequences.push((await store.commitIngestion(newIngestion(set))).sequence);
        }
        for (let i = 1; i < sequences.length; i++) {
          assert.ok(sequences[i]! > sequences[i - 1]!, `later commits have greater sequences`);
        }
      });

      t.it('a duplicate idempotency key is ALREADY_EXISTS and inserts nothing', async () => {
        const own = await store.insertFeatureSet(newFeatureSet(project));
        const key = uniqueName('key');
        const first = await store.commitIngestion(newIngestion(own, { idempotencyKey: key }));
        const retry = newIngestion(own, { idempotencyKey: key });
        await rejectsWith(
          store.commitIngestion(retry),
          'ALREADY_EXISTS',
          new RegExp(`${own.id}[\\s\\S]*${key}|${key}[\\s\\S]*${own.id}`),
        );
        assert.equal(await store.getIngestion(retry.id), undefined);
        assert.deepEqual(await store.listIngestions(own.id), [first]);
        assert.deepEqual(await store.getIngestionByIdempotencyKey(own.id, key), first);
        assert.equal(await store.getIngestionByIdempotencyKey(own.id, 'other'), undefined);
        const elsewhere = await store.insertFeatureSet(newFeatureSet(project));
        const same = newIngestion(elsewhere, { idempotencyKey: key });
        const there = await store.commitIngestion(same);
        assert.deepEqual(there, committed(same, there.sequence), 'keys are per feature set');
        assert.deepEqual(await store.getIngestionByIdempotencyKey(elsewhere.id, key), there);
      });

      t.it('ingestions without a key never collide', async () => {
        const own = await store.insertFeatureSet(newFeatureSet(project));
        await store.commitIngestion(newIngestion(own));
        await store.commitIngestion(newIngestion(own));
        assert.equal((await store.listIngestions(own.id)).length, 2);
      });

      t.it('lists by feature set and by major version, by sequence', async () => {
        const own = await store.insertFeatureSet(newFeatureSet(project));
        const a = await store.commitIngestion(newIngestion(own, { major: 1 }));
        const b = await store.commitIngestion(newIngestion(own, { major: 2 }));
        const c = await store.commitIngestion(newIngestion(own, { major: 1 }));
        await store.commitIngestion(newIngestion(featureSet));
        assert.deepEqual(await store.listIngestions(own.id), [a, b, c]);
        assert.deepEqual(await store.listIngestions(own.id, 1), [a, c]);
        assert.deepEqual(await store.listIngestions(own.id, 2), [b]);
        assert.deepEqual(await store.listIngestions(own.id, 3), []);
        assert.deepEqual(await store.listIngestions(randomUUID()), []);
      });

      t.it('revert marks the ingestion and is idempotent', async () => {
        const own = await store.insertFeatureSet(newFeatureSet(project));
        const ingestion = await store.commitIngestion(newIngestion(own));
        const at = new Date(Date.now() + 1000);
        const by = randomUUID();
        const reverted = await store.revertIngestion(ingestion.id, at, by);
        assert.deepEqual(reverted, {
          ...ingestion,
          state: 'reverted',
          revertedAt: at,
          revertedBy: by,
        });
        assert.deepEqual(await store.getIngestion(ingestion.id), reverted);
        const again = await store.revertIngestion(ingestion.id, new Date(), randomUUID());
        assert.deepEqual(again, reverted, 'a second revert returns the first one unchanged');
        assert.deepEqual(await store.listIngestions(own.id), [reverted], 'still listed');
        await rejectsWith(store.revertIngestion(randomUUID(), at, by), 'NOT_FOUND');
      });

      t.it('restores an ingestion as recorded elsewhere, sequence and revert kept', async () => {
        const own = await store.insertFeatureSet(newFeatureSet(project));
        const last = await store.commitIngestion(newIngestion(own));
        const restored: Ingestion = {
          ...newIngestion(own, { idempotencyKey: 'restored', jobId: randomUUID() }),
          sequence: last.sequence + 1000,
          state: 'reverted',
          revertedAt: new Date(Date.now() - 1000),
          revertedBy: own.ownerId,
        };
        assert.deepEqual(await store.restoreIngestion(restored), restored);
        assert.deepEqual(await store.getIngestion(restored.id), restored);
        const later = await store.commitIngestion(newIngestion(own));
        assert.ok(later.sequence > restored.sequence, 'later commits follow the restored sequence');
        const taken = { ...restored, id: randomUUID(), idempotencyKey: 'other' };
        await rejectsWith(store.restoreIngestion(taken), 'ALREADY_EXISTS');
        const keyTaken = { ...restored, id: randomUUID(), sequence: later.sequence + 1000 };
        await rejectsWith(store.restoreIngestion(keyTaken), 'ALREADY_EXISTS');
        assert.deepEqual(await store.listIngestions(own.id), [last, restored, later]);
      });

      t.it('lists the files of every ingestion of a feature set, reverted ones too', async () => {
        const own = await store.insertFeatureSet(newFeatureSet(project));
        const a = await store.commitIngestion(newIngestion(own));
        const b = await store.commitIngestion(newIngestion(own, { major: 2 }));
        const empty = await store.commitIngestion(newIngestion(own, { files: [], rowCount: 0 }));
        await store.revertIngestion(a.id, new Date(), own.ownerId);
        await store.commitIngestion(newIngestion(featureSet));
        assert.deepEqual(
          sorted(await store.listIngestionFiles(own.id)),
          sorted([...a.files, ...b.files]),
        );
        assert.deepEqual(empty.files, []);
        assert.deepEqual(await store.listIngestionFiles(randomUUID()), []);
      });

      t.it('refuses an ingestion of a missing feature set with NOT_FOUND', async () => {
        const ghost = newFeatureSet(project);
        const ingestion = newIngestion(ghost);
        await rejectsWith(store.commitIngestion(ingestion), 'NOT_FOUND');
        assert.equal(await store.getIngestion(ingestion.id), undefined);
      });

      t.it('deleting the feature set or its project deletes its ingestions', async () => {
        const own = await store.insertFeatureSet(newFeatureSet(project));
        const gone = await store.commitIngestion(newIngestion(own, { idempotencyKey: 'k' }));
        await store.deleteFeatureSet(own.id);
        assert.equal(await store.getIngestion(gone.id), undefined);
        assert.deepEqual(await store.listIngestions(own.id), []);
        assert.deepEqual(await store.listIngestionFiles(own.id), []);
        assert.equal(await store.getIngestionByIdempotencyKey(own.id, 'k'), undefined);
        const doomed = await insertProject();
        const set = await store.insertFeatureSet(newFeatureSet(doomed));
        const also = await store.commitIngestion(newIngestion(set));
        await store.deleteProject(doomed.id);
        assert.equal(await store.getIngestion(also.id), undefined);
        assert.deepEqual(await store.listIngestions(set.id), []);
      });

      t.it('a commit inside a failed transaction leaves nothing', async () => {
        const ingestion = newIngestion(featureSet, { idempotencyKey: uniqueName('tx') });
        const boom = new Error('boom');
        await assert.rejects(
          store.transaction(async (tx) => {
            const inside = await tx.commitIngestion(ingestion);
            assert.deepEqual(await tx.getIngestion(ingestion.id), inside);
            throw boom;
          }),
          (error) => error === boom,
        );
        assert.equal(await store.getIngestion(ingestion.id), undefined);
        const retried = await store.commitIngestion(ingestion);
        assert.equal(retried.id, ingestion.id, 'the key is free again');
      });

      t.it('concurrent commits get distinct sequences', async () => {
        const own = await store.insertFeatureSet(newFeatureSet(project));
        const results = await Promise.all(
          Array.from({ length: 10 }, () => store.commitIngestion(newIngestion(own))),
        );
        const sequences = results.map((ingestion) => ingestion.sequence);
        assert.equal(new Set(sequences).size, 10, 'ten distinct sequences');
        const listed = await store.listIngestions(own.id);
        assert.deepEqual(
          listed.map((ingestion) => ingestion.sequence),
          [...sequences].sort((a, b) => a - b),
        );
      });

      t.it('of two racing commits with one idempotency key, exactly one wins', async () => {
        const own = await store.insertFeatureSet(newFeatureSet(project));
        const key = uniqueName('race');
        const results = await Promise.allSettled([
          store.commitIngestion(newIngestion(own, { idempotencyKey: key })),
          store.commitIngestion(newIngestion(own, { idempotencyKey: key })),
        ]);
        const won = results.filter((result) => result.status === 'fulfilled');
        const lost = results.filter((result) => result.status === 'rejected');
        assert.equal(won.length, 1, 'one commit wins');
        assert.equal(lost.length, 1, 'the other loses');
        assert.equal((lost[0]!.reason as { code?: string }).code, 'ALREADY_EXISTS');
        assert.deepEqual(await store.listIngestions(own.id), [won[0]!.value]);
      });
    });

    group('pendingOnlineApplies', 'pending online applies', () => {
      let project: Project;
      t.beforeAll(async () => {
        project = await insertProject();
      });
      const ids = (ingestions: readonly Ingestion[]) => ingestions.map((i) => i.id);

      t.it('a commit records its online apply as pending when asked; clear ends it', async () => {
        const own = await store.insertFeatureSet(newFeatureSet(project));
        const plain = await store.commitIngestion(newIngestion(own));
        const pending = await store.commitIngestion(newIngestion(own), {
          onlineApplyPending: true,
        });
        assert.deepEqual(await store.listPendingOnlineApplies({ featureSetId: own.id }), [pending]);
        assert.ok(
          ids(await store.listPendingOnlineApplies()).includes(pending.id),
          'listed without a filter too',
        );
        assert.equal(await store.clearPendingOnlineApply(plain.id), false, 'never pending');
        assert.equal(await store.clearPendingOnlineApply(pending.id), true);
        assert.equal(await store.clearPendingOnlineApply(pending.id), false, 'already cleared');
        assert.equal(await store.clearPendingOnlineApply(randomUUID()), false);
        assert.equal(await store.clearPendingOnlineApply('not-a-uuid'), false);
        assert.deepEqual(await store.listPendingOnlineApplies({ featureSetId: own.id }), []);
        assert.deepEqual(await store.listPendingOnlineApplies({ featureSetId: 'nope' }), []);
      });

      t.it('lists by sequence, per feature set, reverted ones too', async () => {
        const own = await store.insertFeatureSet(newFeatureSet(project));
        const other = await store.insertFeatureSet(newFeatureSet(project));
        const pending = { onlineApplyPending: true };
        const a = await store.commitIngestion(newIngestion(own), pending);
        const b = await store.commitIngestion(newIngestion(other), pending);
        const c = await store.commitIngestion(newIngestion(own, { major: 2 }), pending);
        const reverted = await store.revertIngestion(a.id, new Date(), own.ownerId);
        assert.deepEqual(await store.listPendingOnlineApplies({ featureSetId: own.id }), [
          reverted,
          c,
        ]);
        assert.deepEqual(await store.listPendingOnlineApplies({ featureSetId: other.id }), [b]);
        const all = ids(await store.listPendingOnlineApplies());
        assert.deepEqual(
          all.filter((id) => [a.id, b.id, c.id].includes(id)),
          [a.id, b.id, c.id],
          'by sequence across feature sets',
        );
      });

      t.it(
        'commits with its ingestion: a failed transaction or a lost key records none',
        async () => {
          const own = await store.insertFeatureSet(newFeatureSet(project));
          const boom = new Error('boom');
          await assert.rejects(
            store.transaction(async (tx) => {
              const inside = await tx.commitIngestion(newIngestion(own), {
                onlineApplyPending: true,
              });
              assert.deepEqual(await tx.listPendingOnlineApplies({ featureSetId: own.id }), [
                inside,
              ]);
              throw boom;
            }),
            (error) => error === boom,
          );
          assert.deepEqual(await store.listPendingOnlineApplies({ featureSetId: own.id }), []);
          const key = uniqueName('key');
          const first = await store.commitIngestion(newIngestion(own, { idempotencyKey: key }));
          await rejectsWith(
            store.commitIngestion(newIngestion(own, { idempotencyKey: key }), {
              onlineApplyPending: true,
            }),
            'ALREADY_EXISTS',
          );
          assert.deepEqual(await store.listPendingOnlineApplies({ featureSetId: own.id }), []);
          assert.equal(await store.clearPendingOnlineApply(first.id), false);
          const cleared = await store.commitIngestion(newIngestion(own), {
            onlineApplyPending: true,
          });
          await store.transaction(async (tx) => {
            assert.equal(await tx.clearPendingOnlineApply(cleared.id), true);
          });
          assert.deepEqual(await store.listPendingOnlineApplies({ featureSetId: own.id }), []);
        },
      );

      t.it('deleting the feature set or its project deletes its pending applies', async () => {
        const own = await store.insertFeatureSet(newFeatureSet(project));
        const gone = await store.commitIngestion(newIngestion(own), { onlineApplyPending: true });
        await store.deleteFeatureSet(own.id);
        assert.deepEqual(await store.listPendingOnlineApplies({ featureSetId: own.id }), []);
        assert.equal(ids(await store.listPendingOnlineApplies()).includes(gone.id), false);
        assert.equal(await store.clearPendingOnlineApply(gone.id), false);
        const doomed = await insertProject();
        const set = await store.insertFeatureSet(newFeatureSet(doomed));
        const also = await store.commitIngestion(newIngestion(set), { onlineApplyPending: true });
        await store.deleteProject(doomed.id);
        assert.equal(ids(await store.listPendingOnlineApplies()).includes(also.id), false);
      });
    });

    group('consumerOffsets', 'consumer offsets', () => {
      const offsets = (entries: [number, string][]) => new Map(entries);

      t.it('a new consumer has none; stored offsets read back, 64-bit exact', async () => {
        const consumer = uniqueName('consumer');
        assert.deepEqual(await store.getConsumerOffsets(consumer), new Map());
        await store.putConsumerOffsets(
          consumer,
          offsets([
            [0, '41'],
            [3, '9007199254740993'],
          ]),
        );
        await store.putConsumerOffsets(consumer, offsets([[0, '42']]));
        assert.deepEqual(
          await store.getConsumerOffsets(consumer),
          offsets([
            [0, '42'],
            [3, '9007199254740993'],
          ]),
        );
        assert.deepEqual(await store.getConsumerOffsets(uniqueName('consumer')), new Map());
      });

      t.it(
        'with expected offsets, a stale write fails with CONFLICT and changes nothing',
        async () => {
          const consumer = uniqueName('consumer');
          await store.putConsumerOffsets(consumer, offsets([[0, '5']]), new Map());
          await rejectsWith(
            store.putConsumerOffsets(consumer, offsets([[0, '9']]), new Map()),
            'CONFLICT',
          );
          await rejectsWith(
            store.putConsumerOffsets(
              consumer,
              offsets([
                [0, '9'],
                [1, '2'],
              ]),
              offsets([[0, '4']]),
            ),
            'CONFLICT',
          );
          await store.putConsumerOffsets(
            consumer,
            offsets([
              [0, '7'],
              [1, '2'],
            ]),
            offsets([[0, '5']]),
          );
          assert.deepEqual(
            await store.getConsumerOffsets(consumer),
            offsets([
              [0, '7'],
              [1, '2'],
            ]),
          );
        },
      );

      t.it('commit with an ingestion in one transaction, or not at all', async () => {
        const project = await insertProject();
        const featureSet = await store.insertFeatureSet(newFeatureSet(project));
        const consumer = uniqueName('consumer');
        const failed = newIngestion(featureSet);
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.commitIngestion(failed);
            await tx.putConsumerOffsets(consumer, offsets([[1, '10']]), new Map());
            assert.deepEqual(await tx.getConsumerOffsets(consumer), offsets([[1, '10']]));
            throw new Error('crash before commit');
          }),
          /crash before commit/,
        );
        assert.deepEqual(await store.getConsumerOffsets(consumer), new Map());
        assert.equal(await store.getIngestion(failed.id), undefined);
        const kept = newIngestion(featureSet);
        await store.transaction(async (tx) => {
          await tx.commitIngestion(kept);
          await tx.putConsumerOffsets(consumer, offsets([[1, '10']]), new Map());
        });
        assert.deepEqual(await store.getConsumerOffsets(consumer), offsets([[1, '10']]));
        assert.equal((await store.getIngestion(kept.id))?.id, kept.id);
      });

      t.it('of two racing transactions expecting one offset, exactly one commits', async () => {
        const project = await insertProject();
        const featureSet = await store.insertFeatureSet(newFeatureSet(project));
        const consumer = uniqueName('consumer');
        await store.putConsumerOffsets(consumer, offsets([[0, '1']]));
        const ingestions = [newIngestion(featureSet), newIngestion(featureSet)];
        const results = await Promise.allSettled(
          ingestions.map((ingestion, i) =>
            store.transaction(async (tx) => {
              await tx.commitIngestion(ingestion);
              await tx.putConsumerOffsets(
                consumer,
                offsets([[0, String(10 + i)]]),
                offsets([[0, '1']]),
              );
            }),
          ),
        );
        const won = results.filter((result) => result.status === 'fulfilled');
        const lost = results.filter((result) => result.status === 'rejected');
        assert.equal(won.length, 1, 'one transaction commits');
        assert.equal((lost[0]!.reason as { code?: string }).code, 'CONFLICT');
        assert.equal((await store.listIngestions(featureSet.id)).length, 1, 'one ingestion');
        const stored = (await store.getConsumerOffsets(consumer)).get(0);
        assert.ok(stored === '10' || stored === '11');
      });

      t.it('refuses a negative partition or a non-integer offset', async () => {
        const consumer = uniqueName('consumer');
        await rejectsWith(store.putConsumerOffsets(consumer, offsets([[-1, '1']])), 'VALIDATION');
        await rejectsWith(store.putConsumerOffsets(consumer, offsets([[0, '1.5']])), 'VALIDATION');
      });
    });

    group('jobs', 'jobs', () => {
      t.it('inserts a job and reads it back, optional fields absent when unset', async () => {
        const job = newJob();
        const read = await store.insertJob(job);
        assert.deepEqual(read, job);
        assert.deepEqual(await store.getJob(job.id), job);
        for (const field of [
          'message',
          'result',
          'error',
          'projectId',
          'startedAt',
          'finishedAt',
        ]) {
          assert.equal(field in read, false, `${field} is absent, not null`);
        }
        const project = await insertProject();
        const full = newJob({
          type: 'retrieve',
          state: 'failed',
          progress: 0.25,
          message: 'reading part 2 of 8',
          result: { rows: 10, uris: ['outputs/x/part-0.parquet'] },
          error: { code: 'UNAVAILABLE', message: 'storage went away' },
          cancelRequested: true,
          projectId: project.id,
          startedAt: new Date(Date.now() + 1000),
          finishedAt: new Date(Date.now() + 2000),
        });
        assert.deepEqual(await store.insertJob(full), full);
        assert.deepEqual(await store.getJob(full.id), full);
        assert.equal(await store.getJob(randomUUID()), undefined);
      });

      t.it('lists newest first, ties by id, and pages without gaps or repeats', async () => {
        const createdBy = randomUUID();
        const base = Date.now();
        const jobs: Job[] = [];
        // Two pairs share a creation time: pages must cut between them without losing one.
        for (const offset of [0, 5000, 1000, 1000, 3000, 3000, 2000]) {
          jobs.push(
            await store.insertJob(newJob({ createdBy, createdAt: new Date(base + offset) })),
          );
        }
        const newestFirst = [...jobs].sort(
          (a, b) =>
            b.createdAt.getTime() - a.createdAt.getTime() ||
            (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
        );
        const page = await store.listJobs({ createdBy });
        assert.deepEqual(page.items, newestFirst);
        assert.equal(page.nextPageToken, undefined);
        for (const size of [1, 2, 3]) {
          const { items, pages } = await collect(
            (request) => store.listJobs({ ...request, createdBy }),
            size,
          );
          assert.deepEqual(items, newestFirst, `pages of ${size}`);
          assert.ok(pages <= Math.ceil(jobs.length / size) + 1);
        }
        await rejectsWith(store.listJobs({ pageToken: 'not a token!' }), 'VALIDATION');
        await rejectsWith(store.listJobs({ pageSize: 0 }), 'VALIDATION', /pageSize/);
      });

      t.it('refuses forged page tokens with VALIDATION naming the page token', async () => {
        await refusesForgedPageTokens(
          (pageToken) => store.listJobs({ pageToken }),
          [
            // Times JavaScript reads but a database may not.
            ['1', randomUUID()],
            ['not a time', randomUUID()],
            ['2026-01-01', randomUUID()],
            ['2026-01-01T00:00:00.000Z', 'not-a-uuid'],
          ],
        );
      });

      t.it('filters by state, type, creator and project ids', async () => {
        const createdBy = randomUUID();
        const [one, two] = [await insertProject(), await insertProject()];
        const base = Date.now();
        const at = (n: number) => new Date(base + n * 1000);
        const a = await store.insertJob(
          newJob({
            createdBy,
            type: 'ingest',
            state: 'running',
            projectId: one.id,
            createdAt: at(1),
          }),
        );
        const b = await store.insertJob(
          newJob({
            createdBy,
            type: 'retrieve',
            state: 'running',
            projectId: two.id,
            createdAt: at(2),
          }),
        );
        const c = await store.insertJob(
          newJob({ createdBy, type: 'ingest', state: 'succeeded', createdAt: at(3) }),
        );
        await store.insertJob(newJob({ type: 'ingest', state: 'running', projectId: one.id }));
        const list = async (filter: Parameters<MetadataStore['listJobs']>[0]) =>
          (await store.listJobs({ createdBy, ...filter })).items.map((job) => job.id);
        assert.deepEqual(await list({}), [c.id, b.id, a.id]);
        assert.deepEqual(await list({ state: 'running' }), [b.id, a.id]);
        assert.deepEqual(await list({ state: 'failed' }), []);
        assert.deepEqual(await list({ type: 'ingest' }), [c.id, a.id]);
        assert.deepEqual(await list({ type: 'ingest', state: 'running' }), [a.id]);
        assert.deepEqual(await list({ projectIds: [one.id, two.id] }), [b.id, a.id]);
        assert.deepEqual(await list({ projectIds: [two.id, randomUUID()] }), [b.id]);
        assert.deepEqual(await list({ projectIds: [] }), [], 'no project ids, no jobs');
        assert.deepEqual(await list({ createdBy: randomUUID() }), []);
      });

      t.it('updates progress, message and state through a run', async () => {
        const job = await store.insertJob(newJob());
        const startedAt = new Date(Date.now() + 1000);
        const running = await store.updateJob(job.id, { state: 'running', startedAt });
        assert.deepEqual(running, { ...job, state: 'running', startedAt });
        const progressed = await store.updateJob(job.id, { progress: 0.5, message: 'half way' });
        assert.deepEqual(progressed, { ...running, progress: 0.5, message: 'half way' });
        const cancelAsked = await store.updateJob(job.id, { cancelRequested: true });
        assert.deepEqual(cancelAsked, { ...progressed, cancelRequested: true });
        const finishedAt = new Date(Date.now() + 2000);
        const result = { rowCount: 3, ingestionId: randomUUID() };
        const done = await store.updateJob(job.id, {
          state: 'succeeded',
          progress: 1,
          result,
          finishedAt,
        });
        assert.deepEqual(done, {
          ...cancelAsked,
          state: 'succeeded',
          progress: 1,
          result,
          finishedAt,
        });
        assert.deepEqual(await store.getJob(job.id), done);
        const failed = await store.insertJob(newJob({ state: 'running' }));
        const error = { code: 'VALIDATION', message: 'column amount is not a number' };
        assert.deepEqual(await store.updateJob(failed.id, { state: 'failed', error }), {
          ...failed,
          state: 'failed',
          error,
        });
        await rejectsWith(store.updateJob(randomUUID(), { progress: 0.1 }), 'NOT_FOUND');
      });

      t.it('changing the state of a finished job is a CONFLICT naming both states', async () => {
        for (const finished of ['succeeded', 'failed', 'cancelled'] as const) {
          const job = await store.insertJob(newJob({ state: finished, progress: 1 }));
          for (const next of ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const) {
            if (next === finished) continue;
            await rejectsWith(
              store.updateJob(job.id, { state: next, message: 'overwritten?' }),
              'CONFLICT',
              new RegExp(`${job.id}[\\s\\S]*${finished}[\\s\\S]*${next}`),
            );
          }
          assert.deepEqual(await store.getJob(job.id), job, 'a refused patch changes nothing');
          // Not a change of state: the same state again, or fields other than the state.
          const same = await store.updateJob(job.id, { state: finished });
          assert.deepEqual(same, job);
          const noted = await store.updateJob(job.id, { message: 'cleaned up' });
          assert.deepEqual(noted, { ...job, message: 'cleaned up' });
        }
      });

      t.it(
        'of two racing finishes of a running job, the first wins and the second is a CONFLICT',
        async () => {
          for (let i = 0; i < 5; i++) {
            const job = await store.insertJob(newJob({ state: 'running' }));
            const results = await Promise.allSettled([
              store.updateJob(job.id, { state: 'succeeded', progress: 1 }),
              store.updateJob(job.id, { state: 'cancelled', message: 'cancelled by user' }),
            ]);
            const won = results.filter((result) => result.status === 'fulfilled');
            const lost = results.filter((result) => result.status === 'rejected');
            assert.equal(won.length, 1, 'one finish wins');
            assert.equal(lost.length, 1, 'the other loses');
            assert.equal((lost[0]!.reason as { code?: string }).code, 'CONFLICT');
            assert.deepEqual(await store.getJob(job.id), won[0]!.value, 'the winner is kept');
          }
        },
      );

      t.it('a job outlives its project', async () => {
        const project = await insertProject();
        const job = await store.insertJob(newJob({ projectId: project.id }));
        await store.deleteProject(project.id);
        const read = await store.getJob(job.id);
        assert.equal(read?.id, job.id);
        assert.equal(read?.state, job.state);
      });
    });

    group('transactions', 'transactions', () => {
      t.it('commits every write of the callback and returns its result', async () => {
        const project = newProject();
        const user = newUser();
        const result = await store.transaction(async (tx) => {
          await tx.insertProject(project);
          await tx.insertUser(user);
          await tx.putPermission(newPermission(project, user, 'owner'));
          return 'done';
        });
        createdProjects.push(project.id);
        assert.equal(result, 'done');
        assert.deepEqual(await store.getProject({ id: project.id }), project);
        assert.equal((await store.getPermission(project.id, user.id))?.role, 'owner');
      });

      t.it('a throw rolls back every write and rethrows the same error', async () => {
        const existing = await insertProject();
        const project = newProject();
        const user = newUser();
        const boom = new Error('boom');
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.insertProject(project);
            await tx.updateProject(existing.id, { description: 'changed' }, existing.revision);
            await tx.insertUser(user);
            const featureSet = await tx.insertFeatureSet(newFeatureSet(project));
            await tx.insertFeatureSetVersion(nextVersion(featureSet, 1, 1), featureSet.revision);
            await tx.putPermission(newPermission(existing, user, 'editor'));
            throw boom;
          }),
          (error) => error === boom,
        );
        assert.equal(await store.getProject({ id: project.id }), undefined);
        assert.deepEqual(await store.getProject({ id: existing.id }), existing);
        assert.equal(await store.getUser({ id: user.id }), undefined);
        assert.deepEqual((await store.listFeatureSets({ projectId: project.id })).items, []);
        assert.equal(await store.getPermission(existing.id, user.id), undefined);
      });

      t.it('writes are visible to later reads in the same transaction', async () => {
        const project = newProject();
        await store.transaction(async (tx) => {
          await tx.insertProject(project);
          assert.deepEqual(await tx.getProject({ name: project.name }), project);
          const updated = await tx.updateProject(
            project.id,
            { description: 'x' },
            project.revision,
          );
          assert.deepEqual(await tx.getProject({ id: project.id }), updated);
          const featureSet = await tx.insertFeatureSet(newFeatureSet(project));
          const page = await tx.listFeatureSets({ projectId: project.id });
          assert.deepEqual(page.items, [featureSet]);
        });
        createdProjects.push(project.id);
        assert.equal((await store.getProject({ id: project.id }))?.description, 'x');
      });

      t.it('a failing operation rolls back the writes before it', async () => {
        const existing = await insertProject();
        const project = newProject();
        await rejectsWith(
          store.transaction(async (tx) => {
            await tx.insertProject(project);
            await tx.insertProject(newProject({ name: existing.name }));
          }),
          'ALREADY_EXISTS',
        );
        assert.equal(await store.getProject({ id: project.id }), undefined);
      });
    });

    group('concurrency', 'concurrency', () => {
      t.it('exactly one of two racing updates on one revision wins', async () => {
        const project = await insertProject();
        const results = await Promise.allSettled([
          store.updateProject(project.id, { description: 'left' }, project.revision),
          store.updateProject(project.id, { description: 'right' }, project.revision),
        ]);
        const won = results.filter((result) => result.status === 'fulfilled');
        const lost = results.filter((result) => result.status === 'rejected');
        assert.equal(won.length, 1, 'one update wins');
        assert.equal(lost.length, 1, 'one update loses');
        assert.equal((lost[0]!.reason as { code?: string }).code, 'CONFLICT');
        const current = await store.getProject({ id: project.id });
        assert.equal(current?.revision, project.revision + 1);
        assert.deepEqual(current, won[0]!.value);
      });

      t.it('exactly one of two racing new versions on one revision wins', async () => {
        const project = await insertProject();
        const featureSet = await store.insertFeatureSet(newFeatureSet(project));
        const results = await Promise.allSettled([
          store.insertFeatureSetVersion(nextVersion(featureSet, 1, 1), featureSet.revision),
          store.insertFeatureSetVersion(nextVersion(featureSet, 2, 0), featureSet.revision),
        ]);
        const won = results.filter((result) => result.status === 'fulfilled');
        const lost = results.filter((result) => result.status === 'rejected');
        assert.equal(won.length, 1, 'one version wins');
        assert.equal((lost[0]!.reason as { code?: string }).code, 'CONFLICT');
        assert.equal((await store.listFeatureSetVersions(featureSet.id)).length, 2);
        assert.deepEqual(await store.getFeatureSetById(featureSet.id), won[0]!.value);
      });

      t.it('concurrent transactions on different rows all commit', async () => {
        const projects = Array.from({ length: 5 }, () => newProject());
        await Promise.all(
          projects.map((project) =>
            store.transaction(async (tx) => {
              await tx.insertProject(project);
              await tx.updateProject(project.id, { description: 'in tx' }, project.revision);
            }),
          ),
        );
        createdProjects.push(...projects.map((project) => project.id));
        for (const project of projects) {
          assert.equal(
            (await store.getProject({ id: project.id }))?.revision,
            project.revision + 1,
          );
        }
      });
    });
  });
}
