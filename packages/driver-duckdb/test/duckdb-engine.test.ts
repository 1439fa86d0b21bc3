import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FeatureSetSchema, JobRunContext } from '@featurestore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbComputeEngine } from '../src/index.js';

// What the conformance suite cannot say for every engine: URI schemes, lifecycle, typed
// entity files.
const schema: FeatureSetSchema = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'amount', type: 'float64' },
  ],
};
const context = (): JobRunContext => ({
  signal: new AbortController().signal,
  reportProgress: () => undefined,
});

describe('DuckDbComputeEngine', () => {
  let root: string;
  let engine: DuckDbComputeEngine;
  const uri = (name: string) => pathToFileURL(join(root, name)).href;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'featurestore-duckdb-test-'));
    engine = new DuckDbComputeEngine({ threads: 2, memoryLimit: '512MB' });
    await writeFile(
      join(root, 'a.csv'),
      'id,ts,amount\n1,2024-01-01T00:00:00Z,1.5\n2,2024-01-02,2\n',
    );
  });
  afterAll(async () => {
    await engine.close();
    await rm(root, { recursive: true, force: true });
  });

  it('refuses URIs other than file:// with NOT_SUPPORTED, naming the scheme', async () => {
    await expect(
      engine.run(
        {
          type: 'ingest',
          sources: ['s3://bucket/tx.csv'],
          format: 'csv',
          schema,
          outputPrefix: uri('s3-out'),
        },
        context(),
      ),
    ).rejects.toMatchObject({ code: 'NOT_SUPPORTED', message: expect.stringMatching(/s3:/) });
  });

  it('runs jobs concurrently, each on its own connection', async () => {
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        engine.run(
          {
            type: 'ingest',
            sources: [uri('a.csv')],
            format: 'csv',
            schema,
            outputPrefix: uri(`concurrent-${i}`),
          },
          context(),
        ),
      ),
    );
    expect(results.map((result) => result.rowCount)).toEqual([2, 2, 2, 2]);
  });

  it('joins typed entity files (Parquet, JSON lines) and writes their times as ISO 8601', async () => {
    const { files } = await engine.run(
      { type: 'ingest', sources: [uri('a.csv')], format: 'csv', schema, outputPrefix: uri('pit') },
      context(),
    );
    const featureSets = [
      { name: 'fs', schema, inputs: [{ sequence: 1, uris: files }], features: ['amount'] },
    ];
    await engine.run(
      {
        type: 'retrieve',
        schema,
        inputs: [{ sequence: 1, uris: files }],
        output: { uri: uri('entities.parquet'), format: 'parquet' },
      },
      context(),
    );
    await engine.run(
      {
        type: 'historical',
        entities: { uri: uri('entities.parquet'), format: 'parquet', timeColumn: 'ts' },
        featureSets,
        output: { uri: uri('from-parquet.csv'), format: 'csv' },
      },
      context(),
    );
    expect(await readFile(join(root, 'from-parquet.csv'), 'utf8')).toBe(
      'id,ts,amount,fs__amount\n1,2024-01-01T00:00:00.000Z,1.5,1.5\n2,2024-01-02T00:00:00.000Z,2.0,2.0\n',
    );
    await writeFile(
      join(root, 'entities.jsonl'),
      '{"id": 2, "at": "2024-01-03T00:00:00+01:00"}\n{"id": 1, "at": "2023-12-31T23:59:59Z"}\n',
    );
    const result = await engine.run(
      {
        type: 'historical',
        entities: { uri: uri('entities.jsonl'), format: 'json', timeColumn: 'at' },
        featureSets,
        output: { uri: uri('from-json.csv'), format: 'csv' },
      },
      context(),
    );
    expect(result.rowCount).toBe(2);
    const [header, first, second] = (await readFile(join(root, 'from-json.csv'), 'utf8')).split(
      '\n',
    );
    expect(header).toBe('id,at,fs__amount');
    expect(first).toMatch(/^2,.*,2\.0$/);
    expect(second).toMatch(/^1,.*,$/);
  });

  it('refuses jobs after close with UNAVAILABLE', async () => {
    const closing = new DuckDbComputeEngine({ threads: 1 });
    await closing.close();
    await expect(
      closing.run(
        { type: 'retrieve', schema, inputs: [], output: { uri: uri('closed.csv'), format: 'csv' } },
        context(),
      ),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
