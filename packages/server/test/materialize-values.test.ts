import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { tempStore } from './helpers.js';

// The materializer decodes the compute engine's rows with short paths for common types; the
// online values must be exactly those a push of the same row stores.

const kinds = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'b', type: 'bool' },
    { name: 'i32', type: 'int32' },
    { name: 'small', type: 'int64' },
    { name: 'zero', type: 'int64' },
    { name: 'big', type: 'int64' },
    { name: 'f32', type: 'float32' },
    { name: 'f32short', type: 'float32' },
    { name: 'floats32', type: 'list<float32>' },
    { name: 'floats', type: 'list<float64>' },
    { name: 'bools', type: 'list<bool>' },
    { name: 'dates', type: 'list<date>' },
    { name: 'f64', type: 'float64' },
    { name: 's', type: 'string' },
    { name: 'bytes', type: 'bytes' },
    { name: 'd', type: 'date' },
    { name: 'millis', type: 'timestamp' },
    { name: 'micros', type: 'timestamp' },
    { name: 'strings', type: 'list<string>' },
    { name: 'ints', type: 'list<int64>' },
    { name: 'times', type: 'list<timestamp>' },
    { name: 'nothing', type: 'float64' },
  ],
};

const values = {
  ts: '2026-01-01T00:00:00.000Z',
  b: true,
  i32: -5,
  small: -123456789012345,
  zero: 0,
  f32: 1.5,
  f32short: 1.1,
  floats32: [1.1, null, -2.5],
  floats: [0.1, 1e300],
  bools: [true, false],
  dates: ['2024-01-01'],
  f64: 0.1,
  s: 'x,"y"\nz',
  bytes: 'aGVsbG8=',
  d: '2024-02-29',
  millis: '2026-01-01T10:00:00.123Z',
  micros: '2026-01-01T10:00:00.123456Z',
  strings: ['a', null, ''],
  times: ['2026-01-01T00:00:00Z'],
  nothing: null,
};

describe('materialized values equal pushed values', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let files: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;
  beforeAll(async () => {
    store = await tempStore();
    files = await tempStore();
    fs = await openFeatureStore({ store: store.dir });
    await fs.engine.projects.create(fs.principal, { name: 'values' });
    await fs.engine.featureSets.register(fs.principal, 'values', 'kinds', kinds);
  }, 60_000);
  afterAll(async () => {
    await fs?.close();
    await store?.remove();
    await files?.remove();
  });

  it('for every type, with and without the short paths', async () => {
    const { engine, principal } = fs;
    // JSON Lines numbers keep every digit of an int64 in the file; a push sends it as text.
    const file = join(files.dir, 'kinds.jsonl');
    const line = JSON.stringify({ id: 'materialized', ...values, big: 0, ints: [0] })
      .replace('"big":0', '"big":9007199254740993')
      .replace('"ints":[0]', '"ints":[1,9007199254740993]');
    await writeFile(file, `${line}\n`);
    const ingested = await (await engine.offline.ingest(principal, 'values', 'kinds', file)).result;
    expect(ingested).toMatchObject({ rowCount: 1, online: { written: 1 } });
    // The same row through the engine's JSON Lines file (an engine that does not stream).
    const compute = engine.drivers.compute;
    const stream = compute.streamRetrieve;
    expect(stream).toBeTypeOf('function');
    await writeFile(file, `${line.replace('"id":"materialized"', '"id":"file"')}\n`);
    Object.defineProperty(compute, 'streamRetrieve', { value: undefined, configurable: true });
    try {
      await (await engine.offline.ingest(principal, 'values', 'kinds', file)).result;
    } finally {
      Object.defineProperty(compute, 'streamRetrieve', { value: stream, configurable: true });
    }

    const pushed = [
      { id: 'pushed', ...values, big: '9007199254740993', ints: [1, '9007199254740993'] },
    ];
    await engine.online!.push(principal, 'values', 'kinds', pushed);
    await engine.online!.waitApplied(principal, 'values', 'kinds', pushed, { timeoutMs: 30_000 });

    const [materialized, throughFile, reference] = await engine.online!.getOnlineFeatures(
      principal,
      {
        features: 'values/kinds:*',
        entities: [{ id: 'materialized' }, { id: 'file' }, { id: 'pushed' }],
      },
    );
    const { id: _m, ...materializedValues } = materialized!;
    const { id: _f, ...fileValues } = throughFile!;
    const { id: _p, ...pushedValues } = reference!;
    expect(materializedValues).toEqual(pushedValues);
    expect(fileValues).toEqual(pushedValues);
    expect(materializedValues).toMatchObject({
      kinds__big: '9007199254740993',
      kinds__small: -123456789012345,
      kinds__zero: 0,
      kinds__millis: '2026-01-01T10:00:00.123Z',
      kinds__micros: '2026-01-01T10:00:00.123Z',
      kinds__ints: [1, '9007199254740993'],
      kinds__nothing: null,
      kinds__f32short: 1.1,
      kinds__floats32: [1.1, null, -2.5],
    });
  }, 120_000);
});

describe('materialize and revert with the data in S3 (staged inputs, streamed rows)', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let files: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;
  beforeAll(async () => {
    store = await tempStore();
    files = await tempStore();
    const bucket = `fs-materialize-${randomUUID().slice(0, 8)}`;
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
    fs = await openFeatureStore({ store: store.dir, storage: `s3://${bucket}/store`, s3 });
    await fs.engine.projects.create(fs.principal, { name: 'remote' });
    await fs.engine.featureSets.register(fs.principal, 'remote', 'kinds', kinds);
  }, 60_000);
  afterAll(async () => {
    await fs?.close();
    await store?.remove();
    await files?.remove();
  });

  it('puts the remaining committed row back online after a revert', async () => {
    const { engine, principal } = fs;
    const ingest = async (name: string, ts: string, f64: number) => {
      const file = join(files.dir, `${name}.jsonl`);
      const row = { id: 'k', ...values, ts, f64, big: '1', ints: [1] };
      await writeFile(file, `${JSON.stringify(row)}\n`);
      return (await engine.offline.ingest(principal, 'remote', 'kinds', file)).result;
    };
    await ingest('a', '2026-01-01T00:00:00Z', 1);
    const b = await ingest('b', '2026-01-02T00:00:00Z', 2);
    const read = async () => {
      const [row] = await engine.online!.getOnlineFeatures(principal, {
        features: 'remote/kinds:f64',
        entities: [{ id: 'k' }],
      });
      return row!.kinds__f64;
    };
    expect(await read()).toBe(2);
    const reverted = await (
      await engine.offline.revert(principal, 'remote', 'kinds', b.ingestionId)
    ).result;
    expect(reverted.online).toEqual({ keys: 1, replaced: 1, deleted: 0, kept: 0 });
    expect(await read()).toBe(1);
    const rebuilt = await (
      await engine.online!.materialize(principal, 'remote', 'kinds', { rebuild: true })
    ).result;
    expect(rebuilt).toEqual({ rows: 1, written: 0, unchanged: 1, older: 0, deleted: 0 });
  }, 120_000);
});
