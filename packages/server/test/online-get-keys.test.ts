import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFeatureStore } from '../src/index.js';
import { cli, cliJson, tempStore } from './helpers.js';

const accounts = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
  ],
};
const visits = {
  primaryKey: ['store', 'day'],
  eventTime: 'ts',
  features: [
    { name: 'store', type: 'string' },
    { name: 'day', type: 'int32' },
    { name: 'ts', type: 'timestamp' },
    { name: 'count', type: 'int64' },
  ],
};

/** The text keys that look like numbers, booleans, or hold the separators. */
const ODD_KEYS = ['007', '123', 'true', 'a,b', 'say "hi"', ' padded '];

describe('featurestore online get --key', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  beforeAll(async () => {
    store = await tempStore();
    const fs = await openFeatureStore({ store: store.dir });
    await fs.engine.projects.create(fs.principal, { name: 'keys' });
    await fs.engine.featureSets.register(fs.principal, 'keys', 'accounts', accounts);
    await fs.engine.featureSets.register(fs.principal, 'keys', 'visits', visits);
    await fs.close();
    const ts = '2026-01-01T00:00:00Z';
    const file = join(store.dir, 'accounts.jsonl');
    await writeFile(
      file,
      ODD_KEYS.map((id, age) => JSON.stringify({ customer_id: id, ts, age })).join('\n'),
    );
    await cliJson(store.dir, 'online', 'push', 'keys', 'accounts', file);
    const visitsFile = join(store.dir, 'visits.jsonl');
    await writeFile(
      visitsFile,
      [
        { store: '12', day: 1, ts, count: 5 },
        { store: 'x,y', day: 2, ts, count: 6 },
      ]
        .map((row) => JSON.stringify(row))
        .join('\n'),
    );
    await cliJson(store.dir, 'online', 'push', 'keys', 'visits', visitsFile);
  }, 120_000);
  afterAll(async () => {
    await store?.remove();
  });

  const get = (featureSet: string, ...keys: string[]) =>
    cli(
      store.dir,
      '--json',
      'online',
      'get',
      'keys',
      featureSet,
      ...keys.flatMap((k) => ['--key', k]),
    );

  it('reads string keys that look like numbers or booleans as strings, and quoted values with commas and quotes', async () => {
    const result = await get(
      'accounts',
      'customer_id=007',
      'customer_id=123',
      'customer_id=true',
      'customer_id="a,b"',
      'customer_id="say ""hi"""',
      'customer_id=" padded "',
    );
    expect(result.stderr).toBe('');
    const { items } = JSON.parse(result.stdout) as { items: Record<string, unknown>[] };
    expect(items.map((row) => [row.customer_id, row.accounts__age])).toEqual(
      ODD_KEYS.map((id, age) => [id, age]),
    );
  }, 60_000);

  it('types each column of a composite key by its own type', async () => {
    const result = await get('visits', 'store=12,day=1', 'store="x,y",day=2', 'day=2,store=12');
    expect(result.stderr).toBe('');
    const { items } = JSON.parse(result.stdout) as { items: Record<string, unknown>[] };
    expect(items.map((row) => row.visits__count)).toEqual([5, 6, null]);
  }, 60_000);

  it.each([
    [['customer_id=c1,customer_id=c2'], /column customer_id is given twice.*one --key per entity/],
    [['customer_id="c1'], /has no closing quote/],
    [['customer_id="c1"x'], /followed by text instead of a comma/],
    [['customer'], /has no "="/],
    [['=c1'], /column name is missing/],
    [['age=3'], /age, which is not a primary-key column: the key columns are customer_id/],
  ])('refuses %j, saying why', async (keys, message) => {
    const result = await get('accounts', ...keys);
    expect(result.code).not.toBe(0);
    expect(JSON.parse(result.stderr)).toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(message),
    });
  });

  it.each([
    ['day=1.5', /day is a int32 column, so its value must be an integer/],
    ['day=x', /day is a int32 column/],
  ])('refuses %s where the key column is typed', async (key, message) => {
    const result = await get('visits', `store=12,${key}`);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });
});
