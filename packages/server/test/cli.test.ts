import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliJson, tempStore } from './helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('featurestore CLI walk-through (README)', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  beforeAll(async () => {
    store = await tempStore();
  });
  afterAll(async () => store.remove());

  it('creates a project, registers, versions, tokens and grants', async () => {
    const project = await cliJson(
      store.dir,
      'project',
      'create',
      'fraud',
      '--description',
      'card fraud',
    );
    expect(project).toMatchObject({ name: 'fraud', description: 'card fraud', revision: 1 });

    const registered = await cliJson(
      store.dir,
      'featureset',
      'register',
      'fraud',
      'transactions',
      '--schema',
      fixture('customers.schema.json'),
    );
    expect(registered).toMatchObject({ version: { major: 1, minor: 0 }, timeToLive: 'P30D' });

    const minor = await cliJson(
      store.dir,
      'featureset',
      'update',
      'fraud',
      'transactions',
      '--description',
      'all card transactions',
      '--tag',
      'tier=gold',
      '--ttl',
      'P7D',
    );
    expect(minor).toMatchObject({
      version: { major: 1, minor: 1 },
      tags: { team: 'fraud', tier: 'gold' },
      timeToLive: 'P7D',
    });

    const major = await cliJson(
      store.dir,
      'featureset',
      'update',
      'fraud',
      'transactions',
      '--schema',
      fixture('customers-v2.schema.json'),
    );
    expect(major).toMatchObject({
      version: { major: 2, minor: 0 },
      description: 'all card transactions',
    });

    const versions = await cliJson<{ items: { version: string; changes: string }[] }>(
      store.dir,
      'featureset',
      'versions',
      'fraud',
      'transactions',
    );
    expect(versions.items.map((v) => v.version)).toEqual(['1.0', '1.1', '2.0']);
    expect(versions.items[2]!.changes).toContain('feature country added (string)');

    const old = await cliJson(
      store.dir,
      'featureset',
      'get',
      'fraud',
      'transactions',
      '--version',
      '1',
    );
    expect(old).toMatchObject({ version: { major: 1, minor: 1 } });

    await cliJson(store.dir, 'user', 'create', 'alice');
    const granted = await cliJson(store.dir, 'permission', 'grant', 'fraud', 'alice', 'consumer');
    expect(granted).toMatchObject({ role: 'consumer' });

    const token = await cliJson<{ secret: string; token: { id: string } }>(
      store.dir,
      'token',
      'create',
      '--name',
      'ci',
      '--user',
      'alice',
      '--expires-in',
      'P90D',
    );
    expect(token.secret).toMatch(/^fst_/);
    const tokenFile = join(store.dir, 'alice.token');
    await writeFile(tokenFile, `${token.secret}\n`, { mode: 0o600 });
    const listed = await cli(
      store.dir,
      '--token-file',
      tokenFile,
      'featureset',
      'list',
      '--project',
      'fraud',
    );
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('transactions');

    const denied = await cli(
      store.dir,
      '--token-file',
      tokenFile,
      'featureset',
      'delete',
      'fraud',
      'transactions',
    );
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(
      /^error: user "alice" may not featureset\.delete in project "fraud".*\[PERMISSION_DENIED\]\n$/,
    );

    await cliJson(store.dir, 'token', 'revoke', token.token.id);
    const revoked = await cli(store.dir, '--token', token.secret, 'project', 'list');
    expect(revoked.stderr).toMatch(/revoked.*\[UNAUTHENTICATED\]/);

    const human = await cli(store.dir, 'project', 'list');
    expect(human.stdout).toMatch(/^name\s+description\s+tags\nfraud\s+card fraud/);
    // About twenty commands, each opening the store: slow on a busy machine.
  }, 120_000);
});

describe('featurestore CLI bad input', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  beforeAll(async () => {
    store = await tempStore();
    await cliJson(store.dir, 'project', 'create', 'shop');
  });
  afterAll(async () => store.remove());

  const schema = async (content: unknown) => {
    const path = join(store.dir, `schema-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(path, JSON.stringify(content));
    return path;
  };
  const base = {
    primaryKey: ['id'],
    eventTime: 'ts',
    features: [
      { name: 'id', type: 'int64' },
      { name: 'ts', type: 'timestamp' },
    ],
  };

  it.each([
    [
      'a project name with SQL metacharacters',
      ['project', 'create', "x'; drop table projects;--"],
      /project name "x'; drop table projects;--" is invalid/,
    ],
    [
      'a project name with a path separator',
      ['project', 'create', 'a/b'],
      /project name "a\/b" is invalid/,
    ],
    ['an empty project name', ['project', 'create', ''], /project name "" is invalid: it is empty/],
    [
      'a too long project name',
      ['project', 'create', 'p'.repeat(64)],
      /is 64 characters long, the limit is 63/,
    ],
    [
      'an unknown project',
      ['featureset', 'get', 'nope', 'x'],
      /project "nope" does not exist.*\[NOT_FOUND\]/,
    ],
    [
      'an unknown feature set',
      ['featureset', 'get', 'shop', 'nope'],
      /feature set "nope" does not exist in project "shop"/,
    ],
    [
      'an unknown version',
      ['featureset', 'versions', 'shop', 'nope'],
      /feature set "nope" does not exist/,
    ],
    ['an unknown role', ['permission', 'grant', 'shop', 'admin', 'king'], /role "king" is unknown/],
    [
      'a bad duration',
      ['featureset', 'update', 'shop', 'x', '--ttl', '1 day'],
      /does not exist|not an ISO 8601 duration/,
    ],
    [
      'a missing schema file',
      ['featureset', 'register', 'shop', 'x', '--schema', '/no/such/file.json'],
      /--schema \/no\/such\/file\.json cannot be read/,
    ],
  ])('%s is one readable line and exit 1', async (_case, argv, message) => {
    const result = await cli(store.dir, ...(argv as string[]));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message as RegExp);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    [
      'an unknown type',
      { ...base, features: [...base.features, { name: 'x', type: 'decimal' }] },
      /features\[2\]\.type has unknown type "decimal"/,
    ],
    [
      'a duplicate feature name',
      { ...base, features: [...base.features, { name: 'id', type: 'string' }] },
      /"id" is a duplicate feature name/,
    ],
    [
      'a primary key that is not a feature',
      { ...base, primaryKey: ['customer'] },
      /primaryKey\[0\] "customer" is not one of the features/,
    ],
    [
      'an event time that is not a feature',
      { ...base, eventTime: 'when' },
      /eventTime "when" is not one of the features/,
    ],
    [
      'an event time that is not a time',
      { ...base, eventTime: 'id', primaryKey: ['ts'] },
      /"ts" has type timestamp|eventTime/,
    ],
    [
      'a Featurestore setting with a value it does not take',
      { ...base, tags: { 'featurestore.statistics': 'some' } },
      /featurestore\.statistics is "some"; use one of full, basic/,
    ],
    [
      'an unknown Featurestore setting',
      { ...base, tags: { 'featurestore.stats': 'basic' } },
      /"featurestore\.stats" is not a Featurestore setting/,
    ],
    [
      'a reserved feature name',
      { ...base, features: [...base.features, { name: 'file_row_number', type: 'int64' }] },
      /features\[2\]\.name "file_row_number" is reserved/,
    ],
    [
      'an invalid feature name',
      { ...base, features: [...base.features, { name: 'Bad-Name', type: 'string' }] },
      /feature name "Bad-Name" is invalid/,
    ],
    [
      'an unknown field',
      { ...base, primary_key: ['id'] },
      /schema\.primary_key is not a known field/,
    ],
  ])('a schema with %s is refused and nothing is registered', async (_case, content, message) => {
    const result = await cli(
      store.dir,
      'featureset',
      'register',
      'shop',
      'bad',
      '--schema',
      await schema(content),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('[VALIDATION]');
    const listed = await cliJson<{ items: unknown[] }>(
      store.dir,
      'featureset',
      'list',
      '--project',
      'shop',
    );
    expect(listed.items).toEqual([]);
  });

  it('shows a stack trace only with --verbose', async () => {
    const result = await cli(store.dir, '--verbose', 'project', 'get', 'nope');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/NotFoundError: project "nope" does not exist[\s\S]*\n\s+at /);
  });

  it('prints its version with --version, while commands keep their own --version V', async () => {
    const result = await cli(store.dir, '--version');
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('has --help on every command', async () => {
    for (const argv of [
      [],
      ['project'],
      ['project', 'create'],
      ['project', 'get'],
      ['project', 'list'],
      ['project', 'update'],
      ['project', 'delete'],
      ['featureset'],
      ['featureset', 'register'],
      ['featureset', 'get'],
      ['featureset', 'list'],
      ['featureset', 'update'],
      ['featureset', 'versions'],
      ['featureset', 'delete'],
      ['user', 'create'],
      ['user', 'list'],
      ['token', 'create'],
      ['token', 'list'],
      ['token', 'revoke'],
      ['permission', 'grant'],
      ['permission', 'revoke'],
      ['permission', 'list'],
      ['quickstart'],
    ]) {
      const result = await cli(store.dir, ...argv, '--help');
      expect(result.code, argv.join(' ')).toBe(0);
      expect(result.stdout, argv.join(' ')).toMatch(/^Usage: featurestore/);
    }
  });

  it('refuses to delete a project that holds feature sets unless forced', async () => {
    await cliJson(store.dir, 'project', 'create', 'held');
    const path = await schema(base);
    await cliJson(store.dir, 'featureset', 'register', 'held', 'fs1', '--schema', path);
    const refused = await cli(store.dir, 'project', 'delete', 'held');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/still holds feature sets \(e\.g\. "fs1"\).*\[CONFLICT\]/);
    expect((await cli(store.dir, 'project', 'delete', 'held', '--force')).code).toBe(0);
    expect((await cli(store.dir, 'project', 'get', 'held')).stderr).toMatch(/does not exist/);
  });
});
