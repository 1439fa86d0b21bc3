import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore, openStorageUrl, parseConfig } from '../src/index.js';
import { tempStore } from './helpers.js';

/*
 * Schema inference from an S3 source (moto): the staging compute engine downloads the files
 * for the local engine, as for an ingestion, and the same prefix then ingests.
 */
describe('schema inference from a source in S3', { timeout: 120_000 }, () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;
  let root: string;

  beforeAll(async () => {
    store = await tempStore();
    const bucket = `fs-infer-${randomUUID().slice(0, 8)}`;
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
    root = `s3://${bucket}`;
    const config = { storage: `${root}/store`, s3, store: store.dir };
    fs = await openFeatureStore(config);
    const sources = await openStorageUrl(`${root}/incoming`, parseConfig(config));
    await sources.put('days/a.csv', 'user_id,ts,clicks\n1,2026-01-02T10:00:00Z,7\n');
    // The second file makes `clicks` float64: inference reads every file of the prefix.
    await sources.put('days/b.csv', 'user_id,ts,clicks\n2,2026-01-02T10:00:00Z,9.5\n');
    await sources.close?.();
    await fs.engine.projects.create(fs.principal, { name: 'remote' });
  }, 60_000);
  afterAll(async () => {
    await fs?.close();
    await store?.remove();
  });

  it('infers from every object under a prefix, registers, and the prefix ingests', async () => {
    const { engine, principal } = fs;
    const inferred = await engine.schemaInference.infer(
      principal,
      'remote',
      `${root}/incoming/days/`,
      { primaryKey: ['user_id'], eventTime: 'ts' },
    );
    expect(inferred.rowCount).toBe(2);
    expect(inferred.source.uris).toEqual([
      `${root}/incoming/days/a.csv`,
      `${root}/incoming/days/b.csv`,
    ]);
    expect(inferred.definition).toEqual({
      primaryKey: ['user_id'],
      eventTime: 'ts',
      features: [
        { name: 'user_id', type: 'int64' },
        { name: 'ts', type: 'timestamp' },
        { name: 'clicks', type: 'float64' },
      ],
    });
    await engine.featureSets.register(principal, 'remote', 'clicks', inferred.definition);
    const ingested = await (
      await engine.offline.ingest(principal, 'remote', 'clicks', `${root}/incoming/days/`)
    ).result;
    expect(ingested.rowCount).toBe(2);
  });

  it('names a missing source object', async () => {
    await expect(
      fs.engine.schemaInference.infer(fs.principal, 'remote', `${root}/incoming/nope.csv`, {
        primaryKey: ['user_id'],
        eventTime: 'ts',
      }),
    ).rejects.toThrow(/nope\.csv does not exist/);
  });
});
