import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Principal } from '@featurestore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, loadConfig, openFeatureStore } from '../src/index.js';
import { cli, cliJson, tempStore } from './helpers.js';

const schema = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int64' },
    { name: 'ssn', type: 'string', sensitive: true },
  ],
};
const ROWS = 'id,ts,age,ssn\nc1,2026-01-01T00:00:00Z,30,123-45-6789\n';
/** The schema of the feature sets callers copy into: no sensitive column. */
const mirror = { ...schema, features: schema.features.filter((feature) => feature.name !== 'ssn') };
/** Stands for /etc/passwd or /etc/shadow: a file the process can read and no caller may. */
const SECRET = 'root:x:0:0:root:/root:/bin/bash\n';

type Attacker = 'viewer' | 'consumer' | 'no role';
const ATTACKERS: Attacker[] = ['viewer', 'consumer', 'no role'];

/** Runs a path through both readers: as an ingestion source and as an entity file. */
type Use = 'ingest' | 'entities';
const USES: Use[] = ['ingest', 'entities'];

describe('who may read which files as sources and entity files', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let outside: string;
  let landing: string;
  let fs: FeatureStore;
  let victimPart: string;
  let fifo: string;
  let socket: Server;
  const callers = {} as Record<Attacker, Principal>;

  /** Reads `path` as `caller`: ingests it into the caller's own project, or joins it. */
  const read = async (caller: Principal, use: Use, path: string, own: string) => {
    const { engine } = fs;
    if (use === 'ingest') {
      return (await engine.offline.ingest(caller, own, 'mirror', path, { format: 'csv' })).result;
    }
    return (
      await engine.offline.historical(caller, {
        entities: path,
        entityFormat: 'csv',
        entityTime: 'ts',
        features: `${own}/mirror:age`,
      })
    ).result;
  };

  beforeAll(async () => {
    store = await tempStore();
    outside = await mkdtemp(join(tmpdir(), 'featurestore-outside-'));
    landing = await mkdtemp(join(tmpdir(), 'featurestore-landing-'));
    fs = await openFeatureStore({
      store: store.dir,
      sources: { roots: [landing, 's3://landing-bucket/in/'] },
    });
    const { engine, principal: admin } = fs;
    await engine.projects.create(admin, { name: 'victim' });
    await engine.featureSets.register(admin, 'victim', 'cust', schema);
    await writeFile(join(outside, 'victim.csv'), ROWS);
    await (await engine.offline.ingest(admin, 'victim', 'cust', join(outside, 'victim.csv')))
      .result;
    await engine.featureSets.register(admin, 'victim', 'mirror', mirror);
    const [ingestion] = await engine.offline.ingestions(admin, 'victim', 'cust');
    victimPart = fileURLToPath(fs.storage.uri(ingestion!.files[0]!));

    await writeFile(join(outside, 'passwd'), SECRET);
    await writeFile(join(outside, 'secret.csv'), SECRET);
    await symlink(join(outside, 'passwd'), join(outside, 'link-to-passwd.csv'));
    await symlink(victimPart, join(outside, 'link-to-part.parquet'));
    fifo = join(outside, 'fifo.csv');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    socket = createServer();
    await new Promise<void>((resolve) => socket.listen(join(outside, 'socket.csv'), resolve));
    await mkdir(join(outside, 'globs'));
    for (const name of ['a.csv', 'b.csv', '*.csv', '?.csv', '[ab].csv']) {
      await writeFile(join(outside, 'globs', name), `id,ts,age\n${name},2026-01-01T00:00:00Z,1\n`);
    }

    await writeFile(join(landing, 'ok.csv'), 'id,ts,age\nc9,2026-01-01T00:00:00Z,40\n');
    await symlink(join(outside, 'secret.csv'), join(landing, 'escape.csv'));
    await symlink(victimPart, join(landing, 'store-part.csv'));
    await symlink(outside, join(landing, 'outside-folder'));
    await mkdir(join(landing, 'batch'));
    await writeFile(join(landing, 'batch', 'a.csv'), 'id,ts,age\nc8,2026-01-01T00:00:00Z,41\n');
    await symlink(join(outside, 'secret.csv'), join(landing, 'batch', 'b.csv'));
    await mkdir(join(outside, 'linked'));
    await writeFile(join(outside, 'linked', 'x.csv'), 'id,ts,age\nc7,2026-01-01T00:00:00Z,42\n');
    await symlink(join(landing, 'ok.csv'), join(outside, 'linked', 'y.csv'));

    for (const attacker of ATTACKERS) {
      const name = attacker.replace(' ', '_');
      await engine.access.createUser(admin, { name });
      if (attacker !== 'no role') await engine.access.grant(admin, 'victim', name, attacker);
      // Each owns a project of their own to copy into and to join against.
      await engine.projects.create(admin, { name: `own_${name}` });
      await engine.access.grant(admin, `own_${name}`, name, 'owner');
      await engine.featureSets.register(admin, `own_${name}`, 'mirror', mirror);
      const { secret } = await engine.access.createToken(admin, { name: 'test', user: name });
      callers[attacker] = await fs.authenticate(secret);
      expect(callers[attacker].via).toBe('token');
    }
  }, 60_000);
  afterAll(async () => {
    socket?.close();
    await fs?.close();
    await store?.remove();
    await rm(outside, { recursive: true, force: true });
    await rm(landing, { recursive: true, force: true });
  });

  const own = (attacker: Attacker) => `own_${attacker.replace(' ', '_')}`;

  /** [what, path] pairs a token caller may not read, whatever their role. */
  const refusedForTokens: [string, () => string][] = [
    ["another project's Parquet part", () => victimPart],
    ["another project's ingestion folder", () => dirname(victimPart)],
    ['the store data as a file:// URL', () => `file://${victimPart}`],
    ['a file outside the landing roots', () => join(outside, 'secret.csv')],
    ['a missing file outside the landing roots', () => join(outside, 'nope.csv')],
    ['a symlink outside the roots to a secret file', () => join(outside, 'link-to-passwd.csv')],
    ['a symlink in a landing root leading out', () => join(landing, 'escape.csv')],
    ['a symlink in a landing root to a store part', () => join(landing, 'store-part.csv')],
    [
      'a file under a symlinked folder leading out',
      () => join(landing, 'outside-folder', 'secret.csv'),
    ],
    ['a landing folder holding a symlink out', () => join(landing, 'batch')],
    [
      'a path climbing out of a landing root',
      () => `${landing}/../${outside.split('/').at(-1)}/secret.csv`,
    ],
    ['an s3:// URL outside the landing roots', () => 's3://other-bucket/in/x.csv'],
    ['an s3:// URL beside a landing root prefix', () => 's3://landing-bucket/inbox/x.csv'],
  ];

  for (const attacker of ATTACKERS) {
    for (const use of USES) {
      for (const [what, path] of refusedForTokens) {
        it(`a ${attacker} with a token may not ${use === 'ingest' ? 'ingest' : 'join'} ${what}`, async () => {
          const outcome = read(callers[attacker], use, path(), own(attacker));
          const error = await outcome.then(
            () => undefined,
            (e: Error & { code?: string }) => e,
          );
          expect(error).toMatchObject({ code: 'PERMISSION_DENIED' });
          expect(error!.message).toMatch(/landing roots|store's own files/);
          expect(error!.message).not.toContain('root:x');
          expect(error!.message).not.toContain('123-45-6789');
        });
      }

      it(`a ${attacker} with a token ${use === 'ingest' ? 'ingests' : 'joins'} a file under a landing root`, async () => {
        const result = await read(callers[attacker], use, join(landing, 'ok.csv'), own(attacker));
        expect(result).toMatchObject({ rowCount: 1 });
      });
    }
  }

  it('refuses an s3:// URL with dot segments before looking it up', async () => {
    await expect(
      read(callers.viewer, 'ingest', 's3://landing-bucket/in/../secret/x.csv', own('viewer')),
    ).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/"\.\."/) });
  });

  it('says where the landing roots are and how to add one', async () => {
    await expect(
      read(callers.viewer, 'ingest', join(outside, 'secret.csv'), own('viewer')),
    ).rejects.toThrow(
      new RegExp(
        `user "viewer" may not read source ${join(outside, 'secret.csv')}: .*the landing roots are ${landing}, s3://landing-bucket/in/: .*sources\\.roots`,
      ),
    );
  });

  /** The store's own files, which not even the local owner reads as a source. */
  const storeFiles: [string, () => string][] = [
    ["a project's Parquet part", () => victimPart],
    ["a project's ingestion folder", () => dirname(victimPart)],
    ['a part as a file:// URL', () => `file://${victimPart}`],
    ['a symlink outside the store to a part', () => join(outside, 'link-to-part.parquet')],
    ['the metadata folder', () => join(store.dir, 'metadata')],
    ['a metadata file', () => join(store.dir, 'metadata', 'PG_VERSION')],
    ['the temporary folder', () => join(store.dir, 'tmp')],
    ['the queue folder', () => join(store.dir, 'queue')],
  ];
  for (const use of USES) {
    for (const [what, path] of storeFiles) {
      it(`the local owner may not ${use === 'ingest' ? 'ingest' : 'join'} ${what}`, async () => {
        await mkdir(join(store.dir, 'queue'), { recursive: true });
        await expect(read(fs.principal, use, path(), 'victim')).rejects.toMatchObject({
          code: 'PERMISSION_DENIED',
          message: expect.stringMatching(/inside the store's own files/),
        });
      });
    }
  }

  it('the local owner reads any other local file, through symlinks too', async () => {
    const result = await read(fs.principal, 'ingest', join(outside, 'linked'), 'victim');
    expect(result).toMatchObject({ rowCount: 2 });
  });

  const notRegular: [string, () => string][] = [
    ['a FIFO', () => fifo],
    ['a socket', () => join(outside, 'socket.csv')],
    ['/dev/null', () => '/dev/null'],
  ];
  for (const use of USES) {
    for (const [what, path] of notRegular) {
      it(`${what} as ${use === 'ingest' ? 'a source' : 'an entity file'} is a ValidationError`, async () => {
        await expect(read(fs.principal, use, path(), 'victim')).rejects.toMatchObject({
          code: 'VALIDATION',
          message: expect.stringMatching(/is not a regular file or a folder .*pass a regular file/),
        });
      });
    }
  }

  for (const name of ['*.csv', '?.csv', '[ab].csv']) {
    it(`a source named ${name} ingests only itself`, async () => {
      const result = await read(fs.principal, 'ingest', join(outside, 'globs', name), 'victim');
      expect(result).toMatchObject({ rowCount: 1 });
    });
  }
});

describe('landing roots through the CLI', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let landing: string;
  let secret: string;
  const file = (name: string) => join(landing, name);

  beforeAll(async () => {
    store = await tempStore();
    landing = await mkdtemp(join(tmpdir(), 'featurestore-landing-'));
    await writeFile(file('events.schema.json'), JSON.stringify(mirror));
    await writeFile(file('day1.csv'), 'id,ts,age\nc1,2026-01-01T00:00:00Z,30\n');
    await mkdir(file('globs'));
    for (const name of ['a.csv', 'b.csv', '*.csv']) {
      await writeFile(file(`globs/${name}`), `id,ts,age\n${name},2026-01-01T00:00:00Z,1\n`);
    }
    await writeFile(file('roots.json'), JSON.stringify({ sources: { roots: [landing] } }));
    await cliJson(store.dir, 'project', 'create', 'shop');
    await cliJson(
      store.dir,
      'featureset',
      'register',
      'shop',
      'events',
      '--schema',
      file('events.schema.json'),
    );
    await cliJson(store.dir, 'user', 'create', 'alice');
    await cliJson(store.dir, 'permission', 'grant', 'shop', 'alice', 'editor');
    ({ secret } = await cliJson<{ secret: string }>(
      store.dir,
      'token',
      'create',
      '--name',
      'ci',
      '--user',
      'alice',
    ));
  }, 60_000);
  afterAll(async () => {
    await store?.remove();
    await rm(landing, { recursive: true, force: true });
  });

  it('a file literally named *.csv ingests only itself', async () => {
    const result = await cliJson<{ rowCount: number }>(
      store.dir,
      'ingest',
      'shop',
      'events',
      file('globs/*.csv'),
    );
    expect(result.rowCount).toBe(1);
  });

  it('a token user reads no file by path until sources.roots names its folder', async () => {
    const refused = await cli(
      store.dir,
      '--token',
      secret,
      'ingest',
      'shop',
      'events',
      file('day1.csv'),
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /user "alice" may not read source \S+day1\.csv: .*no landing roots are configured.*sources\.roots.*FEATURESTORE_SOURCE_ROOTS.*\[PERMISSION_DENIED\]/,
    );
    const allowed = await cli(
      store.dir,
      '--config',
      file('roots.json'),
      '--token',
      secret,
      '--json',
      'ingest',
      'shop',
      'events',
      file('day1.csv'),
    );
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ rowCount: 1 });
  });

  it('FEATURESTORE_SOURCE_ROOTS lists the roots comma-separated', async () => {
    const config = await loadConfig({
      env: { FEATURESTORE_SOURCE_ROOTS: `${landing}, s3://landing/in/` },
    });
    expect(config.sources.roots).toEqual([landing, 's3://landing/in/']);
    await expect(
      loadConfig({ env: { FEATURESTORE_SOURCE_ROOTS: 'relative/folder' } }),
    ).rejects.toThrow(
      /sources\.roots\.0: must be an absolute folder or a file:\/\/, s3:\/\/ or abfss:\/\/ URL/,
    );
  });
});
