import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FeatureSetSchema, JobRunContext } from '@featurestore/core/driver';
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

  it('refuses a path with a backslash and a glob character, which DuckDB cannot read literally', async () => {
    // DuckDB's glob has no escape for a backslash: `[*]` after one no longer matches `*`.
    await writeFile(join(root, 'back\\slash*.csv'), 'id,ts,amount\n1,2024-01-01T00:00:00Z,1\n');
    await expect(
      engine.run(
        {
          type: 'ingest',
          sources: [uri('back\\slash*.csv')],
          format: 'csv',
          schema,
          outputPrefix: uri('backslash-out'),
        },
        context(),
      ),
    ).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(
        /back\\slash\*\.csv cannot be read: .*rename the file or its folder/,
      ),
    });
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

  it('joins Parquet entity files (times written as ISO 8601) and JSON-lines ones (values passed as their text)', async () => {
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
    // Read like JSON-lines sources (DuckDB's typed JSON reader crashed on deep files): each
    // value's text, parsed by the rules of the key and time columns.
    expect(first).toBe('2,2024-01-03T00:00:00+01:00,2.0');
    expect(second).toBe('1,2023-12-31T23:59:59Z,');
  });

  describe("keeps the source order across many parts, so a row's position is its place in them", () => {
    // Rows n = 0…599,999 with key n % 1000 and one event time: the latest row of key k is the
    // last one in source order. Two threads read and write (a COPY splitting its output with
    // FILE_SIZE_BYTES interleaves row groups: this test caught it).
    const keyed: FeatureSetSchema = {
      primaryKey: ['k'],
      eventTime: 'ts',
      features: [
        { name: 'k', type: 'int64' },
        { name: 'ts', type: 'timestamp' },
        { name: 'n', type: 'int64' },
        { name: 'h', type: 'string' },
      ],
    };
    const hex = (n: number) => createHash('sha1').update(String(n)).digest('hex');
    const lines = (from: number, count: number) =>
      Array.from(
        { length: count },
        (_, i) => `${(from + i) % 1000},2024-01-01 00:00:00,${from + i},${hex(from + i)}`,
      );

    it.each([
      ['one file', [['k,ts,n,h', 0, 600_000]]],
      // Columns in another order in the second file.
      [
        'several files',
        [
          ['k,ts,n,h', 0, 350_000],
          ['n,h,k,ts', 350_000, 250_000],
        ],
      ],
    ] as const)('%s', async (label, sources) => {
      const names: string[] = [];
      for (const [i, [header, from, count]] of sources.entries()) {
        const name = `order-${label.replace(' ', '-')}-${i}.csv`;
        const rows = lines(from, count).map((line) => {
          const [k, ts, n, h] = line.split(',');
          return header === 'k,ts,n,h' ? line : `${n},${h},${k},${ts}`;
        });
        await writeFile(join(root, name), `${header}\n${rows.join('\n')}\n`);
        names.push(name);
      }
      const ingested = await engine.run(
        {
          type: 'ingest',
          sources: names.map(uri),
          format: 'csv',
          schema: keyed,
          outputPrefix: uri(`order-${label.replace(' ', '-')}`),
        },
        context(),
      );
      expect(ingested.rowCount).toBe(600_000);
      expect(ingested.files).toHaveLength(sources.length);

      const { DuckDBInstance } = await import('@duckdb/node-api');
      const db = await DuckDBInstance.create(':memory:');
      const connection = await db.connect();
      try {
        // In part order, each part's rows in file order: exactly 0, 1, 2, …
        let expected = 0n;
        for (const file of ingested.files) {
          const [row] = (
            await connection.runAndReadAll(
              `SELECT count(*) AS rows, count(*) FILTER (WHERE n <> ${expected} + file_row_number) AS misplaced ` +
                `FROM read_parquet('${new URL(file).pathname}', file_row_number = true)`,
            )
          ).getRowObjectsJS();
          expect(row?.misplaced).toBe(0n);
          expected += row?.rows as bigint;
        }
        expect(expected).toBe(600_000n);

        const out = join(root, `latest-${label.replace(' ', '-')}.parquet`);
        await engine.run(
          {
            type: 'retrieve',
            schema: keyed,
            inputs: [{ sequence: 1, uris: ingested.files }],
            latest: true,
            output: { uri: pathToFileURL(out).href, format: 'parquet' },
          },
          context(),
        );
        const [latest] = (
          await connection.runAndReadAll(
            `SELECT count(*) AS keys, count(*) FILTER (WHERE n <> 599000 + k) AS wrong FROM read_parquet('${out}')`,
          )
        ).getRowObjectsJS();
        expect(latest).toEqual({ keys: 1000n, wrong: 0n });
      } finally {
        connection.closeSync();
        db.closeSync();
      }
    });
  });

  it('reads the position from __row in parts written before positions were derived', async () => {
    // Such parts came from a COPY that split its output without keeping the order: here the
    // rows of each part are in reverse, and only __row says that n = 3 is the last one.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    const part = (name: string) => join(root, name);
    const rows = (ns: number[]) =>
      ns.map(
        (n) => `(7::BIGINT, TIMESTAMPTZ '2024-01-01 00:00:00+00', ${n}::BIGINT, ${n}::BIGINT)`,
      );
    for (const [name, ns] of [
      ['legacy-0.parquet', [3, 1]],
      ['legacy-1.parquet', [2, 0]],
    ] as const) {
      await connection.run(
        `COPY (SELECT * FROM (VALUES ${rows([...ns]).join(', ')}) t(k, ts, n, __row)) TO '${part(name)}' (FORMAT parquet)`,
      );
    }
    connection.closeSync();
    db.closeSync();
    const keyed: FeatureSetSchema = {
      primaryKey: ['k'],
      eventTime: 'ts',
      features: [
        { name: 'k', type: 'int64' },
        { name: 'ts', type: 'timestamp' },
        { name: 'n', type: 'int64' },
      ],
    };
    await engine.run(
      {
        type: 'retrieve',
        schema: keyed,
        inputs: [{ sequence: 1, uris: [uri('legacy-0.parquet'), uri('legacy-1.parquet')] }],
        latest: true,
        output: { uri: uri('legacy-latest.csv'), format: 'csv' },
      },
      context(),
    );
    const csv = await readFile(join(root, 'legacy-latest.csv'), 'utf8');
    expect(csv.trim().split('\n')).toEqual(['k,ts,n', '7,2024-01-01T00:00:00.000Z,3']);
  });

  describe('point-in-time order: newest time, then greatest sequence, then last row', () => {
    // The join packs (time, sequence, row) into one BIGINT when the set's time range and rows
    // fit, else compares a STRUCT: times whole seconds, milliseconds, microseconds, and a
    // range from year 1 to 9999 (which does not fit), against a brute-force reference.
    const keyed: FeatureSetSchema = {
      primaryKey: ['k'],
      eventTime: 'ts',
      features: [
        { name: 'k', type: 'int64' },
        { name: 'ts', type: 'timestamp' },
        { name: 'v', type: 'string' },
      ],
    };
    const epochUs = (iso: string) => BigInt(Date.parse(iso)) * 1000n;
    const isoOf = (us: bigint) => {
      const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
      const micro = ((us % 1000n) + 1000n) % 1000n;
      return new Date(Number(ms)).toISOString().replace('Z', `${String(micro).padStart(3, '0')}Z`);
    };
    it.each([
      ['whole seconds', epochUs('2024-03-01T00:00:00Z'), 1_000_000n],
      ['milliseconds', epochUs('2024-03-01T00:00:00Z'), 1_000n],
      ['microseconds', epochUs('2024-03-01T00:00:00Z'), 1n],
      ['years 1 to 9601', epochUs('0001-01-01T00:00:00Z'), 75_740_000_000_000_003n],
    ])('%s', async (label, start, step) => {
      const slug = label.replaceAll(' ', '-');
      const rows: { k: number; t: bigint; seq: number; row: number; v: string }[] = [];
      const inputs = [];
      for (const seq of [7, 3]) {
        const text = ['k,ts,v'];
        for (let row = 0; row < 40; row++) {
          const k = 1 + ((row * 7 + seq) % 3);
          const t = start + BigInt((row * 5 + seq) % 4) * step;
          const v = `s${seq}r${row}`;
          rows.push({ k, t, seq, row, v });
          text.push(`${k},${isoOf(t)},${v}`);
        }
        await writeFile(join(root, `order-${slug}-${seq}.csv`), `${text.join('\n')}\n`);
        const { files } = await engine.run(
          {
            type: 'ingest',
            sources: [uri(`order-${slug}-${seq}.csv`)],
            format: 'csv',
            schema: keyed,
            outputPrefix: uri(`order-${slug}-${seq}`),
          },
          context(),
        );
        inputs.push({ sequence: seq, uris: files });
      }
      const times = [-1n, 0n, 1n, 2n, 3n, 4n].flatMap((i) => [
        start + i * step,
        start + i * step - 1n,
        start + i * step + 1n,
      ]);
      const entities = [1, 2, 3, 4].flatMap((k) => times.map((t) => ({ k, t })));
      await writeFile(
        join(root, `order-${slug}-entities.csv`),
        `k,at\n${entities.map((e) => `${e.k},${isoOf(e.t)}`).join('\n')}\n`,
      );
      await engine.run(
        {
          type: 'historical',
          entities: { uri: uri(`order-${slug}-entities.csv`), format: 'csv', timeColumn: 'at' },
          featureSets: [{ name: 'f', schema: keyed, inputs, features: ['v'] }],
          output: { uri: uri(`order-${slug}-out.csv`), format: 'csv' },
        },
        context(),
      );
      const got = (await readFile(join(root, `order-${slug}-out.csv`), 'utf8'))
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.split(',')[2]);
      const expected = entities.map((e) => {
        let best: (typeof rows)[number] | undefined;
        for (const r of rows) {
          if (r.k !== e.k || r.t > e.t) continue;
          if (
            !best ||
            r.t > best.t ||
            (r.t === best.t && (r.seq > best.seq || (r.seq === best.seq && r.row > best.row)))
          ) {
            best = r;
          }
        }
        return best?.v ?? '';
      });
      expect(got).toEqual(expected);
    });
  });

  it('matches infinite entity times from a typed file: +infinity the newest row, -infinity none', async () => {
    const { files } = await engine.run(
      { type: 'ingest', sources: [uri('a.csv')], format: 'csv', schema, outputPrefix: uri('inf') },
      context(),
    );
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    await connection.run(
      `COPY (SELECT * FROM (VALUES (1, 'infinity'::TIMESTAMP), (1, '-infinity'::TIMESTAMP), ` +
        `(2, '2024-01-02'::TIMESTAMP)) t(id, "at")) TO '${join(root, 'inf.parquet')}' (FORMAT parquet)`,
    );
    connection.closeSync();
    db.closeSync();
    await engine.run(
      {
        type: 'historical',
        entities: { uri: uri('inf.parquet'), format: 'parquet', timeColumn: 'at' },
        featureSets: [
          { name: 'fs', schema, inputs: [{ sequence: 1, uris: files }], features: ['amount'] },
        ],
        output: { uri: uri('inf.csv'), format: 'csv' },
      },
      context(),
    );
    const lines = (await readFile(join(root, 'inf.csv'), 'utf8')).trim().split('\n');
    expect(lines.map((line) => line.split(',').at(-1))).toEqual(['fs__amount', '1.5', '', '2.0']);
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
