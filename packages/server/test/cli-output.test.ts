/**
 * What the CLI prints for scripts and people: with --json an error is one JSON object on
 * stderr (`code`, `message`, `details`) whatever its code, usage errors included; table
 * headers are the names as the data has them; hints name the flags the CLI has.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ErrorCode, ValidationError } from '@featurestore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatJsonError } from '../src/cli/io.js';
import { cli, cliJson, tempStore } from './helpers.js';

const FAILING_PLUGIN = fileURLToPath(
  new URL('./fixtures/failing-driver-plugin.ts', import.meta.url),
);

/** Every code of core's error tree: a new code fails to type-check here until it is tested. */
const EVERY_CODE = {
  VALIDATION: true,
  NOT_FOUND: true,
  ALREADY_EXISTS: true,
  CONFLICT: true,
  UNAUTHENTICATED: true,
  PERMISSION_DENIED: true,
  UNAVAILABLE: true,
  NOT_SUPPORTED: true,
  CANCELLED: true,
  INTERNAL: true,
} satisfies Record<ErrorCode, true>;

/** The one line a failed command printed on stderr, parsed. */
function jsonError(stderr: string): { code: string; message: string; details: object } {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  const parsed = JSON.parse(lines[0]!);
  expect(Object.keys(parsed).sort()).toEqual(['code', 'details', 'message']);
  expect(typeof parsed.message).toBe('string');
  expect(typeof parsed.details).toBe('object');
  return parsed;
}

describe('featurestore --json errors', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  beforeAll(async () => {
    store = await tempStore();
    await cliJson(store.dir, 'project', 'create', 'shop');
  });
  afterAll(async () => store.remove());

  it.each(Object.keys(EVERY_CODE))(
    '%s is one JSON object on stderr (a driver failing to open)',
    async (code) => {
      // A fresh store: one opened before remembers its online store and refuses another.
      const fresh = await tempStore();
      const result = await cli(
        fresh.dir,
        '--json',
        '--plugin',
        FAILING_PLUGIN,
        '--online',
        `failing://${code.toLowerCase()}`,
        'project',
        'list',
      );
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      const error = jsonError(result.stderr);
      expect(error.code).toBe(code);
      expect(error.message).toContain(`fail with ${code}`);
      if (code !== 'INTERNAL') expect(error.details).toMatchObject({ field: 'online' });
      await fresh.remove();
    },
  );

  it.each([
    ['VALIDATION', ['project', 'create', 'Bad-Name'], { field: 'project' }],
    ['NOT_FOUND', ['featureset', 'get', 'shop', 'nope'], {}],
    ['ALREADY_EXISTS', ['project', 'create', 'shop'], {}],
    ['UNAUTHENTICATED', ['--token', 'fst_not_a_real_token', 'project', 'list'], {}],
  ])('%s from the engine keeps its details', async (code, argv, details) => {
    const result = await cli(store.dir, '--json', ...(argv as string[]));
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    // --token also warns on stderr that it shows the secret; the error is the last line.
    const error = jsonError(lines.at(-1)!);
    expect(error.code).toBe(code);
    expect(error.details).toMatchObject(details as object);
  });

  it('PERMISSION_DENIED names the action and role in its details', async () => {
    await cliJson(store.dir, 'user', 'create', 'bob');
    const token = await cliJson<{ secret: string }>(
      store.dir,
      'token',
      'create',
      '--name',
      'cli',
      '--user',
      'bob',
    );
    const tokenFile = join(store.dir, 'bob-token');
    await writeFile(tokenFile, `${token.secret}\n`);
    const result = await cli(
      store.dir,
      '--json',
      '--token-file',
      tokenFile,
      'featureset',
      'list',
      '--project',
      'shop',
    );
    expect(result.code).toBe(1);
    const error = jsonError(result.stderr);
    expect(error.code).toBe('PERMISSION_DENIED');
    expect(error.details).toMatchObject({ principal: 'bob' });
  });

  it('a usage error (unknown option, missing argument) is a VALIDATION object, no help text', async () => {
    const unknown = await cli(store.dir, '--json', 'project', 'list', '--colour');
    expect(unknown.code).toBe(1);
    expect(jsonError(unknown.stderr)).toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining('--colour'),
      details: { usage: 'commander.unknownOption' },
    });
    const missing = await cli(store.dir, '--json', 'project', 'create');
    expect(missing.code).toBe(1);
    expect(jsonError(missing.stderr)).toMatchObject({
      code: 'VALIDATION',
      details: { usage: 'commander.missingArgument' },
    });
  });

  it('blanks secrets in the JSON line as in the text line', async () => {
    const result = await cli(
      store.dir,
      '--json',
      '--metadata',
      'postgres://user:hunter2@127.0.0.1:1/none?connect_timeout=1',
      'project',
      'list',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('hunter2');
    jsonError(result.stderr);
  });

  it('writes details JSON cannot hold as they are (an int64 value as a bigint)', () => {
    const error = new ValidationError('row 3: id 9007199254740993 is taken', {
      details: { row: 3, value: 9007199254740993n },
    });
    expect(JSON.parse(formatJsonError(error, false))).toEqual({
      code: 'VALIDATION',
      message: 'row 3: id 9007199254740993 is taken',
      details: { row: 3, value: '9007199254740993' },
    });
  });

  it('without --json an error stays one readable line with its code', async () => {
    const result = await cli(store.dir, 'featureset', 'get', 'shop', 'nope');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: .*\[NOT_FOUND\]\n$/);
  });
});

describe('featurestore tables and hints', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  beforeAll(async () => {
    store = await tempStore();
    await cliJson(store.dir, 'project', 'create', 'shop');
  });
  afterAll(async () => store.remove());

  it('heads columns with the names the data has (createdAt, not CREATEDAT)', async () => {
    await cliJson(store.dir, 'user', 'create', 'carol');
    const result = await cli(store.dir, 'user', 'list');
    expect(result.code).toBe(0);
    const header = result.stdout.split('\n')[0]!;
    expect(header.split(/\s+/)).toEqual(['name', 'admin', 'email', 'oidcSubject', 'createdAt']);
  });

  it('online get heads its columns <featureset>__<feature>, as --json and CSV name them', async () => {
    const schema = join(store.dir, 'visits.schema.json');
    await writeFile(
      schema,
      JSON.stringify({
        primaryKey: ['customer_id'],
        eventTime: 'ts',
        features: [
          { name: 'customer_id', type: 'string' },
          { name: 'ts', type: 'timestamp' },
          { name: 'amount', type: 'float64' },
        ],
      }),
    );
    await cliJson(store.dir, 'featureset', 'register', 'shop', 'visits', '--schema', schema);
    const rows = join(store.dir, 'visits.csv');
    await writeFile(rows, `customer_id,ts,amount\nc1,${new Date().toISOString()},4.5\n`);
    await cliJson(store.dir, 'ingest', 'shop', 'visits', rows);
    const result = await cli(
      store.dir,
      'online',
      'get',
      'shop',
      'visits',
      '--key',
      'customer_id=c1',
    );
    expect(result.code).toBe(0);
    const [header, row] = result.stdout.split('\n');
    expect(header!.split(/\s+/)).toEqual(['customer_id', 'visits__amount']);
    expect(row).toContain('4.5');
  });

  it('featureset register --help points to the schema file format in the repository', async () => {
    const result = await cli(store.dir, 'featureset', 'register', '--help');
    expect(result.stdout).toContain('schemas/feature-set.schema.json');
  });

  it('an extra source column names the --ignore-extra-columns flag', async () => {
    const rows = join(store.dir, 'extra.csv');
    await writeFile(rows, `customer_id,ts,amount,colour\nc2,${new Date().toISOString()},1,red\n`);
    const refused = await cli(store.dir, 'ingest', 'shop', 'visits', rows);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--ignore-extra-columns');
    const accepted = await cli(
      store.dir,
      'ingest',
      'shop',
      'visits',
      rows,
      '--ignore-extra-columns',
    );
    expect(accepted.code, accepted.stderr).toBe(0);
  });
});
