import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { FeatureStoreError, UnavailableError } from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { tempStore, until } from './helpers.js';

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
  ],
};

const s3 = () => ({
  endpoint: serviceEnv('FEATURESTORE_TEST_S3_ENDPOINT'),
  region: serviceEnv('FEATURESTORE_TEST_S3_REGION'),
  forcePathStyle: true,
  accessKeyId: serviceEnv('FEATURESTORE_TEST_S3_ACCESS_KEY_ID'),
  secretAccessKey: serviceEnv('FEATURESTORE_TEST_S3_SECRET_ACCESS_KEY'),
});

async function createBucket(bucket: string): Promise<void> {
  const config = s3();
  const client = new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: true,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

describe('the offline sync when the environment fails (S3 bucket missing at first)', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('retries instead of dead-lettering, names the cause when a push gives up waiting, and syncs every row once the bucket exists', async () => {
    const bucket = `fs-missing-${randomUUID().slice(0, 8)}`;
    const store = await tempStore();
    cleanups.push(store.remove);
    const failures: unknown[] = [];
    const fs: FeatureStore = await openFeatureStore(
      { store: store.dir, storage: `s3://${bucket}/store`, s3: s3() },
      { reports: { onError: (error) => failures.push(error), onDeadLetter: () => {} } },
    );
    cleanups.push(() => fs.close());
    const { engine, principal } = fs;
    await engine.projects.create(principal, { name: 'env' });
    await engine.featureSets.register(principal, 'env', 'customers', customers);
    const online = engine.online!;
    await online.startWorker({ offlineSync: true });

    const ts = Date.now() - 60_000;
    const rows = Array.from({ length: 5 }, (_, i) => ({
      customer_id: `c${i}`,
      ts: new Date(ts + i).toISOString(),
      age: 20 + i,
    }));
    const result = await online.push(principal, 'env', 'customers', rows);
    await online.waitApplied(principal, 'env', 'customers', rows, { timeoutMs: 30_000 });

    // The sync meets the missing bucket (NOT_FOUND), reports it and retries.
    await until(() => failures.length > 0, 'a failed sync', 30_000);
    expect(failures[0]).toBeInstanceOf(FeatureStoreError);
    expect((failures[0] as FeatureStoreError).message).toContain(bucket);
    const gaveUp = await online.waitSynced(result, { timeoutMs: 500 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(gaveUp).toBeInstanceOf(UnavailableError);
    expect((gaveUp as Error).message).toMatch(
      /were published to the queue but not synced .* the offline sync keeps failing: .*fs-missing-/,
    );

    await createBucket(bucket);
    await online.waitSynced(result, { timeoutMs: 60_000 });
    expect(online.offlineSync.deadLettered).toBe(0);
    expect(online.deadLettered).toBe(0);

    const running = await engine.offline.retrieve(principal, 'env', 'customers', {
      format: 'csv',
    });
    const { outputKey } = await running.result;
    const chunks: Buffer[] = [];
    for await (const chunk of await fs.storage.get(outputKey)) chunks.push(chunk as Buffer);
    const [header, ...lines] = Buffer.concat(chunks).toString('utf8').trim().split('\n');
    const column = header!.split(',').indexOf('customer_id');
    expect(lines.map((line) => line.split(',')[column]).sort()).toEqual(
      rows.map((row) => row.customer_id),
    );
  }, 120_000);
});
