import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliJson, tempStore } from './helpers.js';

/*
 * `featureset register --schema-from DATAFILE`: the inferred schema is printed for review and
 * registered, and the very file then ingests into the feature set registered from it.
 */

const CSV = `customer_id,ts,amount,visits,vip,signup,zip,merchants
c1,2024-01-31T12:00:00Z,12.5,3,true,2020-05-01,02134,"[""shop"",""cafe""]"
c2,2024-02-01T08:00:00Z,7,,false,2021-06-30,10001,[]
c3,2024-02-02T09:30:00Z,-1.25,12,TRUE,,94110,"[""shop""]"
`;

const CSV_SCHEMA = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'amount', type: 'float64' },
    { name: 'visits', type: 'int64' },
    { name: 'vip', type: 'bool' },
    { name: 'signup', type: 'date' },
    { name: 'zip', type: 'string' },
    { name: 'merchants', type: 'list<string>' },
  ],
};

const JSONL = [
  '{"user_id":1,"day":"2024-01-31","score":0.5,"clicks":[1,2],"seen":["2024-01-31T10:00:00Z"],"ok":true}',
  '{"user_id":2,"day":"2024-02-01","score":2,"clicks":[],"seen":[],"ok":null}',
].join('\n');

// Each case runs several commands, each opening the embedded store: generous on a busy machine.
describe('featurestore featureset register --schema-from', { timeout: 120_000 }, () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  // Data files live outside the store's folder, which commands refuse to read or write.
  let data: Awaited<ReturnType<typeof tempStore>>;
  const file = (name: string) => join(data.dir, name);
  const run = (...argv: string[]) => cli(store.dir, ...argv);

  beforeAll(async () => {
    store = await tempStore();
    data = await tempStore();
    await cliJson(store.dir, 'project', 'create', 'shop');
    await writeFile(file('customers.csv'), CSV);
    await writeFile(file('events.jsonl'), `${JSONL}\n`);
    await writeFile(file('customers.schema.json'), JSON.stringify(CSV_SCHEMA));
  });
  afterAll(async () => {
    await store.remove();
    await data.remove();
  });

  it('--dry-run prints the inferred schema (the --schema file format) and registers nothing', async () => {
    const result = await run(
      'featureset',
      'register',
      'shop',
      'customers',
      '--schema-from',
      file('customers.csv'),
      '--primary-key',
      'customer_id',
      '--event-time',
      'ts',
      '--ttl',
      'P30D',
      '--dry-run',
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ ...CSV_SCHEMA, timeToLive: 'P30D' });
    // For people to edit: one line per field and per feature.
    expect(result.stdout).toContain('\n  "primaryKey": ["customer_id"],\n');
    expect(result.stdout).toContain('\n    { "name": "zip", "type": "string" },\n');
    expect(result.stderr).toMatch(/^note: column "zip" is inferred as string, not int64: "02134"/m);
    expect(result.stderr).toMatch(/not registered \(--dry-run\)/);
    const missing = await run('featureset', 'get', 'shop', 'customers');
    expect(missing.stderr).toMatch(/\[NOT_FOUND\]/);

    // The printed schema, saved, registers as it is.
    await writeFile(file('saved.schema.json'), result.stdout);
    const registered = await cliJson(
      store.dir,
      'featureset',
      'register',
      'shop',
      'customers_saved',
      '--schema',
      file('saved.schema.json'),
    );
    expect(registered).toMatchObject({ schema: CSV_SCHEMA, timeToLive: 'P30D' });
  });

  it('--dry-run --json gives the schema, the notes and the rows read', async () => {
    const result = await cliJson<{ schema: unknown; notes: string[]; rowCount: number }>(
      store.dir,
      'featureset',
      'register',
      'shop',
      'events_preview',
      '--schema-from',
      file('events.jsonl'),
      '--primary-key',
      'user_id',
      '--event-time',
      'day',
      '--dry-run',
    );
    expect(result.rowCount).toBe(2);
    expect(result.schema).toEqual({
      primaryKey: ['user_id'],
      eventTime: 'day',
      features: [
        { name: 'user_id', type: 'int64' },
        { name: 'day', type: 'date' },
        { name: 'score', type: 'float64' },
        { name: 'clicks', type: 'list<int64>' },
        { name: 'seen', type: 'list<timestamp>' },
        { name: 'ok', type: 'bool' },
      ],
    });
  });

  /** Registers from `source`, prints the schema, then ingests the same file: all succeed. */
  async function registerAndIngest(
    name: string,
    source: string,
    key: string,
    time: string,
    rows: number,
  ) {
    const registered = await run(
      'featureset',
      'register',
      'shop',
      name,
      '--schema-from',
      source,
      '--primary-key',
      key,
      '--event-time',
      time,
      '--description',
      `inferred from ${name}`,
      '--tag',
      'team=growth',
    );
    expect(registered.code, registered.stderr).toBe(0);
    const [printed] = registered.stdout.split('\n\n');
    const schema = JSON.parse(printed!) as { features: unknown[] };
    expect(registered.stdout).toMatch(/\nname\s+shop\//);
    const stored = await cliJson<{ schema: unknown; description: string; tags: unknown }>(
      store.dir,
      'featureset',
      'get',
      'shop',
      name,
    );
    expect(stored.schema).toEqual({
      primaryKey: [key],
      eventTime: time,
      features: schema.features,
    });
    expect(stored).toMatchObject({
      description: `inferred from ${name}`,
      tags: { team: 'growth' },
    });
    const ingested = await cliJson<{ rowCount: number }>(store.dir, 'ingest', 'shop', name, source);
    expect(ingested.rowCount).toBe(rows);
    return schema;
  }

  it('registers from CSV, and the same file ingests', async () => {
    const schema = await registerAndIngest(
      'from_csv',
      file('customers.csv'),
      'customer_id',
      'ts',
      3,
    );
    expect(schema).toMatchObject({ features: CSV_SCHEMA.features });
  });

  it('registers from JSON Lines, and the same file ingests', async () => {
    await registerAndIngest('from_jsonl', file('events.jsonl'), 'user_id', 'day', 2);
  });

  it('registers from Parquet (a retrieved output), and the same file ingests', async () => {
    await registerAndIngest('parquet_origin', file('customers.csv'), 'customer_id', 'ts', 3);
    const out = file('customers.parquet');
    const retrieved = await run('retrieve', 'shop', 'parquet_origin', '--latest', '--out', out);
    expect(retrieved.code, retrieved.stderr).toBe(0);
    const schema = await registerAndIngest('from_parquet', out, 'customer_id', 'ts', 3);
    expect(schema).toMatchObject({ features: CSV_SCHEMA.features });
  });

  it('with --json, prints the schema, the notes and the registered feature set', async () => {
    const result = await cliJson<{ schema: unknown; notes: string[]; featureSet: unknown }>(
      store.dir,
      'featureset',
      'register',
      'shop',
      'from_csv_json',
      '--schema-from',
      file('customers.csv'),
      '--primary-key',
      'customer_id',
      '--event-time',
      'ts',
    );
    expect(result.schema).toEqual(CSV_SCHEMA);
    expect(result.notes.join('\n')).toMatch(/"zip"/);
    expect(result.featureSet).toMatchObject({ name: 'from_csv_json', schema: CSV_SCHEMA });
  });

  it('is refused to a caller who may not register, and reads sources under the source access rules', async () => {
    await cliJson(store.dir, 'user', 'create', 'carol');
    await cliJson(store.dir, 'user', 'create', 'erin');
    await cliJson(store.dir, 'permission', 'grant', 'shop', 'carol', 'consumer');
    await cliJson(store.dir, 'permission', 'grant', 'shop', 'erin', 'editor');
    const tokenOf = async (user: string) =>
      (
        await cliJson<{ secret: string }>(
          store.dir,
          'token',
          'create',
          '--name',
          `${user}_ci`,
          '--user',
          user,
        )
      ).secret;
    const infer = async (user: string) => {
      await writeFile(file(`${user}.token`), await tokenOf(user));
      return run(
        '--token-file',
        file(`${user}.token`),
        'featureset',
        'register',
        'shop',
        'by_token',
        '--schema-from',
        file('customers.csv'),
        '--primary-key',
        'customer_id',
        '--event-time',
        'ts',
        '--dry-run',
      );
    };
    const consumer = await infer('carol');
    expect(consumer.stderr).toMatch(
      /user "carol" may not featureset\.register.*\[PERMISSION_DENIED\]/,
    );
    // An editor signed in with a token reads sources only under the landing roots (none here).
    const editor = await infer('erin');
    expect(editor.code).toBe(1);
    expect(editor.stderr).toMatch(
      /user "erin" may not read source .*customers\.csv.*\[PERMISSION_DENIED\]/,
    );
    expect(editor.stdout).toBe('');
  });

  it('refuses a name already taken before reading the data file', async () => {
    await cliJson(
      store.dir,
      'featureset',
      'register',
      'shop',
      'taken',
      '--schema',
      file('customers.schema.json'),
    );
    const result = await run(
      'featureset',
      'register',
      'shop',
      'taken',
      '--schema-from',
      file('nowhere.csv'),
      '--primary-key',
      'customer_id',
      '--event-time',
      'ts',
    );
    expect(result.stderr).toMatch(
      /^error: feature set "shop\/taken" already exists: .*\[ALREADY_EXISTS\]\n$/,
    );
  });

  describe('refuses with one line naming the problem, and registers nothing', () => {
    const cases: { name: string; files?: [string, string][]; args: string[]; expect: RegExp[] }[] =
      [
        {
          name: 'a key column the file lacks (the columns listed)',
          args: ['--schema-from', 'customers.csv', '--primary-key', 'id', '--event-time', 'ts'],
          expect: [/primary key "id" is not a column of/, /"customer_id", "ts", "amount"/],
        },
        {
          name: 'an event-time column the file lacks',
          args: ['--schema-from', 'customers.csv', '--primary-key', 'customer_id'],
          expect: [/--schema-from needs --event-time/],
        },
        {
          name: 'an event-time column that is not a time',
          args: [
            '--schema-from',
            'customers.csv',
            '--primary-key',
            'customer_id',
            '--event-time',
            'zip',
          ],
          expect: [/event time "zip" is inferred as string/, /timestamp/, /YYYY-MM-DD/],
        },
        {
          name: 'a key column with empty values',
          args: ['--schema-from', 'customers.csv', '--primary-key', 'visits', '--event-time', 'ts'],
          expect: [/primary key "visits" is empty in some rows/],
        },
        {
          name: 'an empty file',
          files: [['empty.csv', '']],
          args: ['--schema-from', 'empty.csv', '--primary-key', 'id', '--event-time', 'ts'],
          expect: [/empty\.csv is empty/],
        },
        {
          name: 'a header without rows',
          files: [['header.csv', 'id,ts\n']],
          args: ['--schema-from', 'header.csv', '--primary-key', 'id', '--event-time', 'ts'],
          expect: [/header\.csv.*no rows/],
        },
        {
          name: 'a reserved column name, as register refuses it',
          files: [['reserved.csv', 'id,ts,file_row_number\n1,2024-01-01,3\n']],
          args: ['--schema-from', 'reserved.csv', '--primary-key', 'id', '--event-time', 'ts'],
          expect: [/"file_row_number" is reserved/],
        },
        {
          name: 'a column name that is not a feature name',
          files: [['names.csv', 'id,ts,Total Amount\n1,2024-01-01,3\n']],
          args: ['--schema-from', 'names.csv', '--primary-key', 'id', '--event-time', 'ts'],
          expect: [/column "Total Amount" cannot be a feature/, /rename the column/],
        },
        {
          name: 'a time to live that is not an ISO 8601 duration',
          args: [
            '--schema-from',
            'customers.csv',
            '--primary-key',
            'customer_id',
            '--event-time',
            'ts',
            '--ttl',
            '30 days',
          ],
          expect: [/timeToLive/, /30 days/],
        },
        {
          name: 'a missing data file',
          args: ['--schema-from', 'nowhere.csv', '--primary-key', 'id', '--event-time', 'ts'],
          expect: [/nowhere\.csv does not exist/],
        },
        {
          name: '--schema with --schema-from',
          args: [
            '--schema',
            'customers.schema.json',
            '--schema-from',
            'customers.csv',
            '--primary-key',
            'customer_id',
            '--event-time',
            'ts',
          ],
          expect: [/--schema and --schema-from exclude each other/],
        },
        {
          name: 'an inference option with --schema',
          args: ['--schema', 'customers.schema.json', '--dry-run'],
          expect: [/--dry-run goes with --schema-from/],
        },
        {
          name: 'neither --schema nor --schema-from',
          args: [],
          expect: [/needs --schema FILE .* or --schema-from DATAFILE/],
        },
      ];
    for (const bad of cases) {
      it(bad.name, async () => {
        for (const [name, content] of bad.files ?? []) await writeFile(file(name), content);
        const args = bad.args.map((arg) => (/\.(csv|json)$/.test(arg) ? file(arg) : arg));
        const result = await run('featureset', 'register', 'shop', 'refused', ...args);
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/^error: .*\[VALIDATION\]\n$/);
        for (const pattern of bad.expect) expect(result.stderr).toMatch(pattern);
        expect((await run('featureset', 'get', 'shop', 'refused')).stderr).toMatch(/NOT_FOUND/);
      });
    }
  });
});
