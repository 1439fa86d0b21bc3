import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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

    const pushed = [
      { id: 'pushed', ...values, big: '9007199254740993', ints: [1, '9007199254740993'] },
    ];
    await engine.online!.push(principal, 'values', 'kinds', pushed);
    await engine.online!.waitApplied(principal, 'values', 'kinds', pushed, { timeoutMs: 30_000 });

    const [materialized, reference] = await engine.online!.getOnlineFeatures(principal, {
      features: 'values/kinds:*',
      entities: [{ id: 'materialized' }, { id: 'pushed' }],
    });
    const { id: _m, ...materializedValues } = materialized!;
    const { id: _p, ...pushedValues } = reference!;
    expect(materializedValues).toEqual(pushedValues);
    expect(materializedValues).toMatchObject({
      kinds__big: '9007199254740993',
      kinds__small: -123456789012345,
      kinds__zero: 0,
      kinds__millis: '2026-01-01T10:00:00.123Z',
      kinds__micros: '2026-01-01T10:00:00.123Z',
      kinds__ints: [1, '9007199254740993'],
      kinds__nothing: null,
    });
  }, 120_000);
});
