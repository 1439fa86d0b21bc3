import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFeatureStore } from '../src/open-feature-store.js';
import { cli, tempStore } from './helpers.js';

const schema = fileURLToPath(new URL('./fixtures/customers.schema.json', import.meta.url));

type Caller = 'no role' | 'viewer' | 'admin';
const CALLERS: Caller[] = ['no role', 'viewer', 'admin'];

/**
 * Each call names an object: a project (P) or a user (U). `missing` names one that does not
 * exist; `hidden` one that exists but the caller has no role in (or, for users, is not).
 */
const CALLS: { call: string; argv: (name: string, out: string) => string[]; kind: 'P' | 'U' }[] = [
  { call: 'project get', kind: 'P', argv: (p) => ['project', 'get', p] },
  { call: 'featureset get', kind: 'P', argv: (p) => ['featureset', 'get', p, 'customers'] },
  {
    call: 'featureset versions',
    kind: 'P',
    argv: (p) => ['featureset', 'versions', p, 'customers'],
  },
  { call: 'featureset list', kind: 'P', argv: (p) => ['featureset', 'list', '--project', p] },
  { call: 'ingestions', kind: 'P', argv: (p) => ['ingestions', p, 'customers'] },
  { call: 'permission list', kind: 'P', argv: (p) => ['permission', 'list', p] },
  {
    call: 'retrieve',
    kind: 'P',
    argv: (p, out) => ['retrieve', p, 'customers', '--out', join(out, `${p}-${Math.random()}.csv`)],
  },
  {
    call: 'online get',
    kind: 'P',
    argv: (p) => ['online', 'get', p, 'customers', '--key', 'customer_id=c1'],
  },
  {
    call: 'featureset register --schema-from',
    kind: 'P',
    argv: (p, out) => [
      'featureset',
      'register',
      p,
      'inferred',
      '--schema-from',
      join(out, 'entities.csv'),
      '--primary-key',
      'customer_id',
      '--event-time',
      'at',
      '--dry-run',
    ],
  },
  { call: 'token list --user', kind: 'U', argv: (u) => ['token', 'list', '--user', u] },
  {
    call: 'token create --user',
    kind: 'U',
    argv: (u) => ['token', 'create', '--name', 'probe', '--user', u],
  },
];

const NAMES = {
  P: { missing: 'nope', hidden: 'vault' },
  U: { missing: 'nosuchuser', hidden: 'alice' },
};

describe('a caller cannot tell a missing name from one it may not see', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  // Outputs may not land inside the store.
  let outputs: Awaited<ReturnType<typeof tempStore>>;
  const tokenFiles = {} as Record<Caller, string>;
  const as = (caller: Caller, ...argv: string[]) =>
    cli(store.dir, '--token-file', tokenFiles[caller], ...argv);

  beforeAll(async () => {
    store = await tempStore();
    outputs = await tempStore();
    // Token callers read sources only under the landing roots: the entity file's folder.
    process.env.FEATURESTORE_SOURCE_ROOTS = outputs.dir;
    const rows = join(store.dir, 'rows.jsonl');
    await writeFile(
      rows,
      `${JSON.stringify({ customer_id: 'c1', ts: '2026-01-01T00:00:00Z', amount: 1.5, merchants: ['m'] })}\n`,
    );
    await writeFile(join(outputs.dir, 'entities.csv'), 'customer_id,at\nc1,2026-02-01T00:00:00Z\n');
    // Set up in-process (one open of the store), then every call goes through the CLI.
    const fs = await openFeatureStore({ store: store.dir });
    try {
      const { engine, principal } = fs;
      const definition = JSON.parse(await readFile(schema, 'utf8'));
      for (const project of ['vault', 'shop']) {
        await engine.projects.create(principal, { name: project });
        await engine.featureSets.register(principal, project, 'customers', definition);
        await (await engine.offline.ingest(principal, project, 'customers', rows)).result;
      }
      await engine.access.createUser(principal, { name: 'alice' });
      await engine.access.createUser(principal, { name: 'nobody' });
      await engine.access.createUser(principal, { name: 'watcher' });
      await engine.access.createUser(principal, { name: 'root', admin: true });
      await engine.access.grant(principal, 'shop', 'watcher', 'viewer');
      for (const [caller, user] of [
        ['no role', 'nobody'],
        ['viewer', 'watcher'],
        ['admin', 'root'],
      ] as const) {
        const { secret } = await engine.access.createToken(principal, { name: 'test', user });
        tokenFiles[caller] = join(store.dir, `${user}.token`);
        await writeFile(tokenFiles[caller], `${secret}\n`, { mode: 0o600 });
      }
    } finally {
      await fs.close();
    }
  }, 120_000);
  afterAll(async () => {
    delete process.env.FEATURESTORE_SOURCE_ROOTS;
    await store.remove();
    await outputs.remove();
  });

  /** The error line with the probed name taken out: what a caller could compare. */
  const shape = (stderr: string, name: string) =>
    stderr.replaceAll(`"${name}"`, '"<name>"').replaceAll(name, '<name>');

  for (const { call, argv, kind } of CALLS) {
    for (const caller of CALLERS) {
      it(`${call} by ${caller}`, async () => {
        const { missing, hidden } = NAMES[kind];
        const gone = await as(caller, ...argv(missing, outputs.dir));
        const seen = await as(caller, ...argv(hidden, outputs.dir));
        if (caller === 'admin') {
          expect(gone.code).toBe(1);
          expect(gone.stderr).toMatch(/does not exist.*\[NOT_FOUND\]/);
          expect(seen.stderr).not.toMatch(/^error:/m);
          expect(seen.code).toBe(0);
          return;
        }
        expect(gone.code).toBe(1);
        expect(seen.code).toBe(1);
        expect(seen.stderr).toContain('[PERMISSION_DENIED]');
        expect(shape(gone.stderr, missing)).toBe(shape(seen.stderr, hidden));
      }, 60_000);
    }
  }

  // Inside a project it has a role in, a viewer reading data is refused before any lookup of
  // the feature set, so it learns nothing there either.
  it.each([
    [
      'retrieve',
      (fs: string, out: string) => ['retrieve', 'shop', fs, '--out', join(out, `${fs}.csv`)],
    ],
    [
      'historical',
      (fs: string, out: string) => [
        'historical',
        '--entities',
        join(out, 'entities.csv'),
        '--entity-time',
        'at',
        '--features',
        `shop/${fs}:amount`,
        '--out',
        join(out, `h-${fs}.csv`),
      ],
    ],
  ])(
    '%s of a feature set in its own project by a viewer',
    async (_call, argv) => {
      const gone = await as('viewer', ...argv('nosuchset', outputs.dir));
      const seen = await as('viewer', ...argv('customers', outputs.dir));
      expect(seen.stderr).toContain('[PERMISSION_DENIED]');
      expect(shape(gone.stderr, 'nosuchset')).toBe(shape(seen.stderr, 'customers'));
    },
    60_000,
  );
});
