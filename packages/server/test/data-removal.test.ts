import { mkdir, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type FeatureStoreEngine,
  JobOutputs,
  listAll,
  type ObjectStorage,
  type Principal,
} from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FeatureStore,
  type FeatureStoreConfigInput,
  loadConfig,
  openFeatureStore,
} from '../src/index.js';
import { cli, cliJson, tempStore } from './helpers.js';

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'ssn', type: 'string', sensitive: true },
  ],
};
const DAY = 24 * 3600 * 1000;

async function keys(storage: ObjectStorage, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const object of listAll(storage, prefix)) found.push(object.key);
  return found;
}

/** Registers `name` in `project` and ingests one row (committed offline and applied online). */
async function withData(fs: FeatureStore, project: string, name: string, source: string) {
  const { engine, principal } = fs;
  await engine.featureSets.register(principal, project, name, customers);
  await (await engine.offline.ingest(principal, project, name, source)).result;
  return engine.featureSets.get(principal, project, name);
}

async function onlineRecord(engine: FeatureStoreEngine, featureSetId: string) {
  const [record] = await engine.drivers.online!.store.read({
    featureSet: { featureSetId, major: 1 },
    keys: [['c1']],
  });
  return record;
}

const onlineStores: [string, () => FeatureStoreConfigInput][] = [
  ['PGlite online store', () => ({})],
  ['Redis online store', () => ({ online: serviceEnv('FEATURESTORE_TEST_REDIS_URL') })],
];

describe.each(onlineStores)('deleting what should be deleted (%s)', (_name, config) => {
  let scratch: Awaited<ReturnType<typeof tempStore>>;
  let storeDir: string;
  let source: string;
  let fs: FeatureStore;
  const open = () => openFeatureStore({ ...config(), store: storeDir });
  beforeAll(async () => {
    scratch = await tempStore();
    storeDir = join(scratch.dir, 'store');
    source = join(scratch.dir, 'customers.csv');
    await writeFile(source, 'customer_id,ts,ssn\nc1,2026-01-01T00:00:00Z,123-45-6789\n');
    fs = await open();
    await fs.engine.projects.create(fs.principal, { name: 'fraud' });
  }, 60_000);
  afterAll(async () => {
    // Deleting the project purges what the tests kept (Redis is shared with other tests).
    await fs?.engine.projects.delete(fs.principal, 'fraud', { force: true });
    await fs?.close();
    await scratch.remove();
  });

  it('deleting a feature set removes its Parquet files and its online records', async () => {
    const featureSet = await withData(fs, 'fraud', 'gone', source);
    const prefix = `featuresets/${featureSet.id}/`;
    expect(await keys(fs.storage, prefix)).not.toEqual([]);
    expect(await onlineRecord(fs.engine, featureSet.id)).toBeDefined();

    await fs.engine.featureSets.delete(fs.principal, 'fraud', 'gone');

    expect(await keys(fs.storage, prefix)).toEqual([]);
    expect(await onlineRecord(fs.engine, featureSet.id)).toBeUndefined();
    expect(await keys(fs.storage, 'deletions/')).toEqual([]);
  });

  it('deleting a project with force removes the data of each of its feature sets', async () => {
    await fs.engine.projects.create(fs.principal, { name: 'doomed' });
    const one = await withData(fs, 'doomed', 'one', source);
    const two = await withData(fs, 'doomed', 'two', source);

    await fs.engine.projects.delete(fs.principal, 'doomed', { force: true });

    for (const featureSet of [one, two]) {
      expect(await keys(fs.storage, `featuresets/${featureSet.id}/`)).toEqual([]);
      expect(await onlineRecord(fs.engine, featureSet.id)).toBeUndefined();
    }
  });

  it('a process that dies after the delete commits leaves a record the next open finishes', async () => {
    const featureSet = await withData(fs, 'fraud', 'interrupted', source);
    // The state a crash right after the metadata commit leaves: the record, then the commit,
    // and nothing purged.
    await fs.engine.deletedData.record([featureSet]);
    await fs.engine.drivers.metadata.deleteFeatureSet(featureSet.id);
    await fs.close();

    fs = await open();

    expect(await keys(fs.storage, `featuresets/${featureSet.id}/`)).toEqual([]);
    expect(await onlineRecord(fs.engine, featureSet.id)).toBeUndefined();
    expect(await keys(fs.storage, 'deletions/')).toEqual([]);
  }, 60_000);

  it('featurestore gc finishes an interrupted delete and drops the record of one that never committed', async () => {
    const deleted = await withData(fs, 'fraud', 'half_deleted', source);
    const kept = await withData(fs, 'fraud', 'kept', source);
    await fs.engine.deletedData.record([deleted, kept]);
    await fs.engine.drivers.metadata.deleteFeatureSet(deleted.id);

    const report = await fs.engine.collector.collect(fs.principal, { graceMs: 0 });

    expect(report.deletedFeatureSets).toMatchObject({ count: 1 });
    expect(await keys(fs.storage, `featuresets/${deleted.id}/`)).toEqual([]);
    expect(await onlineRecord(fs.engine, deleted.id)).toBeUndefined();
    // The delete of `kept` never committed: its data stays, and so does it.
    expect(await keys(fs.storage, `featuresets/${kept.id}/`)).not.toEqual([]);
    expect(await onlineRecord(fs.engine, kept.id)).toBeDefined();
    expect(await keys(fs.storage, 'deletions/')).toEqual([]);
  });
});

describe('job outputs do not outlive their use', () => {
  let scratch: Awaited<ReturnType<typeof tempStore>>;
  let storeDir: string;
  let fs: FeatureStore;
  let viewerToken: string;
  const file = (name: string) => join(scratch.dir, name);
  beforeAll(async () => {
    scratch = await tempStore();
    storeDir = join(scratch.dir, 'store');
    await writeFile(file('customers.csv'), 'customer_id,ts,ssn\nc1,2026-01-01T00:00:00Z,1\n');
    fs = await openFeatureStore({ store: storeDir });
    const { engine, principal } = fs;
    await engine.projects.create(principal, { name: 'fraud' });
    await withData(fs, 'fraud', 'customers', file('customers.csv'));
    await engine.access.createUser(principal, { name: 'reader' });
    await engine.access.grant(principal, 'fraud', 'reader', 'sensitive_consumer');
    viewerToken = (await engine.access.createToken(principal, { name: 't', user: 'reader' }))
      .secret;
    await fs.close();
  }, 60_000);
  afterAll(async () => {
    await fs?.close().catch(() => undefined);
    await scratch.remove();
  });

  /** Runs `work` on the store opened in-process (closed afterwards: the CLI needs the lock). */
  async function withStore<T>(work: (fs: FeatureStore) => Promise<T>): Promise<T> {
    fs = await openFeatureStore({ store: storeDir });
    try {
      return await work(fs);
    } finally {
      await fs.close();
    }
  }

  async function retrieveInStore(principal?: (fs: FeatureStore) => Promise<Principal>) {
    return withStore(async (fs) => {
      const caller = principal ? await principal(fs) : fs.principal;
      const running = await fs.engine.offline.retrieve(caller, 'fraud', 'customers');
      const result = await running.result;
      return { jobId: running.job.id, outputKey: result.outputKey };
    });
  }

  it('an output copied to --out is removed from storage, and its job says so', async () => {
    const out = file('copied.csv');
    const written = await cliJson<{ jobId: string; outputKey: string }>(
      storeDir,
      'retrieve',
      'fraud',
      'customers',
      '--out',
      out,
    );
    expect((await readdir(scratch.dir)).includes('copied.csv')).toBe(true);
    const job = await cliJson<{ result: { outputRemovedAt?: string } }>(
      storeDir,
      'jobs',
      'get',
      written.jobId,
    );
    expect(job.result.outputRemovedAt).toEqual(expect.any(String));
    await withStore(async (fs) => {
      expect(await keys(fs.storage, `outputs/${written.jobId}/`)).toEqual([]);
      await expect(fs.engine.outputs.read(fs.principal, written.jobId)).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringContaining(`the output of job ${written.jobId} was removed`),
      });
    });
  }, 60_000);

  it('outputs kept in storage expire after the retention (7 days by default)', async () => {
    const { jobId } = await retrieveInStore();
    await withStore(async (fs) => {
      const job = await fs.engine.jobs.get(fs.principal, jobId);
      const at = (days: number) => () => job.finishedAt!.getTime() + days * DAY;
      const outputs = (now: () => number) =>
        new JobOutputs({
          store: fs.engine.drivers.metadata,
          authorizer: fs.engine.authorizer,
          jobs: fs.engine.jobs,
          storage: fs.storage,
          retentionMs: fs.engine.outputs.retentionMs,
          now,
        });
      expect(fs.engine.outputs.retentionMs).toBe(7 * DAY);
      expect(await outputs(at(6.9)).clean(fs.principal)).toEqual([]);
      expect(await keys(fs.storage, `outputs/${jobId}/`)).not.toEqual([]);
      const removed = await outputs(at(7)).clean(fs.principal);
      expect(removed).toEqual([expect.objectContaining({ jobId, reason: 'expired', files: 1 })]);
      expect(await keys(fs.storage, `outputs/${jobId}/`)).toEqual([]);
      expect((await fs.engine.jobs.get(fs.principal, jobId)).result?.outputRemovedAt).toEqual(
        expect.any(String),
      );
    });
  }, 60_000);

  it('the embedded store removes expired outputs when it opens', async () => {
    const { jobId } = await retrieveInStore();
    await withStore(async (fs) => {
      await fs.engine.drivers.metadata.updateJob(jobId, {
        finishedAt: new Date(Date.now() - 8 * DAY),
      });
    });
    await withStore(async (fs) => {
      expect(await keys(fs.storage, `outputs/${jobId}/`)).toEqual([]);
    });
  }, 60_000);

  it('jobs clean removes one job’s output, or all of the caller’s, never another user’s', async () => {
    const mine = await retrieveInStore();
    const theirs = await retrieveInStore((fs) => fs.authenticate(viewerToken));
    const other = await cli(storeDir, '--token', viewerToken, 'jobs', 'clean', mine.jobId);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('PERMISSION_DENIED');
    const none = await cliJson<{ outputs: number }>(
      storeDir,
      '--token',
      viewerToken,
      'jobs',
      'clean',
    );
    expect(none.outputs).toBe(0); // nothing has expired yet
    const all = await cliJson<{ items: { jobId: string }[] }>(
      storeDir,
      '--token',
      viewerToken,
      'jobs',
      'clean',
      '--all',
    );
    expect(all.items.map((item) => item.jobId)).toEqual([theirs.jobId]);
    const one = await cliJson<{ items: { jobId: string; files: number }[] }>(
      storeDir,
      'jobs',
      'clean',
      mine.jobId,
    );
    expect(one.items).toEqual([expect.objectContaining({ jobId: mine.jobId, files: 1 })]);
    await withStore(async (fs) => {
      expect(await keys(fs.storage, 'outputs/')).toEqual([]);
    });
  }, 60_000);

  it('featurestore gc lists leftovers with --dry-run, removes them without, and is for admins', async () => {
    const old = new Date(Date.now() - 2 * 3600 * 1000);
    const leftovers = [
      'featuresets/00000000-0000-4000-8000-000000000001/v1/aaaa/part-0.parquet',
      // An output whose job is gone: the embedded store's open removes it already.
      'outputs/00000000-0000-4000-8000-000000000002/training-set.csv',
      'tmp/materialize/killed.jsonl',
    ];
    for (const key of leftovers) {
      const path = join(storeDir, 'data', ...key.split('/'));
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, 'leftover');
      await utimes(path, old, old);
    }
    // DuckDB's temporary file of a killed process (the embedded store clears spill folders
    // itself when it opens; `gc` is what finds them for a shared store).
    const duckdbTemporary = join(storeDir, 'tmp', 'duckdb_temp_storage-0.tmp');
    await writeFile(duckdbTemporary, 'staged');
    await utimes(duckdbTemporary, old, old);

    const denied = await cli(storeDir, '--token', viewerToken, 'gc', '--dry-run');
    expect(denied.stderr).toContain('PERMISSION_DENIED');
    const dry = await cliJson<Record<string, { count: number; bytes: number }>>(
      storeDir,
      'gc',
      '--dry-run',
    );
    expect(dry).toMatchObject({
      unreferencedFiles: { count: 1, bytes: 8 },
      temporaryObjects: { count: 1, bytes: 8 },
      localTemporary: { count: 1, bytes: 6 },
    });
    const human = await cli(storeDir, 'gc');
    expect(human.stdout).toContain('files of failed or killed ingestions: 1, 8 bytes');
    await withStore(async (fs) => {
      for (const key of leftovers) expect(await fs.storage.head(key)).toBeUndefined();
    });
    expect(await readdir(join(storeDir, 'tmp'))).not.toContain('duckdb_temp_storage-0.tmp');
  }, 60_000);
});

describe('--out stays outside the store', () => {
  let scratch: Awaited<ReturnType<typeof tempStore>>;
  let storeDir: string;
  const file = (name: string) => join(scratch.dir, name);
  beforeAll(async () => {
    scratch = await tempStore();
    storeDir = join(scratch.dir, 'store');
    await writeFile(file('customers.csv'), 'customer_id,ts,ssn\nc1,2026-01-01T00:00:00Z,1\n');
    const fs = await openFeatureStore({ store: storeDir });
    await fs.engine.projects.create(fs.principal, { name: 'fraud' });
    await withData(fs, 'fraud', 'customers', file('customers.csv'));
    await fs.close();
    await symlink(join(storeDir, 'data'), file('link-to-data'));
    await symlink(join(storeDir, 'data', 'featuresets', 'new.parquet'), file('dangling.csv'));
  }, 60_000);
  afterAll(async () => scratch.remove());

  async function jobCount(): Promise<number> {
    return (await cliJson<{ items: unknown[] }>(storeDir, 'jobs', 'list')).items.length;
  }

  it.each([
    ['inside the store folder', () => join(storeDir, 'metadata', 'x.csv'), 'inside the store'],
    [
      'over a committed Parquet part, through a symbolic link',
      () => file('link-to-data/part.parquet'),
      'inside the store',
    ],
    ['into a folder that does not exist', () => file('missing/out.csv'), 'does not exist'],
    ['through a dangling symbolic link', () => file('dangling.csv'), 'does not exist'],
  ])(
    'is refused %s, before any job runs',
    async (_case, out, says) => {
      const before = await jobCount();
      for (const argv of [
        ['retrieve', 'fraud', 'customers', '--out', out()],
        [
          'historical',
          '--entities',
          file('customers.csv'),
          '--entity-time',
          'ts',
          '--features',
          'fraud/customers:ssn',
          '--out',
          out(),
        ],
      ]) {
        const result = await cli(storeDir, ...argv);
        expect(result.code).toBe(1);
        expect(result.stderr).toContain('VALIDATION');
        expect(result.stderr).toContain(says);
      }
      expect(await jobCount()).toBe(before);
    },
    60_000,
  );
});

describe('the output retention setting', () => {
  it('defaults to P7D, is read from FEATURESTORE_OUTPUT_RETENTION, and must be a duration', async () => {
    expect((await loadConfig({ env: {} })).outputRetention).toBe('P7D');
    const config = await loadConfig({ env: { FEATURESTORE_OUTPUT_RETENTION: 'PT12H' } });
    expect(config.outputRetention).toBe('PT12H');
    await expect(
      loadConfig({ env: { FEATURESTORE_OUTPUT_RETENTION: '7 days' } }),
    ).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining('outputRetention'),
    });
    const scratch = await tempStore();
    try {
      const fs = await openFeatureStore({ ...config, store: scratch.dir });
      expect(fs.engine.outputs.retentionMs).toBe(12 * 3600 * 1000);
      await fs.close();
    } finally {
      await scratch.remove();
    }
  }, 60_000);
});
