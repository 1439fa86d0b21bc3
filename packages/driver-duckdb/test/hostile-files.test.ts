import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FeatureSetSchema, JobRunContext, JobSpec } from '@featurestore/core/driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertDuckDbError, noSpaceError } from '../src/duckdb-errors.js';
import { DuckDbComputeEngine } from '../src/index.js';

// Files that once stalled, crashed or fooled the engine, and failures of the disk under it,
// beyond what the conformance suite says for every engine: DuckDB's own limits (line size),
// its case-insensitive names, damaged committed parts and a full disk. Every file is made by
// the test.
const schema: FeatureSetSchema = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int64' },
    { name: 'note', type: 'string' },
  ],
};
const context = (): JobRunContext => ({
  signal: new AbortController().signal,
  reportProgress: () => undefined,
});
const MiB = 1024 * 1024;

describe('hostile files', () => {
  let root: string;
  let engine: DuckDbComputeEngine;
  let counter = 0;
  const path = (name: string) => join(root, name);
  const uri = (name: string) => pathToFileURL(path(name)).href;
  const run = <S extends JobSpec>(spec: S) => engine.run(spec, context());
  const ingest = (source: string, format: 'csv' | 'json' | 'parquet' = 'csv') =>
    run({
      type: 'ingest',
      sources: [uri(source)],
      format,
      schema,
      outputPrefix: uri(`out-${++counter}`),
    });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'featurestore-duckdb-hostile-'));
    // A JSON line is parsed once per column it holds: 10 MB values need more than 512 MB.
    engine = new DuckDbComputeEngine({ threads: 2, memoryLimit: '1GB' });
  });
  afterAll(async () => {
    await engine.close();
    await rm(root, { recursive: true, force: true });
  });

  /** A Parquet file of the given SELECT, written by a DuckDB of its own. */
  const parquet = async (name: string, select: string) => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    try {
      await connection.run(`COPY (${select}) TO '${path(name)}' (FORMAT parquet)`);
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  };

  describe('line size: values of 10 MB are read, a line beyond 16 MiB names the limit', () => {
    const big = 'x'.repeat(10_000_000);
    it.each([
      [
        'CSV',
        'big.csv',
        `id,ts,age,note\na,2024-01-01T00:00:00Z,1,${big}\nb,2024-01-01T00:00:00Z,2,y\n`,
        'csv',
      ],
      [
        'JSON lines',
        'big.jsonl',
        `{"id":"a","ts":"2024-01-01T00:00:00Z","age":1,"note":"${big}"}\n{"id":"b","ts":"2024-01-01T00:00:00Z","age":2,"note":"y"}\n`,
        'json',
      ],
    ] as const)('%s', async (_, name, content, format) => {
      await writeFile(path(name), content);
      const result = await ingest(name, format);
      expect(result.rowCount).toBe(2);
      expect(result.statistics.note?.max).toBe('y');
    });

    const huge = 'x'.repeat(17 * MiB);
    it.each([
      [
        'CSV',
        'huge.csv',
        `id,ts,age,note\na,2024-01-01T00:00:00Z,1,y\nb,2024-01-01T00:00:00Z,2,${huge}\n`,
        'csv',
        /line 3\b/,
      ],
      ['JSON lines', 'huge.jsonl', `{"id":"a"}\n{"id":"b","note":"${huge}"}\n`, 'json', /line 2\b/],
      ['a CSV header', 'huge-header.csv', `id,ts,age,note${huge}\n`, 'csv', /header/],
    ] as const)('%s beyond the limit', async (_, name, content, format, line) => {
      await writeFile(path(name), content);
      await expect(ingest(name, format)).rejects.toMatchObject({
        code: 'VALIDATION',
        message: expect.stringMatching(new RegExp(`${name.replace('.', '\\.')}.*16 MiB`)),
      });
      await expect(ingest(name, format)).rejects.toMatchObject({
        message: expect.stringMatching(line),
      });
    });
  });

  it('refuses a Parquet file with two columns that differ only in case, naming both', async () => {
    // DuckDB writes no such file (its names are case-insensitive): rename `agx` to `AGE` in
    // the bytes, which keeps every length and offset of the footer.
    await parquet(
      'case0.parquet',
      `SELECT 'a' AS id, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS ts, 1::BIGINT AS age, 2::BIGINT AS agx, 'n' AS note`,
    );
    const bytes = (await readFile(path('case0.parquet'))).toString('latin1');
    await writeFile(path('case.parquet'), Buffer.from(bytes.replaceAll('agx', 'AGE'), 'latin1'));
    await expect(ingest('case.parquet', 'parquet')).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(/case\.parquet .*differ only in case, "age" and "AGE"/),
    });
  });

  it('refuses a Parquet TIMESTAMP_NS finer than a microsecond, keeps whole microseconds', async () => {
    const rows = (fraction: string) =>
      `SELECT * FROM (VALUES ('a', TIMESTAMP_NS '2024-01-01 00:00:00.123456000', 1::BIGINT, 'n'), ` +
      `('b', TIMESTAMP_NS '2024-01-01 00:00:00.${fraction}', 2::BIGINT, 'n')) t(id, ts, age, note)`;
    await parquet('micros.parquet', rows('000001000'));
    expect((await ingest('micros.parquet', 'parquet')).rowCount).toBe(2);
    await parquet('nanos.parquet', rows('000000001'));
    await expect(ingest('nanos.parquet', 'parquet')).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(
        /nanos\.parquet row 2 .*"ts": "2024-01-01 00:00:00\.000000001" is finer than a microsecond/,
      ),
    });
  });

  it('refuses a Parquet file with more than 4,096 columns before building SQL for them', async () => {
    const columns = Array.from({ length: 5000 }, (_, i) => `${i} AS c${i}`).join(', ');
    await parquet('wide.parquet', `SELECT ${columns}`);
    await expect(ingest('wide.parquet', 'parquet')).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(/wide\.parquet has 5,000 columns, more than 4,096/),
    });
  });

  it('refuses a gzip-compressed file given as Parquet, saying so', async () => {
    await parquet('plain.parquet', `SELECT 'a' AS id`);
    await writeFile(path('packed.parquet'), gzipSync(await readFile(path('plain.parquet'))));
    await expect(ingest('packed.parquet', 'parquet')).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(/packed\.parquet is gzip-compressed/),
    });
  });

  it('reads gzip by its content, whatever the name', async () => {
    await writeFile(
      path('packed.csv'),
      gzipSync('id,ts,age,note\na,2024-01-01T00:00:00Z,1,"x\ny"\n'),
    );
    expect((await ingest('packed.csv')).rowCount).toBe(1);
  });

  it('refuses an entity file of 100,000 columns at once', async () => {
    const header = Array.from({ length: 100_000 }, (_, i) => `c${i}`).join(',');
    await writeFile(path('wide-entities.csv'), `${header}\n`);
    await expect(
      run({
        type: 'historical',
        entities: { uri: uri('wide-entities.csv'), format: 'csv', timeColumn: 'ts' },
        featureSets: [{ name: 'f', schema, inputs: [], features: ['age'] }],
        output: { uri: uri('never.csv'), format: 'csv' },
      }),
    ).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(/wide-entities\.csv header .* more than 4,096 columns/),
    });
  });

  describe('a damaged committed part names its file and ingestion and says to revert', () => {
    let good: string[];
    beforeAll(async () => {
      await writeFile(path('rows.csv'), 'id,ts,age,note\na,2024-01-01T00:00:00Z,1,x\n');
      good = (await ingest('rows.csv')).files;
    });

    const damages: [string, (file: string) => Promise<void>][] = [
      [
        'a damaged footer',
        async (file) => {
          // Bytes of the footer's thrift metadata, before its length and the magic bytes.
          const bytes = await readFile(file);
          for (let i = bytes.length - 120; i < bytes.length - 8; i++) bytes[i] = 0xff;
          await writeFile(file, bytes);
        },
      ],
      ['a truncated file', async (file) => truncate(file, 100)],
    ];
    it.each(damages)('%s', async (_, damage) => {
      const damaged = (await ingest('rows.csv')).files;
      await damage(fileURLToPath(damaged[0]!));
      const inputs = [
        { sequence: 4, uris: good },
        { sequence: 7, uris: damaged },
      ];
      const expected = {
        code: 'INTERNAL',
        message: expect.stringMatching(
          new RegExp(
            `${damaged[0]!.replaceAll('.', '\\.')} of the ingestion with sequence 7 cannot be read.*revert`,
          ),
        ),
        details: expect.objectContaining({ file: damaged[0], sequence: 7 }),
      };
      await expect(
        run({ type: 'retrieve', schema, inputs, output: { uri: uri('out.csv'), format: 'csv' } }),
      ).rejects.toMatchObject(expected);
      await writeFile(path('entities.csv'), 'id,ts\na,2024-01-02T00:00:00Z\n');
      await expect(
        run({
          type: 'historical',
          entities: { uri: uri('entities.csv'), format: 'csv', timeColumn: 'ts' },
          featureSets: [{ name: 'f', schema, inputs, features: ['age'] }],
          output: { uri: uri('out.csv'), format: 'csv' },
        }),
      ).rejects.toMatchObject(expected);
    });
  });

  describe('a full disk is UNAVAILABLE, naming the file and what to do', () => {
    // /dev/full answers every write with ENOSPC: the real errors of DuckDB and of Node.
    it('from DuckDB', async () => {
      const { DuckDBInstance } = await import('@duckdb/node-api');
      const db = await DuckDBInstance.create(':memory:');
      const connection = await db.connect();
      let failure: unknown;
      try {
        await connection.run(`COPY (SELECT 1 AS x) TO '/dev/full' (FORMAT csv)`);
      } catch (error) {
        failure = error;
      } finally {
        connection.closeSync();
        db.closeSync();
      }
      const converted = await convertDuckDbError(failure, [], '/tmp/spill');
      expect(converted).toMatchObject({
        code: 'UNAVAILABLE',
        retryable: true,
        message: expect.stringMatching(
          /disk is full: writing "\/dev\/full".*\/tmp\/spill.*free space/,
        ),
        details: expect.objectContaining({ file: '/dev/full', tempDirectory: '/tmp/spill' }),
      });
    });

    it('from Node', async () => {
      const failure = await writeFile('/dev/full', 'x').catch((error: unknown) => error);
      // Node's write errors have no path: the job's output names the place.
      expect(noSpaceError(failure, undefined, 'file:///store/out')).toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/disk is full: writing "file:\/\/\/store\/out"/),
      });
      expect(noSpaceError(new Error('something else'))).toBeUndefined();
    });
  });
});
