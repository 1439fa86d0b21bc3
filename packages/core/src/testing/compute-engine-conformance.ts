import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FeatureType } from '../model/feature-types.js';
import type { FeatureSetSchema } from '../model/records.js';
import type {
  ComputeEngine,
  DataFormat,
  IngestionInput,
  IngestJobResult,
  IngestJobSpec,
  JobProgress,
  JobRunContext,
  JobSpec,
} from '../ports/compute-engine.js';
import { inferSchemaCases } from './infer-schema-conformance.js';
import type { SuiteApi } from './suite-api.js';

export interface ComputeEngineConformanceOptions {
  /** Entity rows of the randomized point-in-time test (default 300); 0 switches it off. */
  randomizedEntities?: number;
  /** Seed of the randomized test's generator (default 20240131). */
  seed?: number;
  /** Rows of the input that is cancelled while running (default 100,000). */
  cancelRows?: number;
  /** Timeout of each case in milliseconds (default 60 s). */
  timeout?: number;
  /**
   * The job types the engine runs (default: all of them). Cases of other types are not
   * registered, and the suite checks the engine declares exactly these and refuses the others.
   */
  jobTypes?: readonly JobSpec['type'][];
}

const ALL_JOB_TYPES: readonly JobSpec['type'][] = [
  'ingest',
  'retrieve',
  'historical',
  'infer-schema',
];

/*
 * The job contract every ComputeEngine meets, on files in a temp folder (file:// URIs).
 * CSV conventions checked here: a header line; times ISO 8601 (no zone = UTC, written with
 * `Z`); lists as JSON arrays; bytes as base64; an empty field is NULL, `""` an empty string.
 */

type Cell = string | null;

interface CsvTable {
  header: string[];
  rows: Cell[][];
}

/** RFC 4180 as written by the engines: an unquoted empty field is NULL, `""` is ''. */
function parseCsv(text: string): Cell[][] {
  const rows: Cell[][] = [];
  let row: Cell[] = [];
  const endRow = () => {
    rows.push(row);
    row = [];
  };
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        assert.ok(quote >= 0, 'unterminated quote in CSV output');
        value += text.slice(i, quote);
        i = quote + 1;
        if (text[i] !== '"') break;
        value += '"';
        i++;
      }
      row.push(value);
    } else {
      let end = i;
      while (end < text.length && !',\r\n'.includes(text[end]!)) end++;
      const value = text.slice(i, end);
      row.push(value === '' ? null : value);
      i = end;
    }
    if (text[i] === ',') {
      i++;
      if (i === text.length) {
        row.push(null);
        endRow();
      }
      continue;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    endRow();
  }
  return rows;
}

async function readCsv(uri: string): Promise<CsvTable> {
  const [header = [], ...rows] = parseCsv(await readFile(fileURLToPath(uri), 'utf8'));
  return { header: header.map(String), rows };
}

/** Every file under a folder, recursively; none when it doesn't exist. */
async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    },
  );
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** mulberry32: a small, seedable generator, so a failing case can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\n\r]/.test(text) || text === '' ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvText(header: readonly string[], rows: readonly unknown[][]): string {
  return `${[header, ...rows].map((row) => row.map(csvField).join(',')).join('\n')}\n`;
}

/** Asserts one output cell against the expected value of a feature type. */
function assertCell(type: FeatureType, actual: Cell, expected: unknown, where: string): void {
  if (expected === null || expected === undefined) {
    assert.equal(actual, null, `${where}: expected NULL (an empty field)`);
    return;
  }
  assert.notEqual(actual, null, `${where}: expected ${JSON.stringify(expected)}, got NULL`);
  const text = actual as string;
  if (type === 'timestamp') {
    assert.match(text, /Z$/, `${where}: times are written in UTC with Z`);
    assert.equal(new Date(text).toISOString(), new Date(expected as string).toISOString(), where);
  } else if (type === 'float32') {
    assert.equal(Math.fround(Number(text)), Math.fround(expected as number), where);
  } else if (type === 'float64') {
    assert.equal(Number(text), expected, where);
  } else if (type.startsWith('list<')) {
    assert.deepEqual(JSON.parse(text), expected, where);
  } else {
    assert.equal(text, String(expected), where);
  }
}

function assertTable(
  table: CsvTable,
  schema: FeatureSetSchema,
  expected: readonly Record<string, unknown>[],
  label: string,
): void {
  assert.deepEqual(
    table.header,
    schema.features.map((feature) => feature.name),
    `${label}: exactly the schema's columns, in order`,
  );
  assert.equal(table.rows.length, expected.length, `${label}: row count`);
  expected.forEach((row, r) => {
    schema.features.forEach((feature, c) => {
      assertCell(
        feature.type,
        table.rows[r]![c] ?? null,
        row[feature.name],
        `${label} row ${r + 1} "${feature.name}"`,
      );
    });
  });
}

const ALL_TYPES: FeatureSetSchema = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'flag', type: 'bool' },
    { name: 'small', type: 'int32' },
    { name: 'big', type: 'int64' },
    { name: 'ratio', type: 'float32' },
    { name: 'amount', type: 'float64' },
    { name: 'name', type: 'string' },
    { name: 'blob', type: 'bytes' },
    { name: 'day', type: 'date' },
    { name: 'tags', type: 'list<string>' },
    { name: 'scores', type: 'list<int64>' },
  ],
};

const ALL_TYPES_CSV = `id,ts,flag,small,big,ratio,amount,name,blob,day,tags,scores
1,2024-01-31T12:00:00Z,true,-7,9007199254740993,0.5,12.25,"Zoë, ""quoted""",aGVsbG8=,2024-01-31,"[""a"",""b c""]","[1,-2]"
2,2024-02-01T00:00:00.123Z,false,2147483647,-9223372036854775808,-1.25,0,"",AA==,1999-12-31,[],[]
3,2024-02-02T08:30:00Z,,,,,,,,,,
`;

const ALL_TYPES_JSONL = [
  '{"id":1,"ts":"2024-01-31T12:00:00Z","flag":true,"small":-7,"big":9007199254740993,"ratio":0.5,"amount":12.25,"name":"Zoë, \\"quoted\\"","blob":"aGVsbG8=","day":"2024-01-31","tags":["a","b c"],"scores":[1,-2]}',
  '{"id":2,"ts":"2024-02-01T00:00:00.123Z","flag":false,"small":2147483647,"big":-9223372036854775808,"ratio":-1.25,"amount":0,"name":"","blob":"AA==","day":"1999-12-31","tags":[],"scores":[]}',
  '{"id":3,"ts":"2024-02-02T08:30:00Z","flag":null,"small":null,"big":null,"ratio":null,"amount":null,"name":null,"blob":null,"day":null,"tags":null}',
].join('\n');

const ALL_TYPES_ROWS: Record<string, unknown>[] = [
  {
    id: '1',
    ts: '2024-01-31T12:00:00Z',
    flag: 'true',
    small: '-7',
    big: '9007199254740993',
    ratio: 0.5,
    amount: 12.25,
    name: 'Zoë, "quoted"',
    blob: 'aGVsbG8=',
    day: '2024-01-31',
    tags: ['a', 'b c'],
    scores: [1, -2],
  },
  {
    id: '2',
    ts: '2024-02-01T00:00:00.123Z',
    flag: 'false',
    small: '2147483647',
    big: '-9223372036854775808',
    ratio: -1.25,
    amount: 0,
    name: '',
    blob: 'AA==',
    day: '1999-12-31',
    tags: [],
    scores: [],
  },
  { id: '3', ts: '2024-02-02T08:30:00Z' },
];

/** The schema of the bad-input cases. */
const TX: FeatureSetSchema = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'amount', type: 'float64' },
    { name: 'n', type: 'int32' },
    { name: 'ok', type: 'bool' },
    { name: 'day', type: 'date' },
    { name: 'tags', type: 'list<int64>' },
    { name: 'raw', type: 'bytes' },
  ],
};
const TX_HEADER = 'customer_id,ts,amount,n,ok,day,tags,raw';
const TX_ROW = 'c1,2024-01-01T00:00:00Z,1.5,1,true,2024-01-01,"[1,2]",aGk=';
const tx = (...rows: string[]) => `${[TX_HEADER, ...rows].join('\n')}\n`;
/** TX_ROW with one field replaced. */
const txWith = (column: string, value: string) => {
  const fields = [
    'c1',
    '2024-01-01T00:00:00Z',
    '1.5',
    '1',
    'true',
    '2024-01-01',
    '"[1,2]"',
    'aGk=',
  ];
  fields[TX_HEADER.split(',').indexOf(column)] = value;
  return fields.join(',');
};
const TX_JSON =
  '{"customer_id":"c1","ts":"2024-01-01T00:00:00Z","amount":1.5,"n":1,"ok":true,"day":"2024-01-01","tags":[1,2],"raw":"aGk="}';

interface BadInput {
  name: string;
  format: DataFormat;
  /** Source files, in order. */
  files: [string, string][];
  /** Sources that are not written (missing files). */
  missing?: string[];
  /** Regular expressions the message must match. */
  expect: RegExp[];
  /** Ones it must not match. */
  reject?: RegExp[];
  /** The feature set's schema (default TX). */
  schema?: FeatureSetSchema;
}

/** A schema for values TX has no column for: float32, a list of strings. */
const VALUES: FeatureSetSchema = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'x', type: 'float32' },
    { name: 'tags', type: 'list<string>' },
  ],
};

/** JSON nested `depth` levels deep: a file of 200 KB at depth 100,000 crashed DuckDB 1.5. */
const deepJson = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** A CSV header of `count` columns (100,000: 690 KB in one line). */
const wideHeader = (count: number) => Array.from({ length: count }, (_, i) => `c${i}`).join(',');

/*
 * Bad input that once changed values silently, stalled or crashed the process, or leaked file
 * content into messages. Limits every engine keeps: at most 4,096 columns per file, JSON
 * nested at most 64 levels, times at most microsecond precision.
 */
const HOSTILE_INPUTS: BadInput[] = [
  {
    name: 'a float64 beyond its range (1e400), never stored as infinity',
    format: 'csv',
    files: [['overflow.csv', tx(TX_ROW, txWith('amount', '1e400'))]],
    expect: [/overflow\.csv/, /row 2\b/, /"amount"/, /1e400/],
  },
  {
    name: 'a float64 beyond its range in JSON (-1e309)',
    format: 'json',
    files: [['overflow.jsonl', `${TX_JSON.replace('"amount":1.5', '"amount":-1e309')}\n`]],
    expect: [/overflow\.jsonl/, /row 1\b/, /"amount"/, /-1e309/],
  },
  {
    name: 'a float32 beyond its range (1e400 as well as 1e39)',
    format: 'csv',
    schema: VALUES,
    files: [
      [
        'float32.csv',
        'id,ts,x,tags\na,2024-01-01T00:00:00Z,1e400,[]\nb,2024-01-01T00:00:00Z,1e39,[]\n',
      ],
    ],
    expect: [/float32\.csv/, /row 1\b/, /"x"/, /1e400/],
  },
  {
    name: 'a time finer than a microsecond (never cut)',
    format: 'csv',
    files: [['nanos.csv', tx(TX_ROW, txWith('ts', '2024-01-01T00:00:00.123456789Z'))]],
    expect: [/nanos\.csv/, /row 2\b/, /"ts"/, /123456789/],
  },
  {
    name: 'an object inside a list<string> (JSON lines), never stored as JSON text',
    format: 'json',
    schema: VALUES,
    files: [
      [
        'object.jsonl',
        '{"id":"a","ts":"2024-01-01T00:00:00Z","x":1,"tags":["ok"]}\n{"id":"b","ts":"2024-01-01T00:00:00Z","x":1,"tags":["a",{"b":1}]}\n',
      ],
    ],
    expect: [/object\.jsonl/, /row 2\b/, /"tags"/],
  },
  {
    name: 'an array inside a list<string> (CSV)',
    format: 'csv',
    schema: VALUES,
    files: [['nested.csv', 'id,ts,x,tags\na,2024-01-01T00:00:00Z,1,"[""a"",[""b""]]"\n']],
    expect: [/nested\.csv/, /row 1\b/, /"tags"/],
  },
  {
    name: 'a CSV with 100,000 columns (refused at once, not after minutes)',
    format: 'csv',
    files: [['wide.csv', `${wideHeader(100_000)}\n${'1,'.repeat(99_999)}1\n`]],
    expect: [/wide\.csv/, /4,?096/, /columns/],
  },
  {
    name: 'a CSV with one column more than 4,096',
    format: 'csv',
    files: [['wider.csv', `${wideHeader(4097)}\n${'1,'.repeat(4096)}1\n`]],
    expect: [/wider\.csv/, /4,?096/],
  },
  {
    name: 'JSON lines with more than 4,096 keys',
    format: 'json',
    files: [
      [
        'keys.jsonl',
        `${JSON.stringify(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])))}\n`,
      ],
    ],
    expect: [/keys\.jsonl/, /4,?096/],
  },
  {
    name: 'JSON lines nested 100,000 levels deep (a crash file)',
    format: 'json',
    files: [
      [
        'deep.jsonl',
        `${TX_JSON}\n${TX_JSON.replace('"raw":"aGk="', `"raw":"aGk=","x":${deepJson(100_000)}`)}\n`,
      ],
    ],
    expect: [/deep\.jsonl/, /line 2\b/, /64/],
  },
  {
    name: 'a file that is not CSV: its first line is never echoed (a password file)',
    format: 'csv',
    files: [['shadow', 'root:$6$Zx9secret$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n']],
    expect: [/shadow/, /"customer_id"/],
    reject: [/secret/, /root/, /daemon/],
  },
  {
    name: 'a malformed CSV line is reported without its content',
    format: 'csv',
    files: [['leak.csv', tx(TX_ROW, 'c2,"private\nsecret, value",1.5')]],
    expect: [/leak\.csv/, /line 3\b/],
    reject: [/private/, /secret/],
  },
];

const BAD_INPUTS: BadInput[] = [
  {
    name: 'a missing column (named, with the found columns)',
    format: 'csv',
    files: [
      [
        'nocol.csv',
        'customer_id,ts,n,ok,day,tags,raw\nc1,2024-01-01T00:00:00Z,1,true,2024-01-01,[],\n',
      ],
    ],
    expect: [/nocol\.csv/, /"amount"/, /customer_id/, /found/i],
  },
  {
    name: 'an extra column',
    format: 'csv',
    files: [['extra.csv', `${TX_HEADER},color\n${TX_ROW},red\n`]],
    expect: [/extra\.csv/, /"color"/, /ignoreExtraColumns/],
  },
  {
    name: 'a float with a decimal comma',
    format: 'csv',
    files: [['comma.csv', tx(TX_ROW, txWith('amount', '"12,5"'))]],
    expect: [/comma\.csv/, /row 2\b/, /"amount"/, /12,5/, /float64/],
  },
  {
    name: 'an int32 with decimals',
    format: 'csv',
    files: [['int.csv', tx(txWith('n', '1.5'))]],
    expect: [/int\.csv/, /row 1\b/, /"n"/, /1\.5/, /int32/],
  },
  {
    name: 'an int32 out of range',
    format: 'csv',
    files: [['range.csv', tx(TX_ROW, TX_ROW, txWith('n', '3000000000'))]],
    expect: [/range\.csv/, /row 3\b/, /"n"/, /3000000000/],
  },
  {
    name: 'a bool that is neither true nor false',
    format: 'csv',
    files: [['bool.csv', tx(txWith('ok', 'maybe'))]],
    expect: [/bool\.csv/, /row 1\b/, /"ok"/, /maybe/],
  },
  {
    name: 'a timestamp that is not ISO 8601',
    format: 'csv',
    files: [['time.csv', tx(TX_ROW, txWith('ts', 'yesterday'))]],
    expect: [/time\.csv/, /row 2\b/, /"ts"/, /yesterday/],
  },
  {
    name: 'an impossible date',
    format: 'csv',
    files: [['date.csv', tx(txWith('day', '2024-13-45'))]],
    expect: [/date\.csv/, /row 1\b/, /"day"/, /2024-13-45/],
  },
  {
    name: 'a list that is not a JSON array',
    format: 'csv',
    files: [['list.csv', tx(TX_ROW, txWith('tags', '"[1,"'))]],
    expect: [/list\.csv/, /row 2\b/, /"tags"/, /\[1,/],
  },
  {
    name: 'a list element of the wrong type',
    format: 'csv',
    files: [['element.csv', tx(txWith('tags', '"[1,""x""]"'))]],
    expect: [/element\.csv/, /row 1\b/, /"tags"/, /x/],
  },
  {
    name: 'bytes that are not base64',
    format: 'csv',
    files: [['bytes.csv', tx(txWith('raw', '!!!'))]],
    expect: [/bytes\.csv/, /row 1\b/, /"raw"/, /!!!/],
  },
  {
    name: 'an empty primary key',
    format: 'csv',
    files: [['nokey.csv', tx(TX_ROW, txWith('customer_id', ''))]],
    expect: [/nokey\.csv/, /row 2\b/, /customer_id/],
  },
  {
    name: 'an empty event time',
    format: 'csv',
    files: [['notime.csv', tx(TX_ROW, TX_ROW, txWith('ts', ''))]],
    expect: [/notime\.csv/, /row 3\b/, /"ts"/],
  },
  {
    name: 'the first of several bad rows',
    format: 'csv',
    files: [
      ['first.csv', tx(TX_ROW, TX_ROW, txWith('amount', 'abc'), TX_ROW, txWith('amount', 'xyz'))],
    ],
    expect: [/first\.csv/, /row 3\b/, /abc/],
    reject: [/row 5\b/, /xyz/],
  },
  {
    name: 'a bad row in the second file (row counted within that file)',
    format: 'csv',
    files: [
      ['one.csv', tx(TX_ROW, TX_ROW, TX_ROW)],
      ['two.csv', tx(TX_ROW, txWith('n', 'seven'))],
    ],
    expect: [/two\.csv/, /row 2\b/, /"n"/, /seven/],
  },
  {
    name: 'a CSV line with an unterminated quote',
    format: 'csv',
    files: [['quote.csv', tx(TX_ROW, 'c2,"2024-01-01T00:00:00Z,1.5,1,true,2024-01-01,[],')]],
    expect: [/quote\.csv/, /line 3\b/],
  },
  {
    name: 'a CSV line with too few fields',
    format: 'csv',
    files: [['short.csv', tx(TX_ROW, 'c2,2024-01-01T00:00:00Z', TX_ROW)]],
    expect: [/short\.csv/, /line 3\b/],
  },
  {
    name: 'an empty file',
    format: 'csv',
    files: [['empty.csv', '']],
    expect: [/empty\.csv/, /empty/i],
  },
  {
    name: 'a header without rows',
    format: 'csv',
    files: [['header.csv', `${TX_HEADER}\n`]],
    expect: [/header\.csv/, /no rows/i],
  },
  {
    name: 'a folder of files with different columns (both named)',
    format: 'csv',
    files: [
      ['mixed/a.csv', tx(TX_ROW)],
      ['mixed/b.csv', `${TX_HEADER},color\n${TX_ROW},red\n`],
    ],
    expect: [/a\.csv/, /b\.csv/],
  },
  {
    name: 'a source that does not exist',
    format: 'csv',
    files: [],
    missing: ['nowhere.csv'],
    expect: [/nowhere\.csv/, /not exist|not found|missing/i],
  },
  {
    name: 'a malformed JSON line',
    format: 'json',
    files: [['broken.jsonl', `${TX_JSON}\n{"customer_id": "c2" "ts": 1}\n${TX_JSON}\n`]],
    expect: [/broken\.jsonl/, /line 2\b/],
  },
  {
    name: 'a JSON line that is not an object',
    format: 'json',
    files: [['array.jsonl', `${TX_JSON}\n[1, 2]\n`]],
    expect: [/array\.jsonl/, /row 2\b/, /object/i],
  },
  {
    name: 'a JSON value of the wrong type',
    format: 'json',
    files: [['value.jsonl', `${TX_JSON}\n${TX_JSON.replace('"amount":1.5', '"amount":"abc"')}\n`]],
    expect: [/value\.jsonl/, /row 2\b/, /"amount"/, /abc/],
  },
  {
    name: 'a JSON file without a schema column',
    format: 'json',
    files: [['nokey.jsonl', `${TX_JSON.replace('"amount":1.5,', '')}\n`]],
    expect: [/nokey\.jsonl/, /"amount"/],
  },
  {
    name: 'a file that is not Parquet',
    format: 'parquet',
    files: [['fake.parquet', 'this is not parquet']],
    expect: [/fake\.parquet/],
  },
];

/**
 * The contract every `ComputeEngine` meets, one group per job type: ingestion (formats,
 * coercion, every kind of bad input, statistics), retrieval, the point-in-time join
 * (hand-made edge cases and a randomized comparison with a brute-force reference), and
 * cancellation.
 *
 * @example
 * // packages/driver-x/test/suite.test.ts
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * import { computeEngineConformance } from '@featurestore/core/testing';
 * computeEngineConformance({ describe, it, beforeAll, afterAll }, async () => new XEngine());
 */
export function computeEngineConformance(
  t: SuiteApi,
  factory: () => Promise<ComputeEngine>,
  options: ComputeEngineConformanceOptions = {},
): void {
  const timeout = options.timeout ?? 60_000;
  let engine: ComputeEngine;
  let root: string;
  let counter = 0;

  const path = (name: string) => join(root, name);
  const uri = (name: string) => pathToFileURL(path(name)).href;
  const unique = (name: string) => `${name}-${++counter}`;
  const write = async (name: string, content: string | Uint8Array) => {
    await mkdir(dirname(path(name)), { recursive: true });
    await writeFile(path(name), content);
    return uri(name);
  };
  const context = (progress: JobProgress[] = []): JobRunContext => ({
    signal: new AbortController().signal,
    reportProgress: (report) => progress.push(report),
  });
  const run = <S extends JobSpec>(spec: S, ctx: JobRunContext = context()) => engine.run(spec, ctx);
  const ingest = async (
    sources: string[],
    schema: FeatureSetSchema,
    format: DataFormat = 'csv',
    extra: Pick<IngestJobSpec, 'ignoreExtraColumns' | 'statistics'> = {},
  ): Promise<IngestJobResult> =>
    run({
      type: 'ingest',
      sources,
      format,
      schema,
      outputPrefix: uri(unique('ingested')),
      ...extra,
    });
  const ingestText = async (
    name: string,
    content: string,
    schema: FeatureSetSchema,
    format: DataFormat = 'csv',
  ) => ingest([await write(unique(name), content)], schema, format);
  const retrieveCsv = async (
    schema: FeatureSetSchema,
    inputs: IngestionInput[],
    extra: { from?: string; to?: string; latest?: boolean } = {},
  ): Promise<CsvTable> => {
    const output = uri(`${unique('retrieved')}.csv`);
    const result = await run({
      type: 'retrieve',
      schema,
      inputs,
      ...extra,
      output: { uri: output, format: 'csv' },
    });
    const table = await readCsv(output);
    assert.equal(result.rowCount, table.rows.length, 'rowCount matches the rows written');
    assert.equal(result.uri, output);
    return table;
  };
  // The job types are declared when the tests are registered, so a group an engine does not
  // run is left out visibly (its cases are not listed, and the declaration is checked against
  // the engine's capabilities) instead of passing without running.
  const declared = new Set<JobSpec['type']>(options.jobTypes ?? ALL_JOB_TYPES);
  const supports = (type: JobSpec['type']) => declared.has(type);
  const skipped = { it: () => {} } as Pick<SuiteApi, 'it'>;
  /** `t` when the engine runs every one of `types`, else a suite that registers nothing. */
  const when = (...types: JobSpec['type'][]): Pick<SuiteApi, 'it'> =>
    types.every(supports) ? t : skipped;
  const sortRows = (table: CsvTable) => [...table.rows].sort((a, b) => (a[0]! < b[0]! ? -1 : 1));

  t.describe(`ComputeEngine conformance`, () => {
    t.beforeAll(async () => {
      engine = await factory();
      root = await mkdtemp(join(tmpdir(), 'featurestore-compute-'));
    });
    t.afterAll(async () => {
      await engine?.close();
      if (root) await rm(root, { recursive: true, force: true });
    });

    t.describe('capabilities', () => {
      t.it(`runs exactly the declared job types (${[...declared].join(', ')})`, () => {
        assert.deepEqual([...engine.capabilities.jobTypes].sort(), [...declared].sort());
      });
      for (const type of ALL_JOB_TYPES.filter((type) => !supports(type))) {
        t.it(`refuses ${type} jobs, which it does not run, with NOT_SUPPORTED`, async () => {
          await assert.rejects(run({ type } as JobSpec), { code: 'NOT_SUPPORTED' });
        });
      }
    });

    t.describe('ingest', () => {
      when('ingest').it(
        'ingests CSV with every scalar type, lists and nulls, and reports progress',
        async () => {
          const progress: JobProgress[] = [];
          const prefix = uri(unique('all-types'));
          const source = await write('all-types.csv', ALL_TYPES_CSV);
          const result = await run(
            {
              type: 'ingest',
              sources: [source],
              format: 'csv',
              schema: ALL_TYPES,
              outputPrefix: prefix,
            },
            context(progress),
          );
          assert.equal(result.rowCount, 3);
          assert.ok(result.files.length >= 1, 'at least one part');
          for (const file of result.files) {
            assert.ok(file.startsWith(`${prefix}/`), `${file} is under the output prefix`);
            assert.match(file, /\/part-\d+\.parquet$/);
            assert.ok((await stat(fileURLToPath(file))).size > 0, `${file} exists`);
          }
          assert.ok(progress.length > 0, 'progress is reported');
          progress.forEach((report, i) => {
            assert.ok(report.fraction >= 0 && report.fraction <= 1, 'fraction within 0…1');
            if (i > 0) assert.ok(report.fraction >= progress[i - 1]!.fraction, 'never goes back');
          });
          const table = await retrieveCsv(ALL_TYPES, [{ sequence: 1, uris: result.files }]);
          assertTable(table, ALL_TYPES, ALL_TYPES_ROWS, 'CSV');
        },
        timeout,
      );

      when('ingest').it(
        'reports progress that never goes back, names its phases, and reaches 1',
        async () => {
          const progress: JobProgress[] = [];
          const rows = Array.from({ length: 2000 }, (_, i) => `c${i},2024-01-01T00:00:00Z,${i}`);
          await run(
            {
              type: 'ingest',
              sources: [await write(unique('progress.csv'), `id,ts,n\n${rows.join('\n')}\n`)],
              format: 'csv',
              schema: {
                primaryKey: ['id'],
                eventTime: 'ts',
                features: [
                  { name: 'id', type: 'string' },
                  { name: 'ts', type: 'timestamp' },
                  { name: 'n', type: 'int64' },
                ],
              },
              outputPrefix: uri(unique('progress')),
            },
            context(progress),
          );
          assertPhasedProgress(progress, 'ingest');
          const writing = progress.filter((report) => report.phase === 'validate and write');
          assert.ok(writing.length > 0, 'a "validate and write" phase is reported');
          const last = writing.at(-1)!;
          assert.equal(last.bytesRead, last.bytesTotal, 'the whole source is read');
          assert.equal(last.rows, 2000, 'the rows written, exactly, once written');
        },
        timeout,
      );

      when('ingest').it(
        'ingests JSON lines with the same values',
        async () => {
          const result = await ingestText('all-types.jsonl', ALL_TYPES_JSONL, ALL_TYPES, 'json');
          assert.equal(result.rowCount, 3);
          const table = await retrieveCsv(ALL_TYPES, [{ sequence: 1, uris: result.files }]);
          assertTable(table, ALL_TYPES, ALL_TYPES_ROWS, 'JSON');
        },
        timeout,
      );

      when('ingest', 'retrieve').it(
        'ingests Parquet (a retrieved Parquet output) with the same values',
        async () => {
          const first = await ingestText('all-types.csv', ALL_TYPES_CSV, ALL_TYPES);
          const parquet = uri(`${unique('all-types')}.parquet`);
          await run({
            type: 'retrieve',
            schema: ALL_TYPES,
            inputs: [{ sequence: 1, uris: first.files }],
            output: { uri: parquet, format: 'parquet' },
          });
          const second = await ingest([parquet], ALL_TYPES, 'parquet');
          assert.equal(second.rowCount, 3);
          const table = await retrieveCsv(ALL_TYPES, [{ sequence: 1, uris: second.files }]);
          assertTable(table, ALL_TYPES, ALL_TYPES_ROWS, 'Parquet');
        },
        timeout,
      );

      when('ingest').it(
        'coerces text: blanks around numbers, zones to UTC, times without zone as UTC',
        async () => {
          const schema: FeatureSetSchema = {
            primaryKey: ['id'],
            eventTime: 'ts',
            features: [
              { name: 'id', type: 'int32' },
              { name: 'ts', type: 'timestamp' },
              { name: 'x', type: 'float64' },
              { name: 'flag', type: 'bool' },
              { name: 'ratio', type: 'float32' },
            ],
          };
          const csv = [
            'id,ts,x,flag,ratio',
            ' 1 ,2024-01-31T12:00:00+02:00, 1e3 ,TRUE,2',
            '+2,2024-01-31 12:00:00,-0.5,False,0.1',
            '3,2024-01-31,7,true,-3',
            '4,2024-01-31T12:00Z,8,false,1',
            '5,2024-01-31T12:00:00.5-01:30,9,true,1',
          ].join('\n');
          const result = await ingestText('coerce.csv', csv, schema);
          const table = await retrieveCsv(schema, [{ sequence: 1, uris: result.files }]);
          const byId = new Map(table.rows.map((row) => [row[0], row]));
          const expected: [string, string, number, string, number][] = [
            ['1', '2024-01-31T10:00:00.000Z', 1000, 'true', 2],
            ['2', '2024-01-31T12:00:00.000Z', -0.5, 'false', 0.1],
            ['3', '2024-01-31T00:00:00.000Z', 7, 'true', -3],
            ['4', '2024-01-31T12:00:00.000Z', 8, 'false', 1],
            ['5', '2024-01-31T13:30:00.500Z', 9, 'true', 1],
          ];
          for (const [id, ts, x, flag, ratio] of expected) {
            const row = byId.get(id);
            assert.ok(row, `row ${id} is there`);
            assertCell('timestamp', row[1]!, ts, `row ${id} ts`);
            assertCell('float64', row[2]!, x, `row ${id} x`);
            assertCell('bool', row[3]!, flag, `row ${id} flag`);
            assertCell('float32', row[4]!, ratio, `row ${id} ratio`);
          }
        },
        timeout,
      );

      when('ingest', 'retrieve').it(
        'coerces JSON numbers to floats and Parquet int32/float32/date to int64/float64/timestamp',
        async () => {
          const narrow: FeatureSetSchema = {
            primaryKey: ['id'],
            eventTime: 'day',
            features: [
              { name: 'id', type: 'int32' },
              { name: 'day', type: 'date' },
              { name: 'x', type: 'float32' },
            ],
          };
          const wide: FeatureSetSchema = {
            primaryKey: ['id'],
            eventTime: 'day',
            features: [
              { name: 'id', type: 'int64' },
              { name: 'day', type: 'timestamp' },
              { name: 'x', type: 'float64' },
            ],
          };
          const json = '{"id":1,"day":"2024-01-31","x":3}\n{"id":2,"day":"2024-02-01","x":-0.25}\n';
          const fromJson = await ingestText('narrow.jsonl', json, narrow, 'json');
          const parquet = uri(`${unique('narrow')}.parquet`);
          await run({
            type: 'retrieve',
            schema: narrow,
            inputs: [{ sequence: 1, uris: fromJson.files }],
            output: { uri: parquet, format: 'parquet' },
          });
          const widened = await ingest([parquet], wide, 'parquet');
          const table = await retrieveCsv(wide, [{ sequence: 1, uris: widened.files }]);
          assertTable(
            table,
            wide,
            [
              { id: '1', day: '2024-01-31T00:00:00Z', x: 3 },
              { id: '2', day: '2024-02-01T00:00:00Z', x: -0.25 },
            ],
            'widened',
          );
        },
        timeout,
      );

      when('ingest').it(
        'ignores extra columns when asked to',
        async () => {
          const source = await write(unique('extra.csv'), `${TX_HEADER},color\n${TX_ROW},red\n`);
          const result = await ingest([source], TX, 'csv', { ignoreExtraColumns: true });
          assert.equal(result.rowCount, 1);
          const table = await retrieveCsv(TX, [{ sequence: 1, uris: result.files }]);
          assert.deepEqual(
            table.header,
            TX.features.map((feature) => feature.name),
          );
        },
        timeout,
      );

      for (const [label, eol] of [
        ['LF', '\n'],
        ['CRLF', '\r\n'],
      ] as const) {
        when('ingest', 'retrieve').it(
          `reads quoted line breaks anywhere in a row (RFC 4180, ${label})`,
          async () => {
            const schema: FeatureSetSchema = {
              primaryKey: ['customer_id'],
              eventTime: 'ts',
              features: [
                { name: 'customer_id', type: 'string' },
                { name: 'ts', type: 'timestamp' },
                { name: 'age', type: 'int64' },
                { name: 'x', type: 'float64' },
                { name: 'name', type: 'string' },
                { name: 'tags', type: 'list<string>' },
                { name: 'note', type: 'string' },
              ],
            };
            const csv = [
              'customer_id,ts,age,x,name,tags,note',
              `c1,2024-01-01T00:00:00Z,30,1.5,"ali${eol}ce",[],plain`,
              `"c${eol}2",2024-01-02T00:00:00Z,31,2.5,bob,"[""x"",${eol}""y""]",plain`,
              `c3,2024-01-03T00:00:00Z,32,3.5,"""quoted""${eol}and, comma",[],"end${eol}"`,
              `c4,2024-01-04T00:00:00Z,33,4.5,carol,[],"${eol}"`,
            ].join(eol);
            const result = await ingestText('line-breaks.csv', `${csv}${eol}`, schema);
            assert.equal(result.rowCount, 4);
            const table = await retrieveCsv(schema, [{ sequence: 1, uris: result.files }]);
            const row = (id: string, day: number, name: string, note: string) => ({
              customer_id: id,
              ts: `2024-01-0${day}T00:00:00Z`,
              age: String(29 + day),
              x: day + 0.5,
              name,
              tags: [],
              note,
            });
            assertTable(
              table,
              schema,
              [
                row('c1', 1, `ali${eol}ce`, 'plain'),
                { ...row(`c${eol}2`, 2, 'bob', 'plain'), tags: ['x', 'y'] },
                row('c3', 3, `"quoted"${eol}and, comma`, `end${eol}`),
                row('c4', 4, 'carol', eol),
              ],
              `line breaks (${label})`,
            );
          },
          timeout,
        );
      }

      when('ingest', 'retrieve').it(
        'reads gzip-compressed CSV and JSON lines (.gz) with the same values',
        async () => {
          for (const [name, content, format] of [
            ['all-types.csv.gz', ALL_TYPES_CSV, 'csv'],
            ['all-types.jsonl.gz', ALL_TYPES_JSONL, 'json'],
          ] as const) {
            const source = await write(unique(name), gzipSync(content));
            const result = await ingest([source], ALL_TYPES, format);
            assert.equal(result.rowCount, 3, name);
            const table = await retrieveCsv(ALL_TYPES, [{ sequence: 1, uris: result.files }]);
            assertTable(table, ALL_TYPES, ALL_TYPES_ROWS, name);
          }
        },
        timeout,
      );

      when('ingest', 'retrieve').it(
        'keeps the spellings inf, -inf and nan, the largest finite floats, and times whose digits past microseconds are zeros',
        async () => {
          const schema: FeatureSetSchema = {
            primaryKey: ['id'],
            eventTime: 'ts',
            features: [
              { name: 'id', type: 'int64' },
              { name: 'ts', type: 'timestamp' },
              { name: 'x', type: 'float64' },
              { name: 'y', type: 'float32' },
            ],
          };
          const csv = [
            'id,ts,x,y',
            '1,2024-01-01T00:00:00.123456000Z,inf,-inf',
            '2,2024-01-01T00:00:00.5000000000Z,-Infinity,nan',
            '3,2024-01-01T00:00:00Z,1.7976931348623157e308,3.4028234e38',
          ].join('\n');
          const result = await ingestText('spelled.csv', csv, schema);
          const table = await retrieveCsv(schema, [{ sequence: 1, uris: result.files }]);
          const byId = new Map(table.rows.map((row) => [row[0], row]));
          const cell = (id: string, column: number) => byId.get(id)?.[column] ?? null;
          assert.match(String(cell('1', 1)), /^2024-01-01T00:00:00\.123456Z$/, 'microseconds kept');
          assertCell('timestamp', cell('2', 1), '2024-01-01T00:00:00.5Z', 'row 2 ts');
          // Written as the spellings they were read from (any case, `inf` or `infinity`).
          assert.match(String(cell('1', 2)), /^(\+)?inf(inity)?$/i);
          assert.match(String(cell('1', 3)), /^-inf(inity)?$/i);
          assert.match(String(cell('2', 2)), /^-inf(inity)?$/i);
          assert.match(String(cell('2', 3)), /^[+-]?nan$/i);
          assertCell('float64', cell('3', 2), 1.7976931348623157e308, 'row 3 x');
          assertCell('float32', cell('3', 3), 3.4028234e38, 'row 3 y');
        },
        timeout,
      );
    });

    t.describe('ingest rejects bad input with a ValidationError and leaves nothing', () => {
      for (const bad of [...BAD_INPUTS, ...HOSTILE_INPUTS]) {
        when('ingest').it(
          bad.name,
          async () => {
            const folder = unique('bad');
            const sources: string[] = [];
            for (const [name, content] of bad.files)
              sources.push(await write(`${folder}/${name}`, content));
            for (const name of bad.missing ?? []) sources.push(uri(`${folder}/${name}`));
            const prefix = `${folder}-out`;
            await assert.rejects(
              run({
                type: 'ingest',
                sources,
                format: bad.format,
                schema: bad.schema ?? TX,
                outputPrefix: uri(prefix),
              }),
              (error: Error & { code?: string }) => {
                assert.equal(error.code, 'VALIDATION', `${error.code}: ${error.message}`);
                for (const pattern of bad.expect) assert.match(error.message, pattern);
                for (const pattern of bad.reject ?? []) assert.doesNotMatch(error.message, pattern);
                return true;
              },
            );
            assert.deepEqual(
              await filesUnder(path(prefix)),
              [],
              'no files under the output prefix',
            );
          },
          timeout,
        );
      }

      when('ingest', 'retrieve').it(
        'a Parquet column whose values do not parse (row and value named)',
        async () => {
          const loose: FeatureSetSchema = {
            ...TX,
            features: TX.features.map((feature) =>
              feature.name === 'amount' ? { name: 'amount', type: 'string' } : feature,
            ),
          };
          const csv = tx(TX_ROW, txWith('amount', 'abc'));
          const loaded = await ingestText('loose.csv', csv, loose);
          const parquet = uri(`${unique('loose')}.parquet`);
          await run({
            type: 'retrieve',
            schema: loose,
            inputs: [{ sequence: 1, uris: loaded.files }],
            output: { uri: parquet, format: 'parquet' },
          });
          const prefix = unique('loose-out');
          await assert.rejects(
            run({
              type: 'ingest',
              sources: [parquet],
              format: 'parquet',
              schema: TX,
              outputPrefix: uri(prefix),
            }),
            (error: Error & { code?: string }) => {
              assert.equal(error.code, 'VALIDATION', error.message);
              assert.match(error.message, /loose-\d+\.parquet/);
              assert.match(error.message, /row 2\b/);
              assert.match(error.message, /"amount"/);
              assert.match(error.message, /abc/);
              return true;
            },
          );
          assert.deepEqual(await filesUnder(path(prefix)), []);
        },
        timeout,
      );
    });

    t.describe('statistics', () => {
      when('ingest').it(
        'reports count, nulls, min, max, mean, stddev and distinct values per feature',
        async () => {
          const schema: FeatureSetSchema = {
            primaryKey: ['id'],
            eventTime: 'ts',
            features: [
              { name: 'id', type: 'string' },
              { name: 'ts', type: 'timestamp' },
              { name: 'amount', type: 'float64' },
              { name: 'n', type: 'int64' },
              { name: 'tags', type: 'list<string>' },
            ],
          };
          const csv = [
            'id,ts,amount,n,tags',
            'a,2024-01-02T00:00:00Z,1,10,[]',
            'b,2024-01-01T00:00:00Z,2,10,"[""x""]"',
            'c,2024-01-03T00:00:00Z,3,20,',
            'a,2024-01-04T00:00:00Z,,,',
          ].join('\n');
          const { statistics, rowCount } = await ingestText('stats.csv', csv, schema);
          assert.equal(rowCount, 4);
          const amount = statistics.amount!;
          assert.equal(amount.count, 3, 'count is the non-null values');
          assert.equal(amount.nulls, 1);
          assert.equal(amount.min, 1);
          assert.equal(amount.max, 3);
          assert.equal(amount.mean, 2);
          assert.ok(Math.abs((amount.stddev ?? 0) - 1) < 1e-9, 'sample standard deviation');
          const n = statistics.n!;
          assert.equal(n.min, 10);
          assert.equal(n.max, 20);
          assert.ok(Math.abs((n.mean ?? 0) - 40 / 3) < 1e-9);
          const id = statistics.id!;
          assert.equal(id.count, 4);
          assert.equal(id.nulls, 0);
          assert.equal(id.min, 'a');
          assert.equal(id.max, 'c');
          assert.ok(id.approxDistinct !== undefined && Math.abs(id.approxDistinct - 3) <= 1);
          const ts = statistics.ts!;
          assert.equal(new Date(String(ts.min)).toISOString(), '2024-01-01T00:00:00.000Z');
          assert.equal(new Date(String(ts.max)).toISOString(), '2024-01-04T00:00:00.000Z');
          assert.equal(statistics.tags?.count, 2);
          assert.equal(statistics.tags?.nulls, 2);
        },
        timeout,
      );

      when('ingest').it(
        'computes only count, nulls, min and max with statistics: basic',
        async () => {
          const schema: FeatureSetSchema = {
            primaryKey: ['id'],
            eventTime: 'ts',
            features: [
              { name: 'id', type: 'string' },
              { name: 'ts', type: 'timestamp' },
              { name: 'amount', type: 'float64' },
            ],
          };
          const csv = ['id,ts,amount', 'a,2024-01-02T00:00:00Z,1', 'b,2024-01-01T00:00:00Z,'];
          const source = await write(unique('basic.csv'), csv.join('\n'));
          const { statistics } = await ingest([source], schema, 'csv', { statistics: 'basic' });
          assert.deepEqual(statistics.amount, { count: 1, nulls: 1, min: 1, max: 1 });
          assert.deepEqual(statistics.id, { count: 2, nulls: 0, min: 'a', max: 'b' });
        },
        timeout,
      );

      when('ingest').it(
        'describes the finite values of a float feature that also holds NaN and infinities',
        async () => {
          const schema: FeatureSetSchema = {
            primaryKey: ['id'],
            eventTime: 'ts',
            features: [
              { name: 'id', type: 'int64' },
              { name: 'ts', type: 'timestamp' },
              { name: 'x', type: 'float64' },
              { name: 'y', type: 'float32' },
            ],
          };
          const csv = [
            'id,ts,x,y',
            '1,2024-01-01T00:00:00Z,inf,-inf',
            '2,2024-01-01T00:00:00Z,-inf,nan',
            '3,2024-01-01T00:00:00Z,nan,2',
            '4,2024-01-01T00:00:00Z,1,4',
            '5,2024-01-01T00:00:00Z,3,',
          ].join('\n');
          const { statistics } = await ingestText('non-finite.csv', csv, schema);
          const x = statistics.x!;
          assert.deepEqual(
            { count: x.count, nulls: x.nulls, min: x.min, max: x.max, mean: x.mean },
            { count: 5, nulls: 0, min: 1, max: 3, mean: 2 },
          );
          assert.ok(Math.abs((x.stddev ?? 0) - Math.SQRT2) < 1e-9, 'stddev of 1 and 3');
          const y = statistics.y!;
          assert.deepEqual(
            { count: y.count, nulls: y.nulls, min: y.min, max: y.max, mean: y.mean },
            { count: 4, nulls: 1, min: 2, max: 4, mean: 3 },
          );
        },
        timeout,
      );
    });

    const EVENTS: FeatureSetSchema = {
      primaryKey: ['user'],
      eventTime: 'ts',
      features: [
        { name: 'user', type: 'string' },
        { name: 'ts', type: 'timestamp' },
        { name: 'v', type: 'int64' },
        { name: 'note', type: 'string' },
      ],
    };

    t.describe('retrieve', () => {
      let inputs: IngestionInput[];
      t.beforeAll(async () => {
        if (!supports('ingest')) return;
        const one = await ingestText(
          'events-1.csv',
          [
            'user,ts,v,note',
            'u1,2024-01-02T00:00:00Z,1,first',
            'u2,2024-01-05T00:00:00Z,10,',
            'u2,2024-01-05T00:00:00Z,11,later row',
            'u3,2024-01-09T00:00:00Z,30,newest time',
            'u1,2024-01-01T00:00:00Z,0,oldest',
          ].join('\n'),
          EVENTS,
        );
        const two = await ingest(
          [
            await write(unique('events-2a.csv'), 'user,ts,v,note\nu1,2024-01-02T00:00:00Z,2,a\n'),
            await write(
              unique('events-2b.csv'),
              'user,ts,v,note\nu1,2024-01-02T00:00:00Z,3,b\nu3,2024-01-03T00:00:00Z,31,\n',
            ),
          ],
          EVENTS,
        );
        // Listed out of order: the sequence decides, not the position.
        inputs = [
          { sequence: 7, uris: two.files },
          { sequence: 3, uris: one.files },
        ];
      }, timeout);

      when('retrieve').it(
        'returns all rows with exactly the schema columns',
        async () => {
          const table = await retrieveCsv(EVENTS, inputs);
          assert.deepEqual(table.header, ['user', 'ts', 'v', 'note']);
          assert.deepEqual(table.rows.map((row) => row[2]).sort(), [
            '0',
            '1',
            '10',
            '11',
            '2',
            '3',
            '30',
            '31',
          ]);
        },
        timeout,
      );

      when('retrieve').it(
        'returns an event-time range [from, to)',
        async () => {
          const table = await retrieveCsv(EVENTS, inputs, {
            from: '2024-01-02T00:00:00Z',
            to: '2024-01-09T00:00:00Z',
          });
          assert.deepEqual(table.rows.map((row) => row[2]).sort(), [
            '1',
            '10',
            '11',
            '2',
            '3',
            '31',
          ]);
          const open = await retrieveCsv(EVENTS, inputs, { from: '2024-01-05T00:00:00' });
          assert.deepEqual(open.rows.map((row) => row[2]).sort(), ['10', '11', '30']);
        },
        timeout,
      );

      when('retrieve').it(
        'returns the latest row per key: newest time, then greater sequence, then later row',
        async () => {
          const table = await retrieveCsv(EVENTS, inputs, { latest: true });
          const rows = sortRows(table);
          assert.deepEqual(
            rows.map(([user, , v, note]) => [user, v, note]),
            [
              ['u1', '3', 'b'], // a tie across ingestions, then across the files of one
              ['u2', '11', 'later row'], // a tie within one file
              ['u3', '30', 'newest time'], // a newer time beats a greater sequence
            ],
          );
          assertCell('timestamp', rows[0]![1]!, '2024-01-02T00:00:00Z', 'u1 ts');
          assertCell('timestamp', rows[2]![1]!, '2024-01-09T00:00:00Z', 'u3 ts');
        },
        timeout,
      );

      when('retrieve').it(
        'streams the rows retrieve writes as JSON Lines, in the same order (streamRetrieve)',
        async () => {
          if (!engine.streamRetrieve) return; // an optional method of the port
          const cases = [{}, { latest: true }, { from: '2024-01-05T00:00:00Z' }];
          for (const extra of cases) {
            const output = uri(`${unique('retrieved')}.jsonl`);
            await run({
              type: 'retrieve',
              schema: EVENTS,
              inputs,
              ...extra,
              output: { uri: output, format: 'json' },
            });
            const written = (await readFile(fileURLToPath(output), 'utf8'))
              .split('\n')
              .filter((line) => line !== '')
              .map((line) => JSON.parse(line) as Record<string, unknown>);
            const streamed: Record<string, unknown>[] = [];
            for await (const batch of engine.streamRetrieve(
              { schema: EVENTS, inputs, ...extra },
              context(),
            )) {
              assert.equal(batch.columns.length, EVENTS.features.length);
              for (let r = 0; r < batch.rowCount; r++) {
                streamed.push(
                  Object.fromEntries(
                    EVENTS.features.map((feature, i) => [feature.name, batch.columns[i]![r]]),
                  ),
                );
              }
            }
            assert.ok(written.length > 0);
            assert.deepEqual(streamed, written, JSON.stringify(extra));
          }
        },
        timeout,
      );

      when('retrieve').it(
        'writes NULL as an empty field and times in UTC with Z',
        async () => {
          const table = await retrieveCsv(EVENTS, inputs, {
            from: '2024-01-05T00:00:00Z',
            to: '2024-01-05T00:00:00.001Z',
          });
          const row = table.rows.find((candidate) => candidate[2] === '10');
          assert.equal(row?.[3], null);
          assert.match(row?.[1] ?? '', /^2024-01-05T00:00:00(\.0+)?Z$/);
        },
        timeout,
      );

      when('retrieve').it(
        'returns no rows (a header only) without inputs',
        async () => {
          const table = await retrieveCsv(EVENTS, []);
          assert.deepEqual(table.header, ['user', 'ts', 'v', 'note']);
          assert.equal(table.rows.length, 0);
        },
        timeout,
      );

      when('retrieve').it(
        'rejects a bound that is not a time',
        async () => {
          await assert.rejects(retrieveCsv(EVENTS, inputs, { from: 'last tuesday' }), {
            code: 'VALIDATION',
          });
        },
        timeout,
      );
    });

    t.describe('historical (point-in-time join)', () => {
      const USER_STATS: FeatureSetSchema = {
        primaryKey: ['user_id'],
        eventTime: 'ts',
        features: [
          { name: 'user_id', type: 'string' },
          { name: 'ts', type: 'timestamp' },
          { name: 'clicks', type: 'int64' },
          { name: 'country', type: 'string' },
        ],
      };
      const MERCHANT_RISK: FeatureSetSchema = {
        primaryKey: ['user_id', 'merchant_id'],
        eventTime: 'ts',
        features: [
          { name: 'user_id', type: 'string' },
          { name: 'merchant_id', type: 'string' },
          { name: 'ts', type: 'timestamp' },
          { name: 'risk', type: 'float64' },
        ],
      };
      const ENTITIES = [
        'user_id,merchant_id,event_ts,label',
        'u1,m1,2024-01-07T00:00:00Z,a',
        'u1,m1,2024-01-20T00:00:00Z,b',
        'u1,m1,2024-01-20T00:00:00Z,b',
        'u2,m2,2024-01-10T12:00:00Z,c',
        'u3,m1,2024-01-16T00:00:00Z,d',
        'u1,m1,2024-01-01T00:00:00Z,e',
        'u9,m1,2024-01-30T00:00:00Z,f',
        'u1,m2,2024-01-24T23:59:59Z,g',
        'u1,m2,2024-01-25 00:00:00,h',
        'u1,m2,2024-01-25T01:00:00+02:00,i',
        'u2,m2,2024-01-20T00:00:00Z,j',
      ].join('\n');
      // [clicks, country, risk] per entity row.
      const EXPECTED: [string | null, string | null, number | null][] = [
        ['5', 'FR', null], // a: out-of-order row; risk exactly one TTL old: expired
        ['21', 'IT', 0.95], // b: same-time tie in one ingestion: the later row; risk 1 ms inside the TTL
        ['21', 'IT', 0.95], // b again: duplicates kept
        ['200', 'CA', 0.1], // c: same-time tie across ingestions: the greater sequence
        [null, null, null], // d: the newest row's features are null: stay null
        [null, null, null], // e: before any feature row
        [null, null, null], // f: unknown key
        ['21', 'IT', 0.3], // g: 1 s before a newer row
        ['25', 'DE', null], // h: no zone = UTC: exactly at the newer row; risk exactly at TTL
        ['21', 'IT', 0.3], // i: +02:00 → 2024-01-24T23:00Z
        ['200', 'CA', null], // j: risk long expired, clicks have no TTL
      ];
      let userInputs: IngestionInput[];
      let riskInputs: IngestionInput[];

      t.beforeAll(async () => {
        if (!supports('ingest')) return;
        const one = await ingestText(
          'user-stats-1.csv',
          [
            'user_id,ts,clicks,country',
            'u1,2024-01-10T00:00:00Z,10,DE',
            'u1,2024-01-05T00:00:00Z,5,FR',
            'u1,2024-01-20T00:00:00Z,20,DE',
            'u1,2024-01-20T00:00:00Z,21,IT',
            'u2,2024-01-10T00:00:00Z,100,US',
            'u3,2024-01-10T00:00:00Z,7,ES',
            'u3,2024-01-15T00:00:00Z,,',
          ].join('\n'),
          USER_STATS,
        );
        const two = await ingestText(
          'user-stats-2.csv',
          [
            'user_id,ts,clicks,country',
            'u2,2024-01-10T00:00:00Z,200,CA',
            'u1,2024-01-25T00:00:00Z,25,DE',
          ].join('\n'),
          USER_STATS,
        );
        userInputs = [
          { sequence: 12, uris: two.files },
          { sequence: 11, uris: one.files },
        ];
        const risk = await ingestText(
          'merchant-risk.csv',
          [
            'user_id,merchant_id,ts,risk',
            'u1,m1,2024-01-06T00:00:00Z,0.5',
            'u1,m1,2024-01-19T00:00:00Z,0.9',
            'u1,m1,2024-01-19T00:00:00.001Z,0.95',
            'u2,m2,2024-01-10T00:00:00Z,0.1',
            'u1,m2,2024-01-24T00:00:00Z,0.3',
          ].join('\n'),
          MERCHANT_RISK,
        );
        riskInputs = [{ sequence: 1, uris: risk.files }];
      }, timeout);

      const historical = async (
        entities: string,
        timeColumn = 'event_ts',
        format: 'csv' | 'parquet' = 'csv',
        ctx: JobRunContext = context(),
      ) => {
        const output = uri(`${unique('training')}.${format}`);
        const result = await run(
          {
            type: 'historical',
            entities: {
              uri: await write(`${unique('entities')}.csv`, entities),
              format: 'csv',
              timeColumn,
            },
            featureSets: [
              {
                name: 'user_stats',
                schema: USER_STATS,
                inputs: userInputs,
                features: ['clicks', 'country'],
              },
              {
                name: 'merchant_risk',
                schema: MERCHANT_RISK,
                inputs: riskInputs,
                features: ['risk'],
                timeToLiveMs: 86_400_000,
              },
            ],
            output: { uri: output, format },
          },
          ctx,
        );
        assert.equal(result.uri, output);
        return { result, output };
      };

      when('historical').it(
        'reports progress that never goes back, names its phases (one per feature set), and reaches 1',
        async () => {
          const progress: JobProgress[] = [];
          await historical(ENTITIES, 'event_ts', 'csv', context(progress));
          assertPhasedProgress(progress, 'historical');
          const phases = new Set(progress.map((report) => report.phase));
          for (const name of ['user_stats', 'merchant_risk']) {
            assert.ok(
              [...phases].some((phase) => phase?.includes(name)),
              `a phase names feature set ${name} (phases: ${[...phases].join(', ')})`,
            );
          }
        },
        timeout,
      );

      when('historical').it(
        'joins each entity row with the newest row at or before its time, exactly',
        async () => {
          const { result, output } = await historical(ENTITIES);
          const table = await readCsv(output);
          assert.deepEqual(table.header, [
            'user_id',
            'merchant_id',
            'event_ts',
            'label',
            'user_stats__clicks',
            'user_stats__country',
            'merchant_risk__risk',
          ]);
          const input = parseCsv(`${ENTITIES}\n`).slice(1);
          assert.equal(result.rowCount, input.length);
          assert.equal(table.rows.length, input.length, 'one output row per entity row');
          table.rows.forEach((row, r) => {
            const where = `entity row ${r + 1} (${input[r]![3]})`;
            assert.deepEqual(
              row.slice(0, 4),
              input[r],
              `${where}: entity columns as read, in order`,
            );
            const [clicks, country, risk] = EXPECTED[r]!;
            assertCell('int64', row[4] ?? null, clicks, `${where} clicks`);
            assertCell('string', row[5] ?? null, country, `${where} country`);
            assertCell('float64', row[6] ?? null, risk, `${where} risk`);
          });
        },
        timeout,
      );

      when('historical').it(
        'writes Parquet with one row per entity row',
        async () => {
          const { result, output } = await historical(ENTITIES, 'event_ts', 'parquet');
          assert.equal(result.rowCount, EXPECTED.length);
          assert.ok((await stat(fileURLToPath(output))).size > 0);
        },
        timeout,
      );

      when('historical').it(
        'rejects an entity file without a key column, naming it',
        async () => {
          const entities = 'user_id,event_ts\nu1,2024-01-07T00:00:00Z\n';
          await assert.rejects(historical(entities), (error: Error & { code?: string }) => {
            assert.equal(error.code, 'VALIDATION', error.message);
            assert.match(error.message, /merchant_id/);
            return true;
          });
        },
        timeout,
      );

      when('historical').it(
        'rejects an entity file without the time column, naming it',
        async () => {
          await assert.rejects(historical(ENTITIES, 'when'), (error: Error & { code?: string }) => {
            assert.equal(error.code, 'VALIDATION', error.message);
            assert.match(error.message, /"when"/);
            return true;
          });
        },
        timeout,
      );

      when('historical').it(
        'rejects an entity time that does not parse, naming the row',
        async () => {
          const entities = 'user_id,merchant_id,event_ts\nu1,m1,2024-01-07T00:00:00Z\nu1,m1,soon\n';
          await assert.rejects(historical(entities), (error: Error & { code?: string }) => {
            assert.equal(error.code, 'VALIDATION', error.message);
            assert.match(error.message, /row 2\b/);
            assert.match(error.message, /soon/);
            return true;
          });
        },
        timeout,
      );

      when('historical').it(
        'reads entity files with quoted line breaks (LF and CRLF)',
        async () => {
          for (const eol of ['\n', '\r\n']) {
            const entities = [
              'user_id,merchant_id,event_ts,label',
              `u1,m1,2024-01-20T00:00:00Z,"two${eol}lines"`,
              `u2,m2,2024-01-10T12:00:00Z,"${eol}"`,
            ].join(eol);
            const { output } = await historical(`${entities}${eol}`);
            const table = await readCsv(output);
            assert.deepEqual(
              table.rows.map((row) => [row[3], row[4]]),
              [
                [`two${eol}lines`, '21'],
                [eol, '200'],
              ],
              JSON.stringify(eol),
            );
          }
        },
        timeout,
      );

      const jsonEntities = async (content: string) =>
        run({
          type: 'historical',
          entities: {
            uri: await write(`${unique('entities')}.jsonl`, content),
            format: 'json',
            timeColumn: 'event_ts',
          },
          featureSets: [
            { name: 'user_stats', schema: USER_STATS, inputs: userInputs, features: ['clicks'] },
          ],
          output: { uri: uri(`${unique('training')}.csv`), format: 'csv' },
        });

      when('historical').it(
        'refuses a JSON-lines entity file nested 100,000 levels deep (a crash file), naming the line',
        async () => {
          const line = (extra: string) =>
            `{"user_id":"u1","event_ts":"2024-01-20T00:00:00Z"${extra}}`;
          const content = `${line('')}\n${line(`,"deep":${deepJson(100_000)}`)}\n`;
          await assert.rejects(jsonEntities(content), (error: Error & { code?: string }) => {
            assert.equal(error.code, 'VALIDATION', error.message);
            assert.match(error.message, /\.jsonl/);
            assert.match(error.message, /line 2\b/);
            return true;
          });
        },
        timeout,
      );

      when('historical').it(
        'refuses a JSON object as an entity key, naming the row',
        async () => {
          const content =
            '{"user_id":"u1","event_ts":"2024-01-20T00:00:00Z"}\n{"user_id":{"id":"u1"},"event_ts":"2024-01-20T00:00:00Z"}\n';
          await assert.rejects(jsonEntities(content), (error: Error & { code?: string }) => {
            assert.equal(error.code, 'VALIDATION', error.message);
            assert.match(error.message, /row 2\b/);
            assert.match(error.message, /"user_id"/);
            return true;
          });
        },
        timeout,
      );
    });

    const randomized = options.randomizedEntities ?? 300;
    if (randomized > 0) {
      t.describe('historical, randomized against a brute-force reference', () => {
        when('historical', 'ingest').it(
          `matches the reference on every cell (${randomized} entity rows, seed ${options.seed ?? 20240131})`,
          async () => {
            await randomizedPointInTime(randomized, options.seed ?? 20240131);
          },
          timeout * 2,
        );
      });
    }

    /** Many equal times, several ingestions, a TTL on one set; every output cell compared. */
    async function randomizedPointInTime(entityRows: number, seed: number): Promise<void> {
      const random = mulberry32(seed);
      const pick = (n: number) => Math.floor(random() * n);
      const base = Date.UTC(2024, 0, 1);
      const minute = 60_000;
      const iso = (ms: number) => new Date(ms).toISOString();

      interface RandomRow {
        keys: string[];
        time: number;
        values: (string | null)[];
        sequence: number;
        row: number;
      }
      interface RandomSet {
        name: string;
        schema: FeatureSetSchema;
        keyCount: number;
        ttlMs?: number;
        rows: RandomRow[];
        inputs: IngestionInput[];
      }
      const sets: RandomSet[] = [
        {
          name: 'activity',
          schema: {
            primaryKey: ['user'],
            eventTime: 'ts',
            features: [
              { name: 'user', type: 'int64' },
              { name: 'ts', type: 'timestamp' },
              { name: 'a', type: 'int64' },
              { name: 'b', type: 'string' },
            ],
          },
          keyCount: 1,
          rows: [],
          inputs: [],
        },
        {
          name: 'pair',
          schema: {
            primaryKey: ['user', 'shop'],
            eventTime: 'ts',
            features: [
              { name: 'user', type: 'int64' },
              { name: 'shop', type: 'string' },
              { name: 'ts', type: 'timestamp' },
              { name: 'm', type: 'int64' },
            ],
          },
          keyCount: 2,
          ttlMs: 7 * minute,
          rows: [],
          inputs: [],
        },
      ];
      const keysFor = (set: RandomSet) =>
        set.keyCount === 1 ? [String(1 + pick(40))] : [String(1 + pick(40)), `s${pick(3)}`];
      for (const set of sets) {
        const ingestions = set.name === 'activity' ? 3 : 2;
        // Sequences are not in list order, and not consecutive.
        const sequences = Array.from({ length: ingestions }, (_, i) => 100 + i * 10).sort(
          () => random() - 0.5,
        );
        for (const sequence of sequences) {
          const rows: RandomRow[] = [];
          const count = 150 + pick(150);
          for (let row = 0; row < count; row++) {
            const values =
              set.name === 'activity'
                ? [
                    random() < 0.1 ? null : String(pick(1000)),
                    random() < 0.1 ? null : `b${pick(50)}`,
                  ]
                : [random() < 0.1 ? null : String(pick(1000))];
            rows.push({
              keys: keysFor(set),
              time: base + pick(30) * minute,
              values,
              sequence,
              row,
            });
          }
          const header = [
            ...set.schema.primaryKey,
            'ts',
            ...set.schema.features.slice(set.keyCount + 1).map((f) => f.name),
          ];
          const csv = csvText(
            header,
            rows.map((row) => [...row.keys, iso(row.time), ...row.values]),
          );
          const result = await ingestText(`${set.name}.csv`, csv, set.schema);
          set.rows.push(...rows);
          set.inputs.push({ sequence, uris: result.files });
        }
      }

      const entities: { user: string; shop: string; time: number; text: string }[] = [];
      for (let i = 0; i < entityRows; i++) {
        if (i > 0 && random() < 0.1) {
          entities.push({ ...entities[pick(entities.length)]! });
          continue;
        }
        const time = base + (pick(40) - 5) * minute + (random() < 0.3 ? 30_000 : 0);
        entities.push({ user: String(1 + pick(45)), shop: `s${pick(3)}`, time, text: iso(time) });
      }
      const entityCsv = csvText(
        ['user', 'shop', 'at'],
        entities.map((entity) => [entity.user, entity.shop, entity.text]),
      );
      const output = uri(`${unique('randomized')}.csv`);
      const result = await run({
        type: 'historical',
        entities: {
          uri: await write(`${unique('entities')}.csv`, entityCsv),
          format: 'csv',
          timeColumn: 'at',
        },
        featureSets: sets.map((set) => ({
          name: set.name,
          schema: set.schema,
          inputs: set.inputs,
          features: set.schema.features.slice(set.keyCount + 1).map((feature) => feature.name),
          ...(set.ttlMs === undefined ? {} : { timeToLiveMs: set.ttlMs }),
        })),
        output: { uri: output, format: 'csv' },
      });
      assert.equal(result.rowCount, entities.length);
      const table = await readCsv(output);
      assert.deepEqual(table.header, [
        'user',
        'shop',
        'at',
        'activity__a',
        'activity__b',
        'pair__m',
      ]);
      assert.equal(table.rows.length, entities.length);

      // The contract, literally: filter, then the greatest (time, sequence, row).
      const reference = (set: RandomSet, keys: string[], time: number): (string | null)[] => {
        let best: RandomRow | undefined;
        for (const row of set.rows) {
          if (row.keys.some((key, k) => key !== keys[k])) continue;
          if (row.time > time) continue;
          if (set.ttlMs !== undefined && !(row.time > time - set.ttlMs)) continue;
          if (
            !best ||
            row.time > best.time ||
            (row.time === best.time &&
              (row.sequence > best.sequence ||
                (row.sequence === best.sequence && row.row > best.row)))
          ) {
            best = row;
          }
        }
        return best ? best.values : set.rows[0]!.values.map(() => null);
      };
      entities.forEach((entity, r) => {
        const expected = [
          entity.user,
          entity.shop,
          entity.text,
          ...reference(sets[0]!, [entity.user], entity.time),
          ...reference(sets[1]!, [entity.user, entity.shop], entity.time),
        ];
        assert.deepEqual(table.rows[r], expected, `entity row ${r + 1} (seed ${seed})`);
      });
    }

    inferSchemaCases(t, {
      timeout,
      supports,
      write: (name, content) => write(`${unique('infer')}/${name}`, content),
      infer: (sources, format) => run({ type: 'infer-schema', sources, format }),
      ingest: (sources, schema, format) => ingest(sources, schema, format),
      parquet: async (csv, schema) => {
        const first = await ingestText('to-parquet.csv', csv, schema);
        const output = uri(`${unique('inferable')}.parquet`);
        await run({
          type: 'retrieve',
          schema,
          inputs: [{ sequence: 1, uris: first.files }],
          output: { uri: output, format: 'parquet' },
        });
        return output;
      },
    });

    t.describe('paths are literal', () => {
      const KEYED: FeatureSetSchema = {
        primaryKey: ['k'],
        eventTime: 'ts',
        features: [
          { name: 'k', type: 'string' },
          { name: 'ts', type: 'timestamp' },
          { name: 'v', type: 'int64' },
        ],
      };
      // Names a glob would expand to their neighbours (`*.csv` to every CSV of the folder).
      const NAMES = ['*.csv', '?.csv', '[ab].csv', '{a,b}.csv', 'a]b.csv', '**.csv'];

      when('ingest', 'retrieve').it(
        'reads a source named like a glob pattern as that one file, and parts in a folder named like one',
        async () => {
          // A folder whose name has a glob character that matches nothing stays literal in
          // DuckDB (it falls back to the path as given): these folders are plain on purpose.
          const folder = unique('glob');
          const sources = new Map<string, string>();
          for (const [i, name] of ['a.csv', 'b.csv', ...NAMES].entries()) {
            sources.set(
              name,
              await write(join(folder, name), `k,ts,v\nk${i},2024-01-01T00:00:00Z,${i}\n`),
            );
          }
          for (const name of NAMES) {
            const i = ['a.csv', 'b.csv', ...NAMES].indexOf(name);
            // The parts of `[d]ecoy-i` must not be read as those of `decoy-i`, which it matches.
            await run({
              type: 'ingest',
              sources: [sources.get('a.csv')!],
              format: 'csv',
              schema: KEYED,
              outputPrefix: uri(join(folder, `decoy-${i}`)),
            });
            const result = await run({
              type: 'ingest',
              sources: [sources.get(name)!],
              format: 'csv',
              schema: KEYED,
              outputPrefix: uri(join(folder, `[d]ecoy-${i}`)),
              statistics: 'full',
            });
            assert.equal(result.rowCount, 1, `${name} is read alone`);
            const stats = result.statistics.v;
            assert.deepEqual(
              [stats?.count, stats?.min, stats?.max],
              [1, i, i],
              `${name} statistics`,
            );
            const table = await retrieveCsv(KEYED, [{ sequence: 1, uris: result.files }]);
            assert.deepEqual(
              table.rows.map((row) => [row[0], row[2]]),
              [[`k${i}`, String(i)]],
              `${name} is retrieved alone`,
            );
          }
        },
        timeout,
      );

      when('ingest', 'historical').it(
        'joins an entity file named like a glob pattern as that one file',
        async () => {
          const folder = unique('entities');
          const ingestInto = async (prefix: string, content: string) =>
            run({
              type: 'ingest',
              sources: [await write(join(folder, `${prefix}.csv`), content)],
              format: 'csv',
              schema: KEYED,
              outputPrefix: uri(join(folder, prefix)),
            });
          // `[f]eatures` matches `features`, whose parts must not be joined instead.
          await ingestInto(
            'features',
            'k,ts,v\nk1,2024-01-01T00:00:00Z,1\nk1,2024-01-03T12:00:00Z,2\n',
          );
          const features = await ingestInto('[f]eatures', 'k,ts,v\nk1,2024-01-01T00:00:00Z,7\n');
          await write(
            join(folder, 'e.csv'),
            'k,at\nk1,2024-01-02T00:00:00Z\nk1,2024-01-03T00:00:00Z\n',
          );
          const entities = await write(join(folder, '[e]*.csv'), 'k,at\nk1,2024-01-04T00:00:00Z\n');
          const output = uri(join(folder, 'training [*].csv'));
          const result = await run({
            type: 'historical',
            entities: { uri: entities, format: 'csv', timeColumn: 'at' },
            featureSets: [
              {
                name: 'keyed',
                schema: KEYED,
                inputs: [{ sequence: 1, uris: features.files }],
                features: ['v'],
              },
            ],
            output: { uri: output, format: 'csv' },
          });
          assert.equal(result.rowCount, 1, 'only the named entity file is read');
          const table = await readCsv(output);
          assert.deepEqual(
            table.rows.map((row) => [row[0], row[1], row[2]]),
            [['k1', '2024-01-04T00:00:00Z', '7']],
          );
        },
        timeout,
      );
    });

    t.describe('cancel', () => {
      t.it(
        'rejects a job whose signal is already aborted with CANCELLED',
        async () => {
          const controller = new AbortController();
          controller.abort();
          const prefix = unique('cancelled');
          const source = await write(`${unique('cancel')}.csv`, tx(TX_ROW));
          await assert.rejects(
            engine.run(
              {
                type: 'ingest',
                sources: [source],
                format: 'csv',
                schema: TX,
                outputPrefix: uri(prefix),
              },
              { signal: controller.signal, reportProgress: () => undefined },
            ),
            { code: 'CANCELLED' },
          );
          assert.deepEqual(await filesUnder(path(prefix)), []);
        },
        timeout,
      );

      when('ingest').it(
        'stops a running job with CANCELLED and leaves no output',
        async () => {
          const rows = options.cancelRows ?? 100_000;
          const name = `${unique('large')}.csv`;
          await mkdir(dirname(path(name)), { recursive: true });
          const stream = createWriteStream(path(name));
          stream.write(`${TX_HEADER}\n`);
          for (let i = 0; i < rows; i++) {
            if (
              !stream.write(
                `c${i},2024-01-01T00:00:00Z,${i}.5,${i % 1000},true,2024-01-01,"[${i}]",aGk=\n`,
              )
            ) {
              await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
            }
          }
          await new Promise<void>((resolve, reject) => {
            stream.once('error', reject);
            stream.end(() => resolve());
          });
          const controller = new AbortController();
          const prefix = unique('cancelled');
          await assert.rejects(
            engine.run(
              {
                type: 'ingest',
                sources: [uri(name)],
                format: 'csv',
                schema: TX,
                outputPrefix: uri(prefix),
              },
              // Cancelled shortly after the job starts: mid-query or between two steps.
              {
                signal: controller.signal,
                reportProgress: () => {
                  setTimeout(() => controller.abort(), 5);
                },
              },
            ),
            { code: 'CANCELLED' },
          );
          assert.deepEqual(await filesUnder(path(prefix)), []);
        },
        timeout,
      );
    });
  });
}

/**
 * Progress reports of a successful job: each names its phase, fractions (of the job and of the
 * phase) stay within 0…1, the job's never goes back, and the last one reaches 1.
 */
function assertPhasedProgress(progress: readonly JobProgress[], job: string): void {
  assert.ok(progress.length > 0, `${job}: progress is reported`);
  progress.forEach((report, i) => {
    const where = `${job} report ${i + 1} (${JSON.stringify(report)})`;
    assert.ok(typeof report.phase === 'string' && report.phase !== '', `${where}: names its phase`);
    assert.ok(report.fraction >= 0 && report.fraction <= 1, `${where}: fraction within 0…1`);
    if (report.phaseFraction !== undefined) {
      assert.ok(
        report.phaseFraction >= 0 && report.phaseFraction <= 1,
        `${where}: phase within 0…1`,
      );
    }
    if (i > 0) assert.ok(report.fraction >= progress[i - 1]!.fraction, `${where}: never goes back`);
  });
  assert.equal(progress.at(-1)!.fraction, 1, `${job}: the last report reaches 1`);
}
