import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { listAll, type Principal, readAll } from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FeatureStore,
  type FeatureStoreConfigInput,
  openFeatureStore,
  openStorageUrl,
  parseConfig,
} from '../src/index.js';
import { tempStore } from './helpers.js';

const schema = {
  primaryKey: ['user_id'],
  eventTime: 'ts',
  features: [
    { name: 'user_id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'clicks', type: 'int32' },
  ],
};

interface Backend {
  name: string;
  /** Creates a fresh bucket/container and returns the config pointing the store at it. */
  setup(): Promise<{ root: string; config: FeatureStoreConfigInput }>;
}

const backends: Backend[] = [
  {
    name: 'S3 (moto)',
    async setup() {
      const bucket = `fs-e2e-${randomUUID().slice(0, 8)}`;
      const s3 = {
        endpoint: serviceEnv('FEATURESTORE_TEST_S3_ENDPOINT'),
        region: serviceEnv('FEATURESTORE_TEST_S3_REGION'),
        forcePathStyle: true,
        accessKeyId: serviceEnv('FEATURESTORE_TEST_S3_ACCESS_KEY_ID'),
        secretAccessKey: serviceEnv('FEATURESTORE_TEST_S3_SECRET_ACCESS_KEY'),
      };
      const client = new S3Client({
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      });
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      client.destroy();
      return { root: `s3://${bucket}`, config: { storage: `s3://${bucket}/store`, s3 } };
    },
  },
  {
    name: 'ADLS Gen2 (Azurite, blob endpoint)',
    async setup() {
      const filesystem = `fs-e2e-${randomUUID().slice(0, 8)}`;
      const service = BlobServiceClient.fromConnectionString(
        serviceEnv('FEATURESTORE_TEST_AZURITE_CONNECTION_STRING'),
      );
      await service.getContainerClient(filesystem).create();
      const account = serviceEnv('FEATURESTORE_TEST_AZURITE_ACCOUNT');
      const azure = {
        accountKey: serviceEnv('FEATURESTORE_TEST_AZURITE_KEY'),
        blobEndpoint: serviceEnv('FEATURESTORE_TEST_AZURITE_BLOB_URL'),
      };
      const root = `abfss://${filesystem}@${account}.dfs.core.windows.net`;
      return { root, config: { storage: `${root}/store`, azure } };
    },
  },
];

describe.each(backends)('the offline engine rooted on $name', (backend) => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;
  let root: string;
  beforeAll(async () => {
    store = await tempStore();
    const { root: created, config } = await backend.setup();
    root = created;
    fs = await openFeatureStore({
      ...config,
      store: store.dir,
      sources: { roots: [`${root}/incoming/`] },
    });
    // Sources live in the same bucket/filesystem, outside the store's prefix.
    const sources = await openStorageUrl(
      `${root}/incoming`,
      parseConfig({ ...config, store: store.dir }),
    );
    await sources.put(
      'day1.csv',
      'user_id,ts,clicks\n1,2026-01-01T10:00:00Z,3\n2,2026-01-01T11:00:00Z,5\n',
    );
    await sources.put('days/a.csv', 'user_id,ts,clicks\n1,2026-01-02T10:00:00Z,7\n');
    await sources.put('days/b.csv', 'user_id,ts,clicks\n2,2026-01-02T10:00:00Z,9\n');
    await sources.put(
      'entities.csv',
      'user_id,at\n1,2026-01-01T12:00:00Z\n2,2026-01-03T00:00:00Z\n3,2026-01-03T00:00:00Z\n',
    );
    await sources.close?.();
    await fs.engine.projects.create(fs.principal, { name: 'remote' });
    await fs.engine.featureSets.register(fs.principal, 'remote', 'clicks', schema);
  }, 60_000);
  afterAll(async () => {
    await fs?.close();
    await store?.remove();
  });

  it('ingests a single object and a prefix, writes data under the store root, and retrieves', async () => {
    const { engine, principal, storage } = fs;
    const single = await (
      await engine.offline.ingest(principal, 'remote', 'clicks', `${root}/incoming/day1.csv`)
    ).result;
    expect(single.rowCount).toBe(2);
    const prefix = await (
      await engine.offline.ingest(principal, 'remote', 'clicks', `${root}/incoming/days/`)
    ).result;
    expect(prefix.rowCount).toBe(2);

    const files: string[] = [];
    for await (const object of listAll(storage, 'featuresets/')) files.push(object.key);
    // One part per source file: day1.csv, and the prefix's two files.
    expect(files.filter((key) => key.endsWith('.parquet'))).toHaveLength(3);
    expect(storage.uri(files[0]!).startsWith(`${root}/store/featuresets/`)).toBe(true);

    const latest = await (
      await engine.offline.retrieve(principal, 'remote', 'clicks', { latest: true })
    ).result;
    expect(storage.uri(latest.outputKey).startsWith(`${root}/store/outputs/`)).toBe(true);
    const text = (await readAll(await storage.get(latest.outputKey))).toString('utf8');
    expect(text.trim().split('\n').slice(1).sort()).toEqual([
      expect.stringMatching(/^1,2026-01-02T10:00:00(\.000)?Z,7$/),
      expect.stringMatching(/^2,2026-01-02T10:00:00(\.000)?Z,9$/),
    ]);
  }, 60_000);

  it('builds a training set from an entity file in the storage, written to the storage', async () => {
    const { engine, principal, storage } = fs;
    const training = await (
      await engine.offline.historical(principal, {
        entities: `${root}/incoming/entities.csv`,
        entityTime: 'at',
        features: 'remote/clicks:clicks',
        format: 'parquet',
      })
    ).result;
    expect(training.rowCount).toBe(3);
    expect((await storage.head(training.outputKey))?.size).toBeGreaterThan(0);
    const csv = await (
      await engine.offline.historical(principal, {
        entities: `${root}/incoming/entities.csv`,
        entityTime: 'at',
        features: 'remote/clicks:clicks',
      })
    ).result;
    const lines = (await readAll(await storage.get(csv.outputKey)))
      .toString('utf8')
      .trim()
      .split('\n');
    expect(lines.map((line) => line.split(',').at(-1))).toEqual(['clicks__clicks', '3', '9', '']);
  }, 60_000);

  it('names a missing source object clearly, before any job starts', async () => {
    await expect(
      fs.engine.offline.ingest(fs.principal, 'remote', 'clicks', `${root}/incoming/nope.csv`),
    ).rejects.toThrow(/nope\.csv does not exist/);
  });

  it("reads sources under the landing root only, and the store's own data never", async () => {
    const { engine, principal: admin, storage } = fs;
    await engine.access.createUser(admin, { name: 'lander' });
    await engine.access.grant(admin, 'remote', 'lander', 'editor');
    const { secret } = await engine.access.createToken(admin, { name: 'ci', user: 'lander' });
    const lander = await fs.authenticate(secret);
    const ingest = async (principal: Principal, source: string) =>
      (await engine.offline.ingest(principal, 'remote', 'clicks', source)).result;
    const entities = async (principal: Principal, file: string) =>
      (
        await engine.offline.historical(principal, {
          entities: file,
          entityTime: 'ts',
          features: 'remote/clicks:clicks',
        })
      ).result;

    expect(await ingest(lander, `${root}/incoming/day1.csv`)).toMatchObject({ rowCount: 2 });
    const part: string[] = [];
    for await (const object of listAll(storage, 'featuresets/')) part.push(object.key);
    const stored = storage.uri(part[0]!);
    for (const [principal, source, code] of [
      [lander, `${root}/elsewhere/day1.csv`, 'PERMISSION_DENIED'],
      [lander, `${root}/incomingx/day1.csv`, 'PERMISSION_DENIED'],
      [lander, `${root}/incoming/../store/`, 'VALIDATION'],
      [lander, `${root}/incoming//day1.csv`, 'VALIDATION'],
      [lander, stored, 'PERMISSION_DENIED'],
      [admin, stored, 'PERMISSION_DENIED'],
      [admin, `${root}/store/featuresets/`, 'PERMISSION_DENIED'],
      [admin, `${root}/store`, 'PERMISSION_DENIED'],
    ] as const) {
      await expect(ingest(principal, source), `${principal.name}: ${source}`).rejects.toMatchObject(
        { code },
      );
      await expect(
        entities(principal, source),
        `${principal.name}: ${source}`,
      ).rejects.toMatchObject({ code });
    }
  }, 60_000);
});
