/*
 * The CLI's commands embedded and remote (`--endpoint`): one suite, run once against a store
 * opened by each command and once against a server on loopback, with the same expectations.
 * The human output of both runs is compared line by line at the end (ids and times masked).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdminToken } from '../src/first-admin-token.js';
import { FeatureStoreServer } from '../src/grpc/featurestore-server.js';
import { type FeatureStore, openFeatureStore, runCli } from '../src/index.js';
import { createLogger } from '../src/worker-log.js';
import { type CliResult, tempStore } from './helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

type Mode = 'embedded' | 'remote';

/** Where a mode's commands go, and who they act as. */
interface Target {
  /** The global options that point a command at the store, acting as `tokenFile`'s owner. */
  args(tokenFile?: string): string[];
  /** The folder for token files. */
  dir: string;
  close(): Promise<void>;
}

async function openTarget(mode: Mode): Promise<Target> {
  const folder = await tempStore();
  // Data and output files live outside the store folder: outputs may not be written into it.
  const files = await tempStore();
  if (mode === 'embedded') {
    return {
      dir: files.dir,
      args: (tokenFile) => [
        '--store',
        folder.dir,
        ...(tokenFile === undefined ? [] : ['--token-file', tokenFile]),
      ],
      close: async () => {
        await folder.remove();
        await files.remove();
      },
    };
  }
  const store: FeatureStore = await openFeatureStore({ store: folder.dir });
  const admin = (await createFirstAdminToken(store.engine, undefined))!.secret;
  const adminFile = join(files.dir, 'admin.token');
  await writeFile(adminFile, `${admin}\n`);
  const server = await FeatureStoreServer.start(store, {
    listen: '127.0.0.1:0',
    logger: createLogger('silent'),
  });
  return {
    dir: files.dir,
    args: (tokenFile) => ['--endpoint', server.address, '--token-file', tokenFile ?? adminFile],
    close: async () => {
      await server.shutdown();
      await store.close();
      await folder.remove();
      await files.remove();
    },
  };
}

async function run(argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

/**
 * Human output with what differs between two stores masked: ids, times, token secrets, the
 * temporary folder, and where ingested rows came from (a server records an upload by its file
 * name, `upload:day1.csv`, an embedded store by the path it read).
 */
function masked(text: string, dir: string): string {
  return text
    .replaceAll(`${dir}/`, '<dir>/')
    .replace(/(?:upload:|<dir>\/)(\S+\.csv)(?= *$)/gm, '<source $1>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
    .replace(/fst_[A-Za-z0-9_-]+/g, '<secret>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
    .replace(/ +$/gm, '');
}

const transcripts: Record<Mode, string[]> = { embedded: [], remote: [] };

// Embedded, every command opens the store (PGlite): seconds each on a busy machine.
describe.each<Mode>(['embedded', 'remote'])(
  'featurestore CLI, %s',
  { timeout: 240_000 },
  (mode) => {
    let target: Target;
    /** Runs a command as the admin (or `tokenFile`'s owner), recording its human output. */
    const cli = async (argv: string[], tokenFile?: string) => {
      const result = await run([...target.args(tokenFile), ...argv]);
      if (!argv.includes('--json')) {
        transcripts[mode].push(
          masked(`$ ${argv.join(' ')}\n${result.stdout}${result.stderr}`, target.dir),
        );
      }
      return result;
    };
    const json = async <T = Record<string, unknown>>(argv: string[], tokenFile?: string) => {
      const result = await cli(['--json', ...argv], tokenFile);
      if (result.code !== 0) throw new Error(`${argv.join(' ')} failed: ${result.stderr}`);
      return JSON.parse(result.stdout) as T;
    };

    beforeAll(async () => {
      target = await openTarget(mode);
    });
    afterAll(async () => target?.close());

    it('project create, get, list, update, delete', async () => {
      const created = await cli(['project', 'create', 'fraud', '--description', 'card fraud']);
      expect(created.code).toBe(0);
      expect(created.stdout).toMatch(/^name +fraud$/m);
      expect(created.stdout).toMatch(/^description +card fraud$/m);
      await cli(['project', 'create', 'scratch', '--tag', 'team=ops']);

      expect((await cli(['project', 'get', 'fraud'])).stdout).toMatch(/^revision +1$/m);
      const listed = await json<{ items: { name: string }[] }>(['project', 'list']);
      expect(listed.items.map((project) => project.name)).toEqual(['fraud', 'scratch']);
      const paged = await cli(['project', 'list', '--page-size', '1']);
      expect(paged.stdout).toMatch(/^next page: --page-token \S+$/m);
      expect((await cli(['project', 'list', '--tag', 'team=ops'])).stdout).toMatch(/^scratch/m);

      const updated = await json(['project', 'update', 'fraud', '--tag', 'tier=gold']);
      expect(updated).toMatchObject({ tags: { tier: 'gold' }, revision: 2 });
      const stale = await cli(['project', 'update', 'fraud', '--revision', '1', '--tag', 'a=b']);
      expect(stale.code).toBe(1);
      expect(stale.stderr).toMatch(/\[CONFLICT\]$/m);

      expect((await cli(['project', 'delete', 'scratch'])).stdout).toBe(
        'deleted project scratch\n',
      );
    });

    it('featureset register, get, update, versions, list, delete', async () => {
      const registered = await cli([
        'featureset',
        'register',
        'fraud',
        'transactions',
        '--schema',
        fixture('customers.schema.json'),
      ]);
      expect(registered.code).toBe(0);
      expect(registered.stdout).toMatch(/^name +fraud\/transactions$/m);
      expect(registered.stdout).toMatch(/^timeToLive +P30D$/m);

      const minor = await json([
        'featureset',
        'update',
        'fraud',
        'transactions',
        '--tag',
        'tier=gold',
        '--ttl',
        'none',
      ]);
      expect(minor).toMatchObject({
        version: { major: 1, minor: 1 },
        tags: { team: 'fraud', tier: 'gold' },
      });
      expect(minor.timeToLive).toBeUndefined();
      const major = await json([
        'featureset',
        'update',
        'fraud',
        'transactions',
        '--schema',
        fixture('customers-v2.schema.json'),
      ]);
      expect(major).toMatchObject({ version: { major: 2, minor: 0 } });

      const old = await cli(['featureset', 'get', 'fraud', 'transactions', '--version', '1.0']);
      expect(old.stdout).toMatch(/^latest +2\.0$/m);
      const versions = await json<{ items: { version: string; changes: string }[] }>([
        'featureset',
        'versions',
        'fraud',
        'transactions',
      ]);
      expect(versions.items.map((version) => version.version)).toEqual(['1.0', '1.1', '2.0']);
      expect(versions.items[2]!.changes).toContain('feature country added (string)');
      await cli(['featureset', 'versions', 'fraud', 'transactions']);

      expect((await cli(['featureset', 'list', '--feature', 'country'])).stdout).toMatch(
        /^fraud +transactions +2\.0/m,
      );
      const twice = await cli([
        '--json',
        'featureset',
        'register',
        'fraud',
        'transactions',
        '--schema',
        fixture('customers.schema.json'),
      ]);
      expect(JSON.parse(twice.stderr)).toMatchObject({ code: 'ALREADY_EXISTS' });

      await cli([
        'featureset',
        'register',
        'fraud',
        'doomed',
        '--schema',
        fixture('customers.schema.json'),
      ]);
      expect((await cli(['featureset', 'delete', 'fraud', 'doomed'])).stdout).toBe(
        'deleted feature set fraud/doomed\n',
      );
    });

    it('user, token and permission commands; a token acts as its owner', async () => {
      expect((await cli(['user', 'create', 'jane', '--email', 'jane@example.test'])).code).toBe(0);
      expect((await cli(['user', 'list'])).stdout).toMatch(/^jane +false +jane@example\.test/m);

      const created = await json<{ token: { id: string }; secret: string }>([
        'token',
        'create',
        '--name',
        'ci',
        '--user',
        'jane',
        '--expires-in',
        'P1D',
      ]);
      const janeFile = join(target.dir, 'jane.token');
      await writeFile(janeFile, `${created.secret}\n`);
      const tokens = await json<{ items: { id: string }[] }>(['token', 'list', '--user', 'jane']);
      expect(tokens.items.map((token) => token.id)).toEqual([created.token.id]);

      expect((await cli(['permission', 'grant', 'fraud', 'jane', 'viewer'])).stdout).toBe(
        'granted viewer on fraud to jane\n',
      );
      const permissions = await json<{ items: { userName: string; role: string }[] }>([
        'permission',
        'list',
        'fraud',
      ]);
      expect(permissions.items.map(({ userName, role }) => `${userName}:${role}`).sort()).toEqual([
        'admin:owner',
        'jane:viewer',
      ]);

      // Jane reads, and may not write.
      expect((await cli(['project', 'get', 'fraud'], janeFile)).code).toBe(0);
      const refused = await cli(['--json', 'project', 'delete', 'fraud'], janeFile);
      expect(refused.code).toBe(1);
      expect(JSON.parse(refused.stderr)).toMatchObject({ code: 'PERMISSION_DENIED' });

      expect((await cli(['permission', 'revoke', 'fraud', 'jane'])).stdout).toBe(
        "revoked jane's role on fraud\n",
      );
      expect((await cli(['token', 'revoke', created.token.id])).stdout).toBe(
        `revoked token ci (${created.token.id})\n`,
      );
      const revoked = await cli(['--json', 'project', 'list'], janeFile);
      expect(JSON.parse(revoked.stderr)).toMatchObject({ code: 'UNAUTHENTICATED' });
    });

    it('ingest (a local file), ingestions, retrieve and historical to local files, jobs, revert, online get, materialize', async () => {
      const data = (name: string, text: string) => {
        const path = join(target.dir, name);
        return writeFile(path, `${text}\n`).then(() => path);
      };
      const day1 = await data(
        'day1.csv',
        'customer_id,ts,amount,merchants\nc1,2026-01-01T00:00:00Z,10.5,"[""m1""]"\nc2,2026-01-01T00:00:00Z,20,"[]"',
      );
      const day2 = await data(
        'day2.csv',
        'customer_id,ts,amount,merchants\nc1,2026-01-02T00:00:00Z,11.5,"[]"',
      );
      const entities = await data('entities.csv', 'customer_id,at\nc1,2026-01-01T12:00:00Z');
      await cli(['project', 'create', 'data']);
      await cli([
        'featureset',
        'register',
        'data',
        'payments',
        '--schema',
        fixture('customers.schema.json'),
      ]);

      // Rows of January: past a 30-day time to live, online reads would not serve them.
      await cli(['featureset', 'update', 'data', 'payments', '--ttl', 'none']);
      const first = await cli(['ingest', 'data', 'payments', day1, '--idempotency-key', 'day1']);
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/^ingested 2 rows into data\/payments 1\.1: ingestion \S+$/m);
      // A retry with the key ingests nothing again. (Its message differs: the server answers
      // with the first ingestion's job, where the engine starts a job that reports `reused`.)
      const again = await json<{ ingestionId: string }>([
        'ingest',
        'data',
        'payments',
        day1,
        '--idempotency-key',
        'day1',
      ]);
      expect(first.stdout).toContain(again.ingestionId);
      const second = await json<{ ingestionId: string; jobId: string }>([
        'ingest',
        'data',
        'payments',
        day2,
      ]);
      expect(
        (await cli(['ingestions', 'data', 'payments'])).stdout.trim().split('\n'),
      ).toHaveLength(3);

      const latest = join(target.dir, 'latest.csv');
      expect(
        (await cli(['retrieve', 'data', 'payments', '--latest', '--out', latest])).stdout,
      ).toBe(`wrote 2 rows to ${latest}\n`);
      expect(await readFile(latest, 'utf8')).toContain('11.5');
      const training = join(target.dir, 'training.csv');
      const historical = await cli([
        'historical',
        '--entities',
        entities,
        '--entity-time',
        'at',
        '--features',
        'data/payments:amount',
        '--out',
        training,
      ]);
      expect(historical.stdout).toBe(`wrote 1 rows to ${training}\n`);
      expect(await readFile(training, 'utf8')).toContain('10.5');

      const jobs = await json<{ items: { id: string; type: string }[] }>(['jobs', 'list']);
      expect(jobs.items.map((job) => job.type)).toEqual(
        expect.arrayContaining(['ingest', 'retrieve', 'historical']),
      );
      expect(await json(['jobs', 'get', second.jobId])).toMatchObject({ state: 'succeeded' });
      // --json: the record's last progress message is the job's own business.
      expect(await json(['jobs', 'wait', second.jobId])).toMatchObject({ state: 'succeeded' });
      expect((await cli(['jobs', 'cancel', second.jobId])).stdout).toBe(
        `job ${second.jobId} is succeeded\n`,
      );

      const pushed = await data(
        'rows.jsonl',
        '{"customer_id":"c9","ts":"2026-03-01T00:00:00Z","amount":9.5,"merchants":["m9"]}',
      );
      expect((await cli(['online', 'push', 'data', 'payments', pushed])).stdout).toBe(
        'pushed 1 rows to data/payments; they are readable online and committed offline\n',
      );
      expect(
        (await cli(['online', 'get', 'data', 'payments', '--key', 'customer_id=c9'])).stdout,
      ).toMatch(/^c9 +9\.5 +\["m9"\]$/m);
      const online = await cli(['online', 'get', 'data', 'payments', '--key', 'customer_id=c1']);
      expect(online.stdout).toMatch(/^c1 +11\.5/m);
      expect((await cli(['revert', 'data', 'payments', second.ingestionId])).stdout).toBe(
        `reverted ingestion ${second.ingestionId}\n`,
      );
      expect((await cli(['materialize', 'data', 'payments', '--rebuild'])).code).toBe(0);
      const rebuilt = await cli(['online', 'get', 'data', 'payments', '--key', 'customer_id=c1']);
      expect(rebuilt.stdout).toMatch(/^c1 +10\.5/m);

      const inferred = await cli([
        'featureset',
        'register',
        'data',
        'inferred',
        '--schema-from',
        day1,
        '--primary-key',
        'customer_id',
        '--event-time',
        'ts',
      ]);
      expect(inferred.code).toBe(0);
      expect(inferred.stdout).toMatch(/^name +data\/inferred$/m);
      expect(inferred.stdout).toContain('{ "name": "amount", "type": "float64" }');

      const unknown = await cli(['--json', 'ingest', 'data', 'nothing', day1]);
      expect(JSON.parse(unknown.stderr)).toMatchObject({ code: 'NOT_FOUND' });
      const inside = await cli([
        '--json',
        'retrieve',
        'data',
        'payments',
        '--out',
        join(target.dir, 'missing-folder', 'x.csv'),
      ]);
      expect(JSON.parse(inside.stderr)).toMatchObject({
        code: 'VALIDATION',
        details: { field: 'out' },
      });
    });

    it('errors: the same code, message and details', async () => {
      const missing = await cli(['project', 'get', 'nowhere']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^error: .*nowhere.* \[NOT_FOUND\]$/m);
      const asJson = await cli(['--json', 'featureset', 'get', 'fraud', 'nothing']);
      expect(JSON.parse(asJson.stderr)).toMatchObject({
        code: 'NOT_FOUND',
        details: { field: 'featureSet', value: 'nothing' },
      });
    });

    it.runIf(mode === 'remote')(
      'remote only: commands the server cannot do yet, store options, FEATURESTORE_ENDPOINT',
      async () => {
        const notYet = await cli(['--json', 'gc', '--dry-run']);
        expect(notYet.code).toBe(1);
        expect(JSON.parse(notYet.stderr)).toMatchObject({
          code: 'NOT_SUPPORTED',
          message: expect.stringMatching(/does not offer yet: run it without --endpoint/),
        });

        const mixed = await cli(['--json', '--metadata', 'postgres://x/y', 'project', 'list']);
        expect(JSON.parse(mixed.stderr)).toMatchObject({
          code: 'VALIDATION',
          details: { field: '--metadata' },
        });

        const [, endpoint, , tokenFile] = target.args();
        const saved = process.env.FEATURESTORE_ENDPOINT;
        process.env.FEATURESTORE_ENDPOINT = endpoint;
        try {
          const fromEnvironment = await run([
            '--token-file',
            tokenFile!,
            'project',
            'get',
            'fraud',
          ]);
          expect(fromEnvironment.stdout).toMatch(/^name +fraud$/m);
        } finally {
          if (saved === undefined) delete process.env.FEATURESTORE_ENDPOINT;
          else process.env.FEATURESTORE_ENDPOINT = saved;
        }

        const badCa = await run([
          ...target.args(),
          '--json',
          '--tls-ca',
          join(target.dir, 'missing.pem'),
          'project',
          'list',
        ]);
        expect(JSON.parse(badCa.stderr)).toMatchObject({
          code: 'VALIDATION',
          details: { field: '--tls-ca' },
        });
      },
    );
  },
);

describe('featurestore CLI, embedded and remote', () => {
  it('prints the same for every command of the suite', () => {
    expect(transcripts.remote.length).toBeGreaterThan(10);
    expect(transcripts.remote).toEqual(transcripts.embedded);
  });
});
