import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  type FeatureSetDefinition,
  type IngestRow,
  listAll,
  type OutputData,
  type RunningJob,
  readAll,
  ValidationError,
} from '@featurestore/core';
import {
  Binary,
  Bool,
  DateDay,
  Field,
  Float32,
  Float64,
  Int32,
  Int64,
  List,
  makeData,
  makeVector,
  Table,
  TimestampMicrosecond,
  tableToIPC,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { tempStore } from './helpers.js';

// The in-process data API (docs/in-process-api.md): every input form of `ingest` with every
// feature type and nulls, and every output form of `retrieve`/`historical`, on the embedded
// store (PGlite, local files, DuckDB).

const kinds: FeatureSetDefinition = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'b', type: 'bool' },
    { name: 'i32', type: 'int32' },
    { name: 'i64', type: 'int64' },
    { name: 'f32', type: 'float32' },
    { name: 'f64', type: 'float64' },
    { name: 's', type: 'string' },
    { name: 'by', type: 'bytes' },
    { name: 'd', type: 'date' },
    { name: 't', type: 'timestamp' },
    { name: 'lb', type: 'list<bool>' },
    { name: 'li32', type: 'list<int32>' },
    { name: 'li64', type: 'list<int64>' },
    { name: 'lf32', type: 'list<float32>' },
    { name: 'lf64', type: 'list<float64>' },
    { name: 'ls', type: 'list<string>' },
    { name: 'lby', type: 'list<bytes>' },
    { name: 'ld', type: 'list<date>' },
    { name: 'lt', type: 'list<timestamp>' },
  ],
};

/** Beyond 2^53: a JavaScript number would round it. */
const BIG = 9_007_199_254_740_993n;
const BYTES = new Uint8Array([0, 1, 255]);
/** 2024-05-01T08:00:00.123456Z, with its microseconds. */
const T_MICROS = 1_714_550_400_123_456n;

/** A row with every value, as JavaScript code has them (`id` set per input form). */
function fullRow(id: string): IngestRow {
  return {
    id,
    ts: new Date('2024-05-01T10:00:00Z'),
    b: true,
    i32: -7,
    i64: BIG,
    f32: 1.5,
    f64: 0.1,
    s: 'x,"y"\nz',
    by: BYTES,
    d: new Date('2024-02-29T00:00:00Z'),
    // A time with a zone: stored in UTC, microseconds kept.
    t: '2024-05-01T10:00:00.123456+02:00',
    lb: [true, null, false],
    li32: [1, null, -2],
    li64: [BIG, null],
    lf32: [1.5, null],
    lf64: [0.1, null, -2.5],
    ls: ['a', null, ''],
    lby: [BYTES, null],
    ld: ['2024-01-01', null],
    lt: [new Date('2024-01-01T00:00:00Z'), null],
  };
}

/** A row with only its key and event time: every other value null. */
function nullRow(id: string): IngestRow {
  return { id, ts: '2024-05-01T11:00:00Z' };
}

/** What `rows()` gives back for `fullRow(id)`. */
function fullOutput(id: string): Record<string, unknown> {
  return {
    id,
    ts: new Date('2024-05-01T10:00:00Z'),
    b: true,
    i32: -7,
    i64: BIG,
    f32: 1.5,
    f64: 0.1,
    s: 'x,"y"\nz',
    by: BYTES,
    d: new Date('2024-02-29T00:00:00Z'),
    t: new Date('2024-05-01T08:00:00.123Z'),
    lb: [true, null, false],
    li32: [1, null, -2],
    li64: [BIG, null],
    lf32: [1.5, null],
    lf64: [0.1, null, -2.5],
    ls: ['a', null, ''],
    lby: [BYTES, null],
    ld: [new Date('2024-01-01T00:00:00Z'), null],
    lt: [new Date('2024-01-01T00:00:00Z'), null],
  };
}

function nullOutput(id: string): Record<string, unknown> {
  const row: Record<string, unknown> = Object.fromEntries(
    kinds.features.map((feature) => [feature.name, null]),
  );
  return { ...row, id, ts: new Date('2024-05-01T11:00:00Z') };
}

/** The two rows as an apache-arrow Table built by hand, as a caller's code would. */
function arrowTable(id: string): Table {
  const rows = [fullRow(`${id}-a`), nullRow(`${id}-b`)];
  const column = (name: string) => rows.map((row) => row[name] ?? null);
  const list = (type: Bool | Int32 | Int64 | Float32 | Float64 | Utf8 | Binary | DateDay) =>
    new List(new Field('item', type, true));
  // Microseconds and a zone: built from the epoch values (Arrow's builders take milliseconds).
  const times = makeVector(
    makeData({
      type: new TimestampMicrosecond('Europe/Paris'),
      length: 2,
      nullCount: 1,
      nullBitmap: new Uint8Array([1]),
      data: new BigInt64Array([T_MICROS, 0n]),
    }),
  );
  const vectors: Record<string, Vector> = {
    id: vectorFromArray(column('id'), new Utf8()),
    ts: makeVector(
      makeData({
        type: new TimestampMicrosecond(),
        length: 2,
        nullCount: 0,
        data: new BigInt64Array([1_714_557_600_000_000n, 1_714_561_200_000_000n]),
      }),
    ),
    b: vectorFromArray(column('b'), new Bool()),
    i32: vectorFromArray(column('i32'), new Int32()),
    i64: vectorFromArray(column('i64'), new Int64()),
    f32: vectorFromArray(column('f32'), new Float32()),
    f64: vectorFromArray(column('f64'), new Float64()),
    s: vectorFromArray(column('s'), new Utf8()),
    by: vectorFromArray(column('by'), new Binary()),
    d: vectorFromArray(column('d'), new DateDay()),
    t: times,
    lb: vectorFromArray(column('lb'), list(new Bool())),
    li32: vectorFromArray(column('li32'), list(new Int32())),
    li64: vectorFromArray(column('li64'), list(new Int64())),
    lf32: vectorFromArray(column('lf32'), list(new Float32())),
    lf64: vectorFromArray(column('lf64'), list(new Float64())),
    ls: vectorFromArray(column('ls'), list(new Utf8())),
    lby: vectorFromArray(column('lby'), list(new Binary())),
    ld: vectorFromArray(
      rows.map((row) => (row.ld ? [new Date('2024-01-01T00:00:00Z'), null] : null)),
      list(new DateDay()),
    ),
    lt: vectorFromArray(
      rows.map((row) => (row.lt ? [Date.parse('2024-01-01T00:00:00Z'), null] : null)),
      new List(new Field('item', new TimestampMicrosecond(), true)),
    ),
  };
  return new Table(vectors);
}

/** The two rows as CSV, by the conventions files are ingested with. */
function csvText(id: string): string {
  const header = kinds.features.map((feature) => feature.name).join(',');
  const full = [
    `${id}-a`,
    '2024-05-01T12:00:00+02:00',
    'true',
    '-7',
    BIG.toString(),
    '1.5',
    '0.1',
    '"x,""y""\nz"',
    Buffer.from(BYTES).toString('base64'),
    '2024-02-29',
    '2024-05-01T10:00:00.123456+02:00',
    '"[true,null,false]"',
    '"[1,null,-2]"',
    `"[${BIG},null]"`,
    '"[1.5,null]"',
    '"[0.1,null,-2.5]"',
    '"[""a"",null,""""]"',
    `"[""${Buffer.from(BYTES).toString('base64')}"",null]"`,
    '"[""2024-01-01"",null]"',
    '"[""2024-01-01T00:00:00Z"",null]"',
  ].join(',');
  const empty = [`${id}-b`, '2024-05-01T11:00:00Z', ...Array(18).fill('')].join(',');
  return `${header}\n${full}\n${empty}\n`;
}

/** The two rows as JSON Lines (int64 beyond 2^53 as its digits). */
function jsonLines(id: string): string {
  const base64 = Buffer.from(BYTES).toString('base64');
  return (
    `{"id":"${id}-a","ts":"2024-05-01T10:00:00Z","b":true,"i32":-7,"i64":${BIG},"f32":1.5,` +
    `"f64":0.1,"s":"x,\\"y\\"\\nz","by":"${base64}","d":"2024-02-29",` +
    `"t":"2024-05-01T10:00:00.123456+02:00","lb":[true,null,false],"li32":[1,null,-2],` +
    `"li64":[${BIG},null],"lf32":[1.5,null],"lf64":[0.1,null,-2.5],"ls":["a",null,""],` +
    `"lby":["${base64}",null],"ld":["2024-01-01",null],"lt":["2024-01-01T00:00:00Z",null]}\n` +
    `{"id":"${id}-b","ts":"2024-05-01T11:00:00Z"}\n`
  );
}

/** Bytes in small chunks, as a network stream would deliver them. */
function chunked(bytes: Uint8Array, size = 7): Readable {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks, { objectMode: false });
}

/** Every row of an output, in order. */
async function allRows(output: OutputData): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const row of output.rows()) rows.push(row);
  return rows;
}

async function* slowly<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) {
    await Promise.resolve();
    yield item;
  }
}

describe('the in-process data API', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;

  const ingest = async (
    source: Parameters<FeatureStore['engine']['offline']['ingest']>[3],
    options: Record<string, unknown> = {},
    featureSet = 'kinds',
  ) => {
    const { result } = await fs.engine.offline.ingest(
      fs.principal,
      'data',
      featureSet,
      source as never,
      options,
    );
    return result;
  };
  const retrieveRows = async (featureSet = 'kinds') => {
    const output = await (await fs.engine.offline.retrieve(fs.principal, 'data', featureSet))
      .result;
    const rows: Record<string, unknown>[] = [];
    for await (const row of output.rows()) rows.push(row);
    return new Map(rows.map((row) => [row.id as string, row]));
  };
  const ingestionCount = async () =>
    (await fs.engine.offline.ingestions(fs.principal, 'data', 'kinds')).length;
  const stagedObjects = async () => {
    const keys: string[] = [];
    for await (const object of listAll(fs.storage, 'tmp/')) keys.push(object.key);
    return keys;
  };

  beforeAll(async () => {
    store = await tempStore();
    fs = await openFeatureStore({ store: store.dir });
    await fs.engine.projects.create(fs.principal, { name: 'data' });
    await fs.engine.featureSets.register(fs.principal, 'data', 'kinds', kinds);
    await fs.engine.featureSets.register(fs.principal, 'data', 'copy', kinds);
  });

  afterAll(async () => {
    await fs?.close();
    await store?.remove();
  });

  const forms: [string, (id: string) => unknown, Record<string, unknown>?][] = [
    ['array', (id) => [fullRow(`${id}-a`), nullRow(`${id}-b`)]],
    ['async-iterable', (id) => slowly([fullRow(`${id}-a`), nullRow(`${id}-b`)])],
    ['object-stream', (id) => Readable.from([fullRow(`${id}-a`), nullRow(`${id}-b`)])],
    ['arrow-table', (id) => arrowTable(id)],
    ['arrow-batches', (id) => slowly(arrowTable(id).batches)],
    ['arrow-ipc-bytes', (id) => tableToIPC(arrowTable(id), 'stream'), { format: 'arrow' }],
    [
      'arrow-ipc-stream',
      (id) => chunked(tableToIPC(arrowTable(id), 'stream')),
      { format: 'arrow' },
    ],
    ['csv-stream', (id) => chunked(Buffer.from(csvText(id))), { format: 'csv' }],
    ['jsonl-stream', (id) => chunked(Buffer.from(jsonLines(id))), { format: 'json' }],
  ];

  it.each(forms)('ingests %s with every feature type and nulls', async (form, make, options) => {
    const ingested = await ingest(make(form) as never, options);
    expect(ingested.rowCount).toBe(2);
    const rows = await retrieveRows();
    expect(rows.get(`${form}-a`)).toEqual(fullOutput(`${form}-a`));
    expect(rows.get(`${form}-b`)).toEqual(nullOutput(`${form}-b`));
    expect(await stagedObjects()).toEqual([]);
  });

  it('takes the other spellings docs/in-process-api.md lists', async () => {
    await ingest([
      {
        id: 'spell-a',
        ts: '2024-05-01 10:00:00',
        i32: 5n,
        i64: 12,
        f32: Number.POSITIVE_INFINITY,
        f64: Number.NaN,
        by: Buffer.from(BYTES).toString('base64'),
        d: '2024-02-29',
        lf64: [Number.NEGATIVE_INFINITY, Number.NaN],
        li64: ['9007199254740993'],
      },
      { id: 'spell-b', ts: new Date('2024-05-01T10:00:00Z'), i32: '6', i64: '-3', lb: undefined },
    ]);
    const rows = await retrieveRows();
    expect(rows.get('spell-a')).toMatchObject({
      ts: new Date('2024-05-01T10:00:00Z'),
      i32: 5,
      i64: 12n,
      f32: Number.POSITIVE_INFINITY,
      f64: Number.NaN,
      by: BYTES,
      d: new Date('2024-02-29T00:00:00Z'),
      lf64: [Number.NEGATIVE_INFINITY, Number.NaN],
      li64: [BIG],
    });
    expect(rows.get('spell-b')).toMatchObject({ i32: 6, i64: -3n, lb: null });
  });

  it('records the data as the ingestion source (named by sourceName when given)', async () => {
    await ingest([fullRow('named-a')], { sourceName: 'scores-2024-05' });
    const ingestions = await fs.engine.offline.ingestions(fs.principal, 'data', 'kinds');
    expect(ingestions.at(-1)?.source).toBe('upload:scores-2024-05');
  });

  it('ingests a Parquet byte stream, and writes an output to a Parquet file', async () => {
    await ingest([fullRow('pq-a'), nullRow('pq-b')]);
    const output = await (
      await fs.engine.offline.retrieve(fs.principal, 'data', 'kinds', { format: 'parquet' })
    ).result;
    const file = join(store.dir, 'kinds.parquet');
    await output.writeTo(file);
    await ingest(createReadStream(file), { format: 'parquet' }, 'copy');
    const copy = await retrieveRows('copy');
    expect([...copy.values()]).toEqual([...(await retrieveRows()).values()]);
    expect(copy.get('pq-a')).toEqual(fullOutput('pq-a'));
    expect(copy.get('pq-b')).toEqual(nullOutput('pq-b'));
  });

  /** The same job of each case, run with a given output format. */
  const jobs: [string, (format: 'csv' | 'parquet') => Promise<RunningJob<OutputData>>][] = [
    ['retrieve', (format) => fs.engine.offline.retrieve(fs.principal, 'data', 'kinds', { format })],
    [
      'empty retrieve',
      (format) =>
        fs.engine.offline.retrieve(fs.principal, 'data', 'kinds', {
          format,
          to: new Date('2000-01-01T00:00:00Z'),
        }),
    ],
    [
      'historical',
      async (format) => {
        const entities = join(store.dir, 'format-entities.csv');
        await writeFile(
          entities,
          'id,at\nfmt-a,2024-06-01T00:00:00Z\nfmt-b,2024-06-01T00:00:00Z\nnobody,2024-06-01T00:00:00Z\n',
        );
        return fs.engine.offline.historical(fs.principal, {
          entities,
          entityTime: 'at',
          format,
          features: kinds.features.slice(2).map((feature) => `data/kinds:${feature.name}`),
        });
      },
    ],
  ];

  it.each(jobs)(
    'reads a Parquet %s output as the same rows and Arrow table as its CSV output',
    async (_, run) => {
      // 0.1 as float32 is not 0.1: both formats give the decimal the CSV output writes.
      const float32s = { id: 'fmt-c', ts: '2024-05-01T09:00:00Z', f32: 0.1, lf32: [0.1, -3.4e38] };
      await ingest([fullRow('fmt-a'), nullRow('fmt-b'), float32s]);
      const csv = await (await run('csv')).result;
      const parquet = await (await run('parquet')).result;
      expect(parquet.format).toBe('parquet');

      const csvRows = await allRows(csv);
      expect(csvRows.length).toBe(csv.rowCount);
      expect(await allRows(parquet)).toEqual(csvRows);
      const c = csvRows.find((row) => row.id === 'fmt-c');
      if (c) expect([c.f32, c.lf32]).toEqual([0.1, [0.1, -3.4e38]]);
      const csvTable = await csv.toArrow();
      const parquetTable = await parquet.toArrow();
      const fields = (table: Table) =>
        table.schema.fields.map((f) => `${f.name}:${String(f.type)}`);
      expect(fields(parquetTable)).toEqual(fields(csvTable));
      expect(fields(parquetTable).length).toBeGreaterThan(10);
      // Byte for byte: the same columns, types, values (int64, microseconds) and nulls.
      expect(tableToIPC(parquetTable)).toEqual(tableToIPC(csvTable));
    },
  );

  it('says a removed Parquet output was removed, naming its job', async () => {
    const { job, result } = await fs.engine.offline.retrieve(fs.principal, 'data', 'kinds', {
      format: 'parquet',
    });
    const output = await result;
    await fs.engine.outputs.remove(fs.principal, output.jobId);
    await expect(output.toArrow()).rejects.toThrow(
      new RegExp(`the output of job ${job.id} was removed.*run the job again`),
    );
  });

  it('reads a retrieve as rows, an Arrow table and a file, with the old fields kept', async () => {
    await ingest([fullRow('out-a'), nullRow('out-b')]);
    const { job, result } = await fs.engine.offline.retrieve(fs.principal, 'data', 'kinds', {
      latest: true,
    });
    const output = await result;
    // The fields the CLI and the servers read, and nothing more, as before.
    expect({ ...output }).toEqual({
      outputKey: expect.stringContaining(job.id),
      rowCount: expect.any(Number),
      format: 'csv',
    });
    expect(output.jobId).toBe(job.id);

    const table = await output.toArrow();
    expect(table.numRows).toBe(output.rowCount);
    const types = Object.fromEntries(table.schema.fields.map((f) => [f.name, String(f.type)]));
    expect(types).toMatchObject({
      b: 'Bool',
      i32: 'Int32',
      i64: 'Int64',
      f32: 'Float32',
      f64: 'Float64',
      s: 'Utf8',
      by: 'Binary',
      d: 'Date32<DAY>',
      t: 'Timestamp<MICROSECOND, UTC>',
      li64: 'List<Int64>',
      lt: 'List<Timestamp<MICROSECOND, UTC>>',
    });
    const ids = table.getChild('id')!.toArray() as string[];
    const full = ids.indexOf('out-a');
    const empty = ids.indexOf('out-b');
    expect(table.getChild('i64')!.get(full)).toBe(BIG);
    // The exact microseconds, which a Date cannot hold.
    expect(table.getChild('t')!.data[0]!.values[full]).toBe(T_MICROS);
    expect([...table.getChild('li64')!.get(full)!]).toEqual([BIG, null]);
    expect(table.getChild('s')!.get(full)).toBe('x,"y"\nz');
    expect(table.getChild('by')!.get(full)).toEqual(BYTES);
    expect(table.getChild('ls')!.get(full)!.toJSON()).toEqual(['a', null, '']);
    expect(table.getChild('f64')!.get(empty)).toBeNull();
    expect(table.getChild('lt')!.get(empty)).toBeNull();

    const file = join(store.dir, 'latest.csv');
    await output.writeTo(file);
    expect(await readFile(file)).toEqual(await readAll(await fs.storage.get(output.outputKey)));
    await expect(output.writeTo(join(store.dir, 'latest.parquet'))).rejects.toThrow(
      /latest\.parquet names a parquet file, but this output is csv/,
    );
    await expect(output.writeTo(join(store.dir, 'no-such-folder', 'x.csv'))).rejects.toThrow(
      /x\.csv cannot be written \(ENOENT\): check that its folder exists/,
    );
  });

  it('reads an empty result as no rows and an empty table with its columns', async () => {
    const output = await (
      await fs.engine.offline.retrieve(fs.principal, 'data', 'kinds', {
        to: new Date('2000-01-01T00:00:00Z'),
      })
    ).result;
    expect(output.rowCount).toBe(0);
    const rows: unknown[] = [];
    for await (const row of output.rows()) rows.push(row);
    expect(rows).toEqual([]);
    const table = await output.toArrow();
    expect(table.numRows).toBe(0);
    expect(table.schema.fields.map((f) => f.name)).toEqual(kinds.features.map((f) => f.name));
    expect(String(table.schema.fields[4]!.type)).toBe('Int64');
  });

  it('reads a training set as rows and as an Arrow table', async () => {
    await ingest([fullRow('hist-a'), nullRow('hist-b')]);
    const entities = join(store.dir, 'entities.csv');
    await writeFile(
      entities,
      'id,at\nhist-a,2024-06-01T00:00:00Z\nhist-b,2024-06-01T00:00:00Z\nnobody,2024-06-01T00:00:00Z\n',
    );
    const { result } = await fs.engine.offline.historical(fs.principal, {
      entities,
      entityTime: 'at',
      features: ['data/kinds:i64', 'data/kinds:t', 'data/kinds:lf64', 'data/kinds:by'],
    });
    const output = await result;
    const rows: Record<string, unknown>[] = [];
    for await (const row of output.rows()) rows.push(row);
    expect(rows).toEqual([
      {
        id: 'hist-a',
        at: '2024-06-01T00:00:00Z',
        kinds__i64: BIG,
        kinds__t: new Date('2024-05-01T08:00:00.123Z'),
        kinds__lf64: [0.1, null, -2.5],
        kinds__by: BYTES,
      },
      {
        id: 'hist-b',
        at: '2024-06-01T00:00:00Z',
        kinds__i64: null,
        kinds__t: null,
        kinds__lf64: null,
        kinds__by: null,
      },
      {
        id: 'nobody',
        at: '2024-06-01T00:00:00Z',
        kinds__i64: null,
        kinds__t: null,
        kinds__lf64: null,
        kinds__by: null,
      },
    ]);
    const table = await output.toArrow();
    expect(table.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual([
      'id:Utf8',
      'at:Utf8',
      'kinds__i64:Int64',
      'kinds__t:Timestamp<MICROSECOND, UTC>',
      'kinds__lf64:List<Float64>',
      'kinds__by:Binary',
    ]);
    expect(table.getChild('kinds__t')!.data[0]!.values[0]).toBe(T_MICROS);
  });

  it('refuses a bad row in an array, naming row and column, and ingests nothing', async () => {
    const before = await ingestionCount();
    const rows = [fullRow('bad-1'), fullRow('bad-2'), { ...fullRow('bad-3'), f64: 'abc' }];
    const error = await ingest(rows).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toMatch(
      /^row 3 of the rows \(counted from 1\), column "f64": "abc" is not a float64/,
    );
    expect((error as ValidationError).details).toMatchObject({
      row: 3,
      column: 'f64',
      source: 'rows',
    });
    expect(await ingestionCount()).toBe(before);
    expect((await retrieveRows()).has('bad-1')).toBe(false);
    expect(await stagedObjects()).toEqual([]);
  });

  it('refuses a bad row in an async iterable, naming row and column', async () => {
    const before = await ingestionCount();
    async function* rows() {
      for (let i = 1; i <= 5000; i++) {
        yield i === 4321 ? { ...fullRow(`it-${i}`), i32: 1.5 } : fullRow(`it-${i}`);
      }
    }
    await expect(ingest(rows())).rejects.toThrow(
      /^row 4321 of the rows \(counted from 1\), column "i32": 1\.5 is not a int32/,
    );
    expect(await ingestionCount()).toBe(before);
    expect(await stagedObjects()).toEqual([]);
  });

  it('refuses a value JavaScript cannot write, naming row and column', async () => {
    await expect(ingest([fullRow('fn-1'), { ...fullRow('fn-2'), s: () => 1 }])).rejects.toThrow(
      /^row 2 \(counted from 1\), column "s": is a function/,
    );
    await expect(ingest([])).rejects.toThrow(/no rows to ingest/);
    await expect(ingest(Buffer.from(csvText('nofmt')))).rejects.toThrow(
      /^bytes \(a Uint8Array\) need a format to be read: pass \{ format:/,
    );
  });

  it('ingests nothing when a stream fails half-way, and removes what it staged', async () => {
    const before = await ingestionCount();
    async function* breaking() {
      for (let i = 1; i <= 20_000; i++) yield fullRow(`broken-${i}`);
      throw new Error('the source went away');
    }
    await expect(ingest(breaking())).rejects.toThrow('the source went away');

    const bytes = Buffer.from(csvText('cut'));
    const cut = new Readable({
      read() {
        this.push(bytes.subarray(0, 40));
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(ingest(cut, { format: 'csv' })).rejects.toThrow('connection reset');
    const csvBytes = () => [Buffer.from('a,b\n')];
    await expect(ingest(Readable.from(csvBytes(), { objectMode: false }))).rejects.toThrow(
      /^a byte stream needs a format to be read/,
    );
    // Chunks of bytes in an object stream are taken for rows, and said to be bytes.
    await expect(ingest(Readable.from(csvBytes()))).rejects.toThrow(
      /^row 1 \(counted from 1\) is bytes, not an object: to ingest a byte stream, pass its format/,
    );
    expect(await ingestionCount()).toBe(before);
    expect(await stagedObjects()).toEqual([]);
  });
});

describe('docs/in-process-api.md', () => {
  it('runs its complete example and prints what it says', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const doc = await readFile(join(root, 'docs/in-process-api.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## A complete example'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)![1]!;
    const printed = /```text\n([\s\S]*?)```/.exec(section)![1]!;
    // An empty ES module project whose packages are the repository's (sources, through tsx).
    const project = await tempStore();
    try {
      await writeFile(join(project.dir, 'package.json'), '{ "type": "module" }\n');
      await writeFile(join(project.dir, 'example.ts'), code);
      await symlink(join(root, 'node_modules'), join(project.dir, 'node_modules'));
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--conditions=@featurestore/source', '--import', 'tsx', 'example.ts'],
        { cwd: project.dir, env: { ...process.env, TZ: 'UTC' } },
      );
      expect(stdout).toBe(printed);
      expect(await readFile(join(project.dir, 'training-set.csv'), 'utf8')).toMatch(
        /^customer_id,at,customers__age,customers__account\n/,
      );
    } finally {
      await project.remove();
    }
  }, 120_000);
});
