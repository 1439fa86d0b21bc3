import { randomUUID } from 'node:crypto';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { type AsOf, listAll, type MetadataStore, readAll } from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { PostgresMetadataStore } from '@featurestore/driver-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore, openStorageUrl, parseConfig } from '../src/index.js';
import { cli, tempStore } from './helpers.js';

const postgresUrl = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');
const s3 = {
  endpoint: serviceEnv('FEATURESTORE_TEST_S3_ENDPOINT'),
  region: serviceEnv('FEATURESTORE_TEST_S3_REGION'),
  forcePathStyle: true,
  accessKeyId: serviceEnv('FEATURESTORE_TEST_S3_ACCESS_KEY_ID'),
  secretAccessKey: serviceEnv('FEATURESTORE_TEST_S3_SECRET_ACCESS_KEY'),
};
const bucket = `fs-export-${randomUUID().slice(0, 8)}`;

const clicksSchema = {
  primaryKey: ['user_id'],
  eventTime: 'ts',
  features: [
    { name: 'user_id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'clicks', type: 'int32' },
  ],
};

let work: Awaited<ReturnType<typeof tempStore>>;
let pool: pg.Pool;
const schemas: string[] = [];
let sourceDir: string;
let archive: string;
let aliceToken: string;
let revertedId: string;
let firstId: string;
/** Every record of the source as exported (later tests run jobs and use tokens there). */
let exportedRecords: Awaited<ReturnType<typeof snapshot>>;

/** A PostgreSQL schema and S3 prefix of their own, and the config file naming them. */
async function freshTarget(): Promise<{ configFile: string; schema: string; storage: string }> {
  const schema = `export_import_${randomUUID().slice(0, 8)}`;
  schemas.push(schema);
  const storage = `s3://${bucket}/${schema}`;
  const configFile = join(work.dir, `${schema}.json`);
  const config = {
    store: join(work.dir, schema),
    metadata: postgresUrl,
    metadataSchema: schema,
    storage,
    s3,
  };
  await writeFile(configFile, JSON.stringify(config));
  return { configFile, schema, storage };
}

beforeAll(async () => {
  work = await tempStore();
  pool = new pg.Pool({ connectionString: postgresUrl });
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  const files = join(work.dir, 'files');
  await mkdir(files);
  const write = async (name: string, text: string) => {
    await writeFile(join(files, name), text);
    return join(files, name);
  };
  sourceDir = join(work.dir, 'source');
  archive = join(work.dir, 'archive');
  const fs = await openFeatureStore({ store: sourceDir });
  try {
    const { engine, principal: admin } = fs;
    await engine.access.createUser(admin, { name: 'alice' });
    await engine.access.createUser(admin, { name: 'bob', email: 'bob@example.com' });
    aliceToken = (await engine.access.createToken(admin, { name: 'laptop', user: 'alice' })).secret;
    await engine.projects.create(admin, { name: 'fraud', description: 'fraud signals' });
    await engine.projects.create(admin, { name: 'growth', tags: { team: 'growth' } });
    await engine.access.grant(admin, 'fraud', 'alice', 'editor');
    await engine.access.grant(admin, 'growth', 'bob', 'viewer');
    await engine.featureSets.register(admin, 'fraud', 'clicks', clicksSchema);
    await engine.featureSets.register(admin, 'growth', 'visits', clicksSchema);
    const ingest = async (project: string, set: string, file: string, idempotencyKey?: string) =>
      (
        await (
          await engine.offline.ingest(
            admin,
            project,
            set,
            file,
            idempotencyKey ? { idempotencyKey } : {},
          )
        ).result
      ).ingestionId;
    firstId = await ingest(
      'fraud',
      'clicks',
      await write(
        'a.csv',
        'user_id,ts,clicks\n1,2026-01-01T10:00:00Z,3\n2,2026-01-01T11:00:00Z,5\n',
      ),
    );
    revertedId = await ingest(
      'fraud',
      'clicks',
      await write('b.csv', 'user_id,ts,clicks\n1,2026-01-02T10:00:00Z,70\n'),
      'batch-b',
    );
    await ingest(
      'growth',
      'visits',
      await write('v.csv', 'user_id,ts,clicks\n9,2026-01-01T00:00:00Z,1\n'),
    );
    await ingest(
      'fraud',
      'clicks',
      await write('c.csv', 'user_id,ts,clicks\n2,2026-01-02T12:00:00Z,8\n'),
    );
    await (await engine.offline.revert(admin, 'fraud', 'clicks', revertedId)).result;
    await engine.featureSets.update(admin, 'fraud', 'clicks', { tags: { tier: 'gold' } });
    await engine.featureSets.update(admin, 'fraud', 'clicks', { description: 'clicks per user' });
  } finally {
    await fs.close();
  }
}, 120_000);

afterAll(async () => {
  for (const schema of schemas) await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool?.end();
  await work?.remove();
});

/** Every record of a store, as the port lists it. */
async function snapshot(metadata: MetadataStore) {
  const users = (await metadata.listUsers({ pageSize: 1000 })).items;
  const sets = (await metadata.listFeatureSets({ pageSize: 1000 })).items;
  return {
    users,
    tokens: await Promise.all(users.map((user) => metadata.listTokens(user.id))),
    projects: (await metadata.listProjects({ pageSize: 1000 })).items,
    sets,
    versions: await Promise.all(sets.map((set) => metadata.listFeatureSetVersions(set.id))),
    ingestions: await Promise.all(sets.map((set) => metadata.listIngestions(set.id))),
    permissions: await metadata.listPermissions({}),
    jobs: (await metadata.listJobs({ pageSize: 1000 })).items,
  };
}

/** The lines of the output file of a retrieve or historical job, sorted. */
async function outputOf(
  fs: FeatureStore,
  result: Promise<{ outputKey: string }>,
): Promise<string[]> {
  const { outputKey } = await result;
  const text = (await readAll(await fs.storage.get(outputKey))).toString('utf8');
  const [header, ...rows] = text.trim().split('\n');
  return [header!, ...rows.sort()];
}

describe('featurestore export / import (embedded → PostgreSQL + S3)', () => {
  let target: Awaited<ReturnType<typeof freshTarget>>;

  it('exports the embedded store and imports it into an empty PostgreSQL schema and S3 prefix', async () => {
    const exported = await cli(sourceDir, '--json', 'export', archive);
    expect(exported.stderr).toBe('');
    expect(exported.code).toBe(0);
    expect(JSON.parse(exported.stdout).records).toMatchObject({ projects: 2, ingestions: 4 });
    const source = await openFeatureStore({ store: sourceDir });
    exportedRecords = await snapshot(source.engine.drivers.metadata);
    await source.close();
    target = await freshTarget();
    const imported = await cli(
      join(work.dir, 'elsewhere'),
      '--config',
      target.configFile,
      'import',
      archive,
    );
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/ingestions: 4/);
  }, 120_000);

  it('brings every record intact: listings are equal, ids, times, sequences and revisions kept', async () => {
    const source = await openFeatureStore({ store: sourceDir });
    const moved = await openFeatureStore(
      parseConfig(JSON.parse(await readFile(target.configFile, 'utf8'))),
    );
    try {
      const before = await snapshot(source.engine.drivers.metadata);
      expect(before).toEqual(exportedRecords);
      expect(await snapshot(moved.engine.drivers.metadata)).toEqual(before);
      expect(before.versions.flat()).toHaveLength(4);
      expect(before.ingestions.flat().filter((i) => i.state === 'reverted')).toHaveLength(1);
      // The two grants, and each project's owner.
      expect(before.permissions).toHaveLength(4);
      expect(before.tokens.flat()).toHaveLength(1);

      const files: string[] = [];
      for await (const object of listAll(moved.storage, 'featuresets/')) files.push(object.key);
      expect(files.sort()).toEqual(
        before.ingestions
          .flat()
          .flatMap((i) => i.files)
          .sort(),
      );
      expect(moved.storage.uri(files[0]!)).toMatch(new RegExp(`^s3://${bucket}/${target.schema}/`));

      // retrieve (now, latest, and as of the reverted ingestion) and historical, cell for cell.
      const entities = join(work.dir, 'entities.csv');
      await writeFile(
        entities,
        'user_id,at\n1,2026-01-01T12:00:00Z\n1,2026-01-03T00:00:00Z\n2,2026-01-03T00:00:00Z\n',
      );
      const runs: [string, (fs: FeatureStore) => Promise<{ outputKey: string }>][] = [
        [
          'all',
          async (fs) =>
            (await fs.engine.offline.retrieve(fs.principal, 'fraud', 'clicks', {})).result,
        ],
        [
          'latest',
          async (fs) =>
            (await fs.engine.offline.retrieve(fs.principal, 'fraud', 'clicks', { latest: true }))
              .result,
        ],
        [
          'as of the reverted ingestion',
          async (fs) =>
            (
              await fs.engine.offline.retrieve(fs.principal, 'fraud', 'clicks', {
                asOf: { ingestionId: revertedId } satisfies AsOf,
              })
            ).result,
        ],
        [
          'historical',
          async (fs) =>
            (
              await fs.engine.offline.historical(fs.principal, {
                entities,
                entityTime: 'at',
                features: 'fraud/clicks:clicks,growth/visits:clicks',
              })
            ).result,
        ],
      ];
      for (const [what, run] of runs) {
        const expected = await outputOf(source, run(source));
        expect(await outputOf(moved, run(moved)), what).toEqual(expected);
        expect(expected.length, what).toBeGreaterThan(1);
      }
      const asOfReverted = await outputOf(source, runs[2]![1](source));
      expect(asOfReverted.join('\n')).toMatch(/,70$/m);

      const alice = await moved.authenticate(aliceToken);
      expect(alice.name).toBe('alice');
      expect(await moved.engine.access.localAdmin()).toMatchObject({
        userId: source.principal.userId,
      });
      // Later commits continue after the imported sequences.
      const next = join(work.dir, 'd.csv');
      await writeFile(next, 'user_id,ts,clicks\n3,2026-01-04T00:00:00Z,1\n');
      const committed = await (
        await moved.engine.offline.ingest(moved.principal, 'fraud', 'clicks', next)
      ).result;
      const sequences = before.ingestions.flat().map((i) => i.sequence);
      expect(committed.sequence).toBeGreaterThan(Math.max(...sequences));
      expect((await moved.engine.drivers.metadata.getIngestion(firstId))?.sequence).toBe(
        Math.min(...sequences),
      );
    } finally {
      await source.close();
      await moved.close();
    }
  }, 120_000);

  it('imports into an empty embedded store folder too (a restore of a backup)', async () => {
    const restoredDir = join(work.dir, 'restored');
    const imported = await cli(restoredDir, 'import', archive);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    const source = await openFeatureStore({ store: sourceDir });
    try {
      const restored = await openFeatureStore({ store: restoredDir });
      try {
        expect(await snapshot(restored.engine.drivers.metadata)).toEqual(exportedRecords);
        const latest = (fs: FeatureStore) =>
          fs.engine.offline.retrieve(fs.principal, 'fraud', 'clicks', { latest: true });
        expect(await outputOf(restored, (await latest(restored)).result)).toEqual(
          await outputOf(source, (await latest(source)).result),
        );
      } finally {
        await restored.close();
      }
    } finally {
      await source.close();
    }
  }, 120_000);

  it('exports for admins only, into a new or empty folder', async () => {
    const tokenFile = join(work.dir, 'alice.token');
    await writeFile(tokenFile, `${aliceToken}\n`);
    const denied = await cli(sourceDir, '--token-file', tokenFile, 'export', join(work.dir, 'x'));
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/alice is not an admin/);
    await expect(readdir(join(work.dir, 'x'))).rejects.toThrow(/ENOENT/);
    const taken = await cli(sourceDir, 'export', archive);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(`export folder ${archive} is not empty`);
  }, 60_000);

  it('refuses a target that is not empty, naming what is there', async () => {
    const again = await cli(
      join(work.dir, 'elsewhere'),
      '--config',
      target.configFile,
      'import',
      archive,
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/target metadata store is not empty: it holds users \([^)]*alice/);
    expect(again.stderr).toMatch(/projects \(fraud, growth\)/);
  }, 60_000);

  it('refuses a corrupted data file by its checksum and leaves the target empty', async () => {
    const damaged = join(work.dir, 'damaged');
    await cp(archive, damaged, { recursive: true });
    const manifest = JSON.parse(await readFile(join(damaged, 'manifest.json'), 'utf8'));
    const file = manifest.data.find((f: { key: string }) => f.key.endsWith('.parquet'))
      .key as string;
    const path = join(damaged, 'data', file);
    const bytes = await readFile(path);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(path, bytes);
    const fresh = await freshTarget();
    const result = await cli(
      join(work.dir, 'elsewhere'),
      '--config',
      fresh.configFile,
      '--json',
      'import',
      damaged,
    );
    expect(result.code).toBe(1);
    const error = JSON.parse(result.stderr);
    expect(error.code).toBe('VALIDATION');
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/does not match its checksum/);

    const metadata = await PostgresMetadataStore.open({
      connectionString: postgresUrl,
      schema: fresh.schema,
    });
    try {
      expect((await metadata.listUsers()).items).toEqual([]);
      expect((await metadata.listProjects()).items).toEqual([]);
    } finally {
      await metadata.close();
    }
    const storage = await openStorageUrl(fresh.storage, parseConfig({ store: work.dir, s3 }));
    const objects: string[] = [];
    for await (const object of listAll(storage, '')) objects.push(object.key);
    await storage.close?.();
    expect(objects).toEqual([]);
    expect(await readdir(damaged)).toContain('manifest.json');
  }, 60_000);
});
