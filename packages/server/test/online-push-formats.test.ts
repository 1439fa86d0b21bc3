import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { OFFLINE_SYNC_SOURCE } from '@featurestore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFeatureStore } from '../src/index.js';
import { cli, tempStore } from './helpers.js';

const measures = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'n', type: 'int64' },
    { name: 'score', type: 'float64' },
    { name: 'ok', type: 'bool' },
    { name: 'tags', type: 'list<string>' },
    { name: 'day', type: 'date' },
  ],
};

describe('featurestore online push: CSV, Parquet and JSON Lines', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  const file = (name: string) => join(store.dir, name);
  const push = (...argv: string[]) =>
    cli(store.dir, '--json', 'online', 'push', 'formats', 'measures', ...argv);
  const online = async (...ids: string[]) => {
    const fs = await openFeatureStore({ store: store.dir });
    try {
      return await fs.engine.online!.getOnlineFeatures(fs.principal, {
        features: 'formats/measures:*',
        entities: ids.map((customer_id) => ({ customer_id })),
      });
    } finally {
      await fs.close();
    }
  };

  beforeAll(async () => {
    store = await tempStore();
    const fs = await openFeatureStore({ store: store.dir });
    await fs.engine.projects.create(fs.principal, { name: 'formats' });
    await fs.engine.featureSets.register(fs.principal, 'formats', 'measures', measures);
    await fs.close();
  }, 60_000);
  afterAll(async () => {
    await store?.remove();
  });

  it('pushes CSV with values typed by the feature set as ingest parses them (string keys stay strings, int64 keeps its digits)', async () => {
    await writeFile(
      file('rows.csv'),
      [
        'customer_id,ts,n,score,ok,tags,day',
        '007,2026-01-01T00:00:00,9007199254740993,1.5,true,"[""a"",""b""]",2026-01-02',
        'c2,2026-01-01 00:00:00Z,-3,2,false,[],2026-01-03',
      ].join('\n'),
    );
    const result = await push(file('rows.csv'));
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({
      rows: 2,
      format: 'csv',
      offlineSynced: true,
    });
    const [first, second] = await online('007', 'c2');
    expect(first).toMatchObject({
      customer_id: '007',
      measures__n: '9007199254740993',
      measures__score: 1.5,
      measures__ok: true,
      measures__tags: ['a', 'b'],
      measures__day: '2026-01-02',
    });
    expect(second).toMatchObject({ measures__n: -3, measures__ok: false, measures__tags: [] });
  }, 60_000);

  it('pushes Parquet, and a file whose name does not tell its format with --format', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    await connection.run(
      `COPY (SELECT 'p1' AS customer_id, TIMESTAMPTZ '2026-01-01 00:00:00+00' AS ts, 5::BIGINT AS n, 2.5::DOUBLE AS score, true AS ok, ['x'] AS tags, DATE '2026-01-04' AS day) TO '${file('rows.parquet')}' (FORMAT parquet)`,
    );
    connection.closeSync();
    instance.closeSync();
    const parquet = await push(file('rows.parquet'));
    expect(parquet.stderr).toBe('');
    expect(JSON.parse(parquet.stdout)).toMatchObject({ rows: 1, format: 'parquet' });

    await writeFile(
      file('rows.txt'),
      'customer_id,ts,n,score,ok,tags,day\nt1,2026-01-01T00:00:00Z,1,1,true,[],2026-01-01\n',
    );
    const unknown = await push(file('rows.txt'));
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(
      /^\{"code":"VALIDATION","message":"[^"]*rows\.txt: the format cannot be told .* --format csv\|parquet\|json/,
    );
    const told = await push('--format', 'csv', file('rows.txt'));
    expect(told.stderr).toBe('');
    const [p1, t1] = await online('p1', 't1');
    expect(p1).toMatchObject({
      measures__n: 5,
      measures__tags: ['x'],
      measures__day: '2026-01-04',
    });
    expect(t1).toMatchObject({ measures__n: 1 });
  }, 60_000);

  it.each([
    [
      'a CSV value that does not parse',
      'bad.csv',
      'customer_id,ts,n,score,ok,tags,day\nbad1,2026-01-01T00:00:00Z,1,1,true,[],2026-01-01\nbad2,2026-01-01T00:00:00Z,12.5,1,true,[],2026-01-01\n',
      /bad\.csv row 2 .*column "n": "12\.5" is not a valid int64: write an integer/,
    ],
    [
      'an empty key',
      'nokey.csv',
      'customer_id,ts,n,score,ok,tags,day\nbad1,2026-01-01T00:00:00Z,1,1,true,[],2026-01-01\n,2026-01-01T00:00:00Z,1,1,true,[],2026-01-01\n',
      /nokey\.csv row 2 .*column "customer_id": the primary key is empty/,
    ],
    [
      'a column the schema lacks',
      'extra.csv',
      'customer_id,ts,n,score,ok,tags,day,color\nbad1,2026-01-01T00:00:00Z,1,1,true,[],2026-01-01,red\n',
      /extra\.csv has column "color", which the schema does not define/,
    ],
    [
      'a JSON Lines row of the wrong type',
      'bad.jsonl',
      '{"customer_id":"bad1","ts":"2026-01-01T00:00:00Z","n":1}\n\n{"customer_id":"bad2","ts":"2026-01-01T00:00:00Z","n":"many"}\n',
      /bad\.jsonl line 3.*"n"/,
    ],
  ])(
    'refuses %s, naming file, row and column, and pushes none of its rows',
    async (_case, name, text, message) => {
      await writeFile(file(name), text);
      const result = await push(file(name));
      expect(result.code).not.toBe(0);
      expect(JSON.parse(result.stderr)).toMatchObject({
        code: 'VALIDATION',
        message: expect.stringMatching(message),
      });
      const [bad1] = await online('bad1');
      expect(bad1!.measures__n).toBeNull();
    },
    60_000,
  );

  it('streams a file in batches (--batch-rows): every row online and offline', async () => {
    const count = 2500;
    const lines = Array.from({ length: count }, (_, i) =>
      JSON.stringify({ customer_id: `s${i}`, ts: '2026-02-01T00:00:00Z', n: i, tags: ['t'] }),
    );
    await writeFile(file('many.jsonl'), `${lines.join('\n')}\n`);
    const result = await push('--batch-rows', '1000', file('many.jsonl'));
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({ rows: count, pushes: 3, format: 'json' });
    const rows = await online('s0', 's1999', `s${count - 1}`);
    expect(rows.map((row) => row.measures__n)).toEqual([0, 1999, count - 1]);
    const fs = await openFeatureStore({ store: store.dir });
    try {
      const ingestions = await fs.engine.offline.ingestions(fs.principal, 'formats', 'measures');
      const synced = ingestions
        .filter((ingestion) => ingestion.source === OFFLINE_SYNC_SOURCE)
        .reduce((sum, ingestion) => sum + ingestion.rowCount, 0);
      // Every row pushed by this file's test and the earlier ones, each once.
      expect(synced).toBe(count + 2 + 1 + 1);
    } finally {
      await fs.close();
    }
  }, 120_000);
});
