import assert from 'node:assert/strict';
import type { FeatureType } from '../model/feature-types.js';
import type { FeatureSetSchema } from '../model/records.js';
import type {
  DataFormat,
  InferSchemaJobResult,
  IngestJobResult,
  JobSpec,
} from '../ports/compute-engine.js';
import type { SuiteApi } from './suite-api.js';

/*
 * The `infer-schema` job's contract, run by `computeEngineConformance` on engines that list
 * the job type: the types of `InferSchemaJobSpec`'s rules per format, the notes a reviewer
 * needs, the errors, and above all that ingesting the very files with the inferred types
 * succeeds.
 */

/** What the case group needs from the suite around it. */
export interface InferSchemaCaseEnv {
  timeout: number;
  supports(type: JobSpec['type']): boolean;
  /** Writes a file under the suite's temp folder (a fresh name) and returns its URI. */
  write(name: string, content: string): Promise<string>;
  infer(sources: string[], format: DataFormat): Promise<InferSchemaJobResult>;
  ingest(sources: string[], schema: FeatureSetSchema, format: DataFormat): Promise<IngestJobResult>;
  /** Writes a Parquet file with exactly `schema`'s columns from a CSV text, through ingest + retrieve. */
  parquet(csv: string, schema: FeatureSetSchema): Promise<string>;
}

type Expected = Record<string, { type: FeatureType; nullable: boolean }>;

function assertFeatures(result: InferSchemaJobResult, expected: Expected, label: string): void {
  assert.deepEqual(
    result.features.map((feature) => feature.name),
    Object.keys(expected),
    `${label}: one feature per column, in file order`,
  );
  for (const feature of result.features) {
    assert.deepEqual(
      { type: feature.type, nullable: feature.nullable },
      expected[feature.name],
      `${label}: column "${feature.name}"`,
    );
  }
}

function schemaOf(
  result: InferSchemaJobResult,
  primaryKey: string[],
  eventTime: string,
): FeatureSetSchema {
  return {
    primaryKey,
    eventTime,
    features: result.features.map(({ name, type }) => ({ name, type })),
  };
}

// `huge` and `precise` hold a value ingestion refuses for float64 and timestamp (an overflow,
// nanoseconds): they stay text, so the file still ingests.
const CSV = `id,ts,day,amount,count,flag,zip,code,tags,scores,nothing,label,huge,precise
1,2024-01-31T12:00:00Z,2024-01-31,12.5,7,true,02134,A1,"[""a"",""b""]","[1,2]",,x,1e400,2024-01-01T00:00:00Z
2,2024-02-01,2024-02-01,3,-8,FALSE,10001,17,[],"[3]",,,2.5,2024-01-01T00:00:00.123456789Z
3,2024-02-02 08:30:00,2024-02-02,-0.25,9007199254740993,True,94110,42,"[""c""]",[],,"a, ""quoted"" label",3,2024-01-02
`;

const CSV_TYPES: Expected = {
  id: { type: 'int64', nullable: false },
  ts: { type: 'timestamp', nullable: false },
  day: { type: 'date', nullable: false },
  amount: { type: 'float64', nullable: false },
  count: { type: 'int64', nullable: false },
  flag: { type: 'bool', nullable: false },
  zip: { type: 'string', nullable: false },
  code: { type: 'string', nullable: false },
  tags: { type: 'list<string>', nullable: false },
  scores: { type: 'list<int64>', nullable: false },
  nothing: { type: 'string', nullable: true },
  label: { type: 'string', nullable: true },
  huge: { type: 'string', nullable: false },
  precise: { type: 'string', nullable: false },
};

const JSONL = [
  '{"id":1,"ts":"2024-01-31T12:00:00Z","day":"2024-01-31","x":1,"n":18446744073709551615,"ok":true,"ref":"007","tags":["a"],"nums":[1,2.5],"times":["2024-01-31T00:00:00Z"],"mixed":1}',
  '{"id":2,"ts":"2024-02-01T00:00:00.123Z","day":"2024-02-01","x":2.5,"n":1,"ok":false,"ref":"12","tags":[],"nums":[],"times":["2024-02-01"],"mixed":"one"}',
  '{"id":3,"ts":"2024-02-02T08:30:00+01:00","day":null,"x":-3,"n":2,"ref":"x","tags":["b",null],"nums":[3],"times":[],"mixed":true}',
].join('\n');

const JSON_TYPES: Expected = {
  id: { type: 'int64', nullable: false },
  ts: { type: 'timestamp', nullable: false },
  day: { type: 'date', nullable: true },
  x: { type: 'float64', nullable: false },
  n: { type: 'float64', nullable: false },
  ok: { type: 'bool', nullable: true },
  ref: { type: 'string', nullable: false },
  tags: { type: 'list<string>', nullable: false },
  nums: { type: 'list<float64>', nullable: false },
  times: { type: 'list<timestamp>', nullable: false },
  mixed: { type: 'string', nullable: false },
};

const PARQUET_SCHEMA: FeatureSetSchema = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'int32' },
    { name: 'ts', type: 'timestamp' },
    { name: 'flag', type: 'bool' },
    { name: 'ratio', type: 'float32' },
    { name: 'name', type: 'string' },
    { name: 'blob', type: 'bytes' },
    { name: 'day', type: 'date' },
    { name: 'tags', type: 'list<string>' },
    { name: 'scores', type: 'list<int32>' },
  ],
};

const PARQUET_CSV = `id,ts,flag,ratio,name,blob,day,tags,scores
1,2024-01-31T12:00:00Z,true,0.5,"Zoë",aGVsbG8=,2024-01-31,"[""a""]","[1,-2]"
2,2024-02-01T00:00:00Z,,1.25,007,AA==,,[],[]
`;

const PARQUET_TYPES: Expected = {
  id: { type: 'int64', nullable: false },
  ts: { type: 'timestamp', nullable: false },
  flag: { type: 'bool', nullable: true },
  ratio: { type: 'float64', nullable: false },
  name: { type: 'string', nullable: false },
  blob: { type: 'bytes', nullable: false },
  day: { type: 'date', nullable: true },
  tags: { type: 'list<string>', nullable: false },
  scores: { type: 'list<int64>', nullable: false },
};

interface BadSource {
  name: string;
  format: DataFormat;
  files: [string, string][];
  expect: RegExp[];
}

const BAD_SOURCES: BadSource[] = [
  { name: 'an empty file', format: 'csv', files: [['empty.csv', '']], expect: [/empty\.csv/] },
  {
    name: 'a header without rows',
    format: 'csv',
    files: [['header.csv', 'id,ts\n']],
    expect: [/header\.csv/, /no rows/],
  },
  {
    name: 'files with different columns (both named)',
    format: 'csv',
    files: [
      ['a.csv', 'id,ts\n1,2024-01-01\n'],
      ['b.csv', 'id,ts,extra\n1,2024-01-01,x\n'],
    ],
    expect: [/a\.csv/, /b\.csv/, /"extra"/],
  },
  {
    name: 'a JSON object as a value (file, row and column named)',
    format: 'json',
    files: [['object.jsonl', '{"id":1,"meta":null}\n{"id":2,"meta":{"a":1}}\n']],
    expect: [/object\.jsonl/, /row 2\b/, /"meta"/, /object/],
  },
  {
    name: 'JSON arrays beside single values',
    format: 'json',
    files: [['mixed.jsonl', '{"id":1,"v":[1]}\n{"id":2,"v":3}\n']],
    expect: [/mixed\.jsonl/, /"v"/, /row 1\b/, /row 2\b/, /array/],
  },
  {
    name: 'a JSON list of lists',
    format: 'json',
    files: [['nested.jsonl', '{"id":1,"v":[1]}\n{"id":2,"v":[[1]]}\n']],
    expect: [/nested\.jsonl/, /row 2\b/, /"v"/, /list of lists/],
  },
  {
    name: 'a JSON line that is not an object',
    format: 'json',
    files: [['array.jsonl', '{"id":1}\n[1, 2]\n']],
    expect: [/array\.jsonl/, /row 2\b/, /object/],
  },
  {
    name: 'a CSV line with too few fields',
    format: 'csv',
    files: [['short.csv', 'id,ts,v\n1,2024-01-01,1\n2,2024-01-01\n']],
    expect: [/short\.csv/, /line 3\b/],
  },
];

/** The `infer-schema` cases; call inside the suite's describe. */
export function inferSchemaCases(t: SuiteApi, env: InferSchemaCaseEnv): void {
  const { timeout } = env;
  // Registered only for engines that declare both job types (see `jobTypes`).
  if (!env.supports('infer-schema') || !env.supports('ingest')) return;

  t.describe('infer-schema', () => {
    t.it(
      'infers CSV types by the strict rules, and the same file then ingests',
      async () => {
        const source = await env.write('infer.csv', CSV);
        const result = await env.infer([source], 'csv');
        assertFeatures(result, CSV_TYPES, 'CSV');
        assert.equal(result.rowCount, 3);
        const notes = result.notes.join('\n');
        assert.match(notes, /"nothing" has no values/, 'a column without values is noted');
        assert.match(notes, /"zip".*"02134".*leading zero/, 'leading zeros keep a column text');
        assert.match(notes, /"code".*int64.*"A1"/, 'the value that kept it from int64');
        assert.match(notes, /"huge".*float64.*"1e400"/, 'a float64 overflow keeps it text');
        assert.match(notes, /"precise".*timestamp.*123456789/, 'so do nanoseconds');
        const ingested = await env.ingest([source], schemaOf(result, ['id'], 'ts'), 'csv');
        assert.equal(ingested.rowCount, 3);
      },
      timeout,
    );

    t.it(
      'infers JSON Lines types from the JSON kinds, and the same file then ingests',
      async () => {
        const source = await env.write('infer.jsonl', JSONL);
        const result = await env.infer([source], 'json');
        assertFeatures(result, JSON_TYPES, 'JSON');
        const notes = result.notes.join('\n');
        assert.match(notes, /"mixed" mixes/, 'mixed kinds are noted');
        assert.match(notes, /"n".*float64.*18446744073709551615/, 'a whole number beyond int64');
        const ingested = await env.ingest([source], schemaOf(result, ['id'], 'ts'), 'json');
        assert.equal(ingested.rowCount, 3);
      },
      timeout,
    );

    (env.supports('retrieve') ? t : { it: () => {} }).it(
      'infers Parquet types from the column types, and the same file then ingests',
      async () => {
        const source = await env.parquet(PARQUET_CSV, PARQUET_SCHEMA);
        const result = await env.infer([source], 'parquet');
        assertFeatures(result, PARQUET_TYPES, 'Parquet');
        const ingested = await env.ingest([source], schemaOf(result, ['id'], 'ts'), 'parquet');
        assert.equal(ingested.rowCount, 2);
      },
      timeout,
    );

    t.it(
      'infers over every file of a source: one with decimals makes a column float64',
      async () => {
        const first = await env.write('part-a.csv', 'id,ts,v\n1,2024-01-01,1\n2,2024-01-02,2\n');
        const second = await env.write('part-b.csv', 'id,ts,v\n3,2024-01-03,2.5\n');
        const result = await env.infer([first, second], 'csv');
        assertFeatures(
          result,
          {
            id: { type: 'int64', nullable: false },
            ts: { type: 'date', nullable: false },
            v: { type: 'float64', nullable: false },
          },
          'two files',
        );
        assert.equal(result.rowCount, 3);
        assert.deepEqual(result.notes, [], 'ints and floats make float64 without a note');
        const ingested = await env.ingest([first, second], schemaOf(result, ['id'], 'ts'), 'csv');
        assert.equal(ingested.rowCount, 3);
      },
      timeout,
    );

    t.it(
      'reads every row: values past the first ten thousand change the types',
      async () => {
        const rows = Array.from({ length: 10_005 }, (_, i) => `${i},2024-01-01,${i},${i},`);
        rows.push('10005,2024-01-01T10:00:00Z,2.5,abc,2024-03-01');
        const source = await env.write('late.csv', `id,ts,v,w,late\n${rows.join('\n')}\n`);
        const result = await env.infer([source], 'csv');
        assertFeatures(
          result,
          {
            id: { type: 'int64', nullable: false },
            ts: { type: 'timestamp', nullable: false },
            v: { type: 'float64', nullable: false },
            w: { type: 'string', nullable: false },
            late: { type: 'date', nullable: true },
          },
          'late values',
        );
        assert.equal(result.rowCount, 10_006);
        assert.match(result.notes.join('\n'), /"w".*int64.*"abc".*1 of 10006/);
        const ingested = await env.ingest([source], schemaOf(result, ['id'], 'ts'), 'csv');
        assert.equal(ingested.rowCount, 10_006);

        const lines = Array.from({ length: 10_003 }, (_, i) => `{"id":${i},"v":${i}}`);
        lines.push('{"id":10003,"v":{"a":1}}');
        const json = await env.write('late-object.jsonl', `${lines.join('\n')}\n`);
        await assert.rejects(env.infer([json], 'json'), (error: Error & { code?: string }) => {
          assert.equal(error.code, 'VALIDATION', error.message);
          assert.match(error.message, /late-object\.jsonl row 10004\b.*"v"/);
          return true;
        });
      },
      timeout,
    );

    t.describe('infer-schema rejects what no type holds with a ValidationError', () => {
      for (const bad of BAD_SOURCES) {
        t.it(
          bad.name,
          async () => {
            const sources: string[] = [];
            for (const [name, content] of bad.files) sources.push(await env.write(name, content));
            await assert.rejects(
              env.infer(sources, bad.format),
              (error: Error & { code?: string }) => {
                assert.equal(error.code, 'VALIDATION', `${error.code}: ${error.message}`);
                for (const pattern of bad.expect) assert.match(error.message, pattern);
                return true;
              },
            );
          },
          timeout,
        );
      }
    });
  });
}
