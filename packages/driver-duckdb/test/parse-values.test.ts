import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { FeatureType, ScalarType } from '@featurestore/core/driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { columnParser, whyInvalid } from '../src/parse-values.js';
import { literal } from '../src/sql.js';

// The fast path of text parsing (a plain cast behind a cheap test) must give exactly what the
// strict, regex-based rules give, for every text: the same value, or NULL where it refuses
// and the strict rules decide. Tricky spellings and random text over the characters that
// matter; a DuckDB upgrade that widens what a cast accepts fails here.
const TRICKY = [
  '12',
  '+12',
  '-12',
  '007',
  ' 12',
  '12 ',
  '  12  ',
  '-0',
  '+0',
  '0',
  '1.5',
  '1.',
  '.5',
  '.',
  '-',
  '+',
  '1e3',
  '1E3',
  '1e+3',
  '1e-3',
  '1.5E-3',
  '1e',
  '1e+',
  'e5',
  '.e1',
  '0x10',
  '0X10',
  '0b101',
  '1_000',
  '1,000',
  '12a',
  '',
  '  ',
  '\t12',
  '12\t',
  '12\n',
  '12\r',
  '\v12',
  '12\f',
  '1 2',
  '+-1',
  '-+1',
  '++1',
  '--1',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775808',
  '-9223372036854775809',
  '2147483647',
  '2147483648',
  '-2147483648',
  '-2147483649',
  '12.5',
  '12.50',
  '1e400',
  '-1e400',
  '1e309',
  '-1e309',
  '1.7976931348623157e308',
  '1.7976931348623159e308',
  '1e39',
  '-1e39',
  '3.4028235e38',
  '3.4028236e38',
  '1e-50',
  'nan',
  'NaN',
  '-nan',
  '+nan',
  'nan(1)',
  'inf',
  '-inf',
  '+inf',
  'Infinity',
  '-Infinity',
  'infinity',
  'INF',
  'infinite',
  '١٢',
  '１２',
  '0.1',
  '-0.0',
  '1d',
  '1f',
  '1e3.5',
  '0.33333334',
  '583.52',
  '2024-01-31',
  '2024-1-31',
  '2024-01-1',
  '20240131',
  '2024/01/31',
  '31-01-2024',
  '0001-01-01',
  '9999-12-31',
  '10000-01-01',
  '-0001-01-01',
  '0000-01-01',
  '2024-02-30',
  '2024-13-01',
  '2024-02-29',
  '2023-02-29',
  '2024-01-31 (BC)',
  '2024-01-31T12:00:00Z',
  '2024-01-31T12:00:00',
  '2024-01-31 12:00:00',
  '2024-01-31T12:00Z',
  '2024-01-31T12:00',
  '2024-01-31 12:00',
  '2024-01-31T12:00:00.123+02:00',
  '2024-01-31T12:00:00+0200',
  '2024-01-31T12:00:00+02',
  '2024-01-31T12:00:00-05:30',
  '2024-01-31T12:00:00.1234567Z',
  '2024-01-31t12:00:00z',
  '2024-01-31 12:00:00 UTC',
  '2024-01-31 12:00:00 Europe/Paris',
  '2024-01-31 12:00:00+01 ',
  '2024-01-31T12Z',
  '2024-01-31T12',
  '2024-01-31T1:00:00',
  '2024-01-31T01:0:00',
  'infinity',
  '-infinity',
  'epoch',
  'now',
  'today',
  'allballs',
  '2024-01-31 12:00:00 BC',
  '2024-01-31 24:00:00',
  '2024-01-31T23:59:60Z',
  '2024-01-31T12:00:00.Z',
  '2024-01-31T12:00:00 +02:00',
  '2024-01-31 12:00:00.5 Z',
  '  2024-01-31  ',
  '2024-01-31T',
  '2024-01-31 ',
  ' 2024-01-31T12:00:00Z',
  '2024-01-31T12:00:00ZZ',
  '2024-01-31T12:00:00+25:00',
  '2024-01-31T12:00:00+02:00:00',
  '2024-01-31T12:00:00.000000001Z',
  '2024-01-31T12:00:00.123456789Z',
  '2024-01-31T12:00:00.123456000Z',
  '2024-01-31 12:00:00.123456789',
  '2024-01-31 12:00:00.1234560',
  '2024-01-31T12:00:00,5Z',
  '2024-01-31T12:00:00+14:00',
  '2024-01-31T12:00:00-1200',
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999Z',
  '2024-W05-3',
  '2024-031',
  'true',
  'false',
  'TRUE',
  'True',
  't',
  'f',
  'T',
  'F',
  '1',
  'yes',
  'no',
  'YES',
  'y',
  'n',
  'on',
  'off',
  ' true ',
  'tru',
  '2',
];

const TYPES: ScalarType[] = ['int32', 'int64', 'float32', 'float64', 'bool', 'date', 'timestamp'];

/** Deterministic pseudo-random text: `count` strings of 1..`maxLength` characters of `alphabet`. */
function randomText(alphabet: string, count: number, maxLength: number): string {
  const pick = (salt: number) =>
    `substr(${literal(alphabet)}, 1 + CAST(hash(i, j, ${salt}) % ${alphabet.length} AS INTEGER), 1)`;
  return (
    `SELECT string_agg(${pick(1)}, '' ORDER BY j) AS x FROM range(${count}) r(i), ` +
    `LATERAL (SELECT range AS j FROM range(1 + CAST(hash(i) % ${maxLength} AS INTEGER))) GROUP BY i`
  );
}

/** Valid text with one character replaced, dropped or doubled. */
function mutated(seeds: readonly string[], alphabet: string, count: number): string {
  const values = seeds.map(literal).join(', ');
  return (
    `SELECT CASE CAST(hash(i, 1) % 3 AS INTEGER) ` +
    `WHEN 0 THEN s[1:p - 1] || substr(${literal(alphabet)}, 1 + CAST(hash(i, 2) % ${alphabet.length} AS INTEGER), 1) || s[p + 1:] ` +
    `WHEN 1 THEN s[1:p - 1] || s[p + 1:] ELSE s[1:p] || s[p:] END AS x ` +
    `FROM (SELECT i, s, 1 + CAST(hash(i, 3) % length(s) AS INTEGER) AS p FROM range(${count}) r(i), ` +
    `(SELECT list_value(${values}) AS seeds), LATERAL (SELECT seeds[1 + CAST(hash(i, 4) % len(seeds) AS INTEGER)] AS s))`
  );
}

describe('text parsing: fast path = strict rules', () => {
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;

  beforeAll(async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    instance = await DuckDBInstance.create(':memory:', { threads: '2' });
    connection = await instance.connect();
    await connection.run(`SET TimeZone = 'UTC'`);
    const tricky = TRICKY.map((x) => `(${literal(x)})`).join(', ');
    await connection.run(
      `CREATE TABLE texts AS SELECT x FROM (VALUES ${tricky}) t(x) ` +
        `UNION ALL ${randomText('0123456789.-+eE_ \tnaifINAFxX(),', 40_000, 10)} ` +
        `UNION ALL ${randomText('0123456789-:TZ .+tzUCB()/', 40_000, 30)} ` +
        `UNION ALL ${mutated(['2024-01-31 12:00:00', '2024-01-31T12:00:00.125Z', '2024-01-31T12:00:00+02:00', '2024-01-31', '2024-01-31T12:00:00Z'], '0123456789-:TZ .+tzUCBXa/', 80_000)} ` +
        `UNION ALL ${mutated(['12.5', '-0.001', '1e-05', '123456789', '-42', '3.4028235e38'], '0123456789.-+eE_ \tn', 40_000)} ` +
        `UNION ALL SELECT NULL`,
    );
  });
  afterAll(() => {
    connection?.closeSync();
    instance?.closeSync();
  });

  it.each(TYPES)('%s', async (type) => {
    const parser = columnParser(type)!;
    const strict = parser.parse(parser.normalize('x'));
    const reader = await connection.runAndReadAll(
      `SELECT x, CAST(fast AS VARCHAR) AS fast, CAST(strict AS VARCHAR) AS strict, problem, invalid FROM (` +
        `SELECT x, fast, strict, ${parser.problem('x', 'fast')} AS problem, ` +
        `${parser.invalid(parser.normalize('x'), 'strict')} AS invalid ` +
        `FROM (SELECT x, ${parser.value('x')} AS fast, ${strict} AS strict FROM texts)) ` +
        `WHERE fast IS DISTINCT FROM strict OR problem IS DISTINCT FROM invalid ORDER BY x LIMIT 20`,
    );
    expect(reader.getRowObjectsJS()).toEqual([]);
    const [row] = (
      await connection.runAndReadAll(
        `SELECT count(*) AS n, count(${strict}) AS valid FROM texts WHERE x IS NOT NULL`,
      )
    ).getRowObjectsJS();
    // The random text does reach valid values, not only garbage.
    expect(Number(row?.valid)).toBeGreaterThan(100);
  });
});

// Values the strict rules once changed instead of refusing: a float beyond its range became
// infinity, digits past microseconds were cut, an object in a list of strings became its JSON
// text. Each is refused (NULL: invalid) with the reason said; the spellings that mean what
// they say are kept.
const STRICT: [FeatureType, string, string | null, RegExp?][] = [
  ['float64', '1e400', null, /out of the range of float64/],
  ['float64', '-1e309', null, /out of the range of float64/],
  ['float64', '1e308', '1e+308'],
  ['float64', 'inf', 'inf'],
  ['float64', '-Infinity', '-inf'],
  ['float64', 'nan', 'nan'],
  ['float64', '1e-400', '0.0'],
  ['float32', '1e39', null, /out of the range of float32/],
  ['float32', '1e400', null, /out of the range of float32/],
  ['float32', '-inf', '-inf'],
  ['int32', '3000000000', null, /out of the range of int32/],
  ['int64', '9223372036854775808', null, /out of the range of int64/],
  ['timestamp', '2024-01-31T12:00:00.123456789Z', null, /finer than a microsecond/],
  ['timestamp', '2024-01-31 12:00:00.000000001', null, /finer than a microsecond/],
  ['timestamp', '2024-01-31T12:00:00.123456000Z', '2024-01-31 12:00:00.123456+00'],
  ['timestamp', '2024-01-31T12:00:00.5000000Z', '2024-01-31 12:00:00.5+00'],
  ['list<string>', '["a", {"b": 1}]', null, /object or array as an element/],
  ['list<string>', '["a", ["b"]]', null, /object or array as an element/],
  ['list<string>', '["a", 1, true, null, "x\\"y"]', `[a, 1, true, NULL, 'x"y']`],
  ['list<int64>', '[1, {"b": 1}]', null, /object or array as an element/],
];

describe('strict rules: out of range, finer than microseconds, nested elements', () => {
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  beforeAll(async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    connection = await instance.connect();
    await connection.run(`SET TimeZone = 'UTC'`);
  });
  afterAll(() => {
    connection?.closeSync();
    instance?.closeSync();
  });

  it.each(STRICT)('%s %s', async (type, text, expected, why) => {
    const parser = columnParser(type)!;
    const x = literal(text);
    const [row] = (
      await connection.runAndReadAll(
        `SELECT CAST(fast AS VARCHAR) AS fast, CAST(strict AS VARCHAR) AS strict, ` +
          `${parser.invalid(parser.normalize(x), 'strict')} AS invalid ` +
          `FROM (SELECT ${parser.value(x)} AS fast, ${parser.parse(parser.normalize(x))} AS strict)`,
      )
    ).getRowObjectsJS();
    // A refused list keeps its other elements: the count of elements tells it is invalid.
    expect(row?.invalid).toBe(expected === null);
    expect(row?.fast).toBe(row?.strict);
    if (expected !== null) expect(row?.strict).toBe(expected);
    else if (!type.startsWith('list<')) expect(row?.strict).toBeNull();
    if (why) expect(whyInvalid(type, text)).toMatch(why);
    else expect(whyInvalid(type, text)).toBeUndefined();
  });
});
