import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFeatureStore } from '../src/index.js';
import { cli, cliJson, tempStore } from './helpers.js';

const customers = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int32' },
  ],
};

describe('an embedded store materialized into Redis', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  const redis = serviceEnv('FEATURESTORE_TEST_REDIS_URL');
  afterAll(async () => {
    const fs = await openFeatureStore({ store: store.dir, online: redis });
    const featureSet = await fs.engine.featureSets.get(fs.principal, 'shop', 'customers');
    await fs.engine.drivers.online!.store.drop({ featureSetId: featureSet.id, major: 1 });
    await fs.close();
    await store.remove();
  });

  it('refuses `online get` without --online instead of answering from an empty store', async () => {
    store = await tempStore();
    const online = ['--online', redis];
    await cliJson(store.dir, ...online, 'project', 'create', 'shop');
    const schema = join(store.dir, 'customers.schema.json');
    await writeFile(schema, JSON.stringify(customers));
    await cliJson(
      store.dir,
      ...online,
      'featureset',
      'register',
      'shop',
      'customers',
      '--schema',
      schema,
    );
    const source = join(store.dir, 'customers.csv');
    await writeFile(source, 'customer_id,ts,age\nc1,2026-01-01T00:00:00Z,41\n');
    await cliJson(store.dir, ...online, 'ingest', 'shop', 'customers', source);
    const get = ['online', 'get', 'shop', 'customers', '--key', 'customer_id=c1'];

    const forgotten = await cli(store.dir, ...get);
    expect(forgotten.code).toBe(1);
    expect(forgotten.stdout).toBe('');
    expect(forgotten.stderr).toContain(
      `was opened with online ${redis}, and is now given the embedded online store (no --online)`,
    );
    expect(forgotten.stderr).toMatch(/pass the same --online as before .* or add --rebind/);

    const remembered = await cliJson<{ items: Record<string, unknown>[] }>(
      store.dir,
      ...online,
      ...get,
    );
    expect(JSON.stringify(remembered)).toContain('41');
  }, 120_000);
});

describe('the store remembers its parts in store.json', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  beforeEach(async () => {
    store = await tempStore();
  });
  afterEach(async () => {
    await store.remove();
  });
  const open = (config: Record<string, string>, rebind = false) =>
    openFeatureStore({ store: store.dir, ...config }, rebind ? { rebind } : {}).then((fs) =>
      fs.close(),
    );
  const storeJson = async () =>
    JSON.parse(await readFile(join(store.dir, 'store.json'), 'utf8')) as Record<string, unknown>;

  // Nothing listens on these: opening does not connect, and nothing here reads or writes.
  const otherStorage = () => pathToFileURL(join(store.dir, 'elsewhere')).href;
  const changes: [string, () => Record<string, string>, () => Record<string, string>][] = [
    ['online', () => ({}), () => ({ online: 'redis://127.0.0.1:1' })],
    ['online', () => ({ online: 'redis://127.0.0.1:1' }), () => ({})],
    [
      'online',
      () => ({ online: 'redis://127.0.0.1:1' }),
      () => ({ online: 'redis://127.0.0.1:2' }),
    ],
    ['queue', () => ({}), () => ({ queue: 'kafka://127.0.0.1:1' })],
    ['storage', () => ({}), () => ({ storage: otherStorage() })],
  ];

  it.each(changes)(
    'a later open with another %s is refused, naming both values; --rebind switches',
    async (part, first, second) => {
      await open(first());
      const refused = await open(second()).catch((error: unknown) => error);
      expect(refused).toMatchObject({
        code: 'VALIDATION',
        details: {
          field: part,
          remembered: first()[part] ?? null,
          given: second()[part] ?? null,
          flag: `--${part}`,
        },
      });
      expect(String((refused as Error).message)).toMatch(/--rebind/);
      await open(second(), true);
      expect((await storeJson())[part]).toBe(second()[part] ?? null);
      await expect(open(first())).rejects.toMatchObject({ details: { field: part } });
    },
    60_000,
  );

  it('keeps no secret in clear, a new password is the same part, and the file is private', async () => {
    await open({ online: 'redis://:s3cret@127.0.0.1:1/0', queue: 'kafka://127.0.0.1:1' });
    const text = await readFile(join(store.dir, 'store.json'), 'utf8');
    expect(text).not.toContain('s3cret');
    expect(JSON.parse(text)).toEqual({
      online: 'redis://:***@127.0.0.1:1/0',
      queue: 'kafka://127.0.0.1:1',
      storage: null,
    });
    expect((await stat(join(store.dir, 'store.json'))).mode & 0o777).toBe(0o600);
    await open({ online: 'redis://:rotated@127.0.0.1:1/0', queue: 'kafka://127.0.0.1:1' });
  }, 60_000);

  it('parts that fail to open are not remembered', async () => {
    const broken = await open({ queue: 'kafka://broker:not-a-port' }).catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(Error);
    expect(broken).not.toMatchObject({ details: { field: 'queue' } });
    await open({});
    expect(await storeJson()).toEqual({ online: null, queue: null, storage: null });
  }, 60_000);

  it('the default storage named explicitly is the default', async () => {
    await open({});
    await open({ storage: pathToFileURL(join(store.dir, 'data')).href });
  }, 60_000);

  it('a garbled store.json is an error naming the file; --rebind writes it again', async () => {
    await open({});
    await writeFile(join(store.dir, 'store.json'), '{"online": 12');
    await expect(open({})).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining(join(store.dir, 'store.json')),
    });
    await open({}, true);
    expect(await storeJson()).toEqual({ online: null, queue: null, storage: null });
  }, 60_000);
});
