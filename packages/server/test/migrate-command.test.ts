import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serviceEnv, uniqueName } from '@featurestore/core/testing';
import { MIGRATIONS, ONLINE_MIGRATIONS } from '@featurestore/driver-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { migrateStore } from '../src/cli/migrate-command.js';
import { parseConfig } from '../src/config.js';
import { openFeatureStore } from '../src/index.js';
import { cli, tempStore } from './helpers.js';

/**
 * `featurestore migrate` as a deployment step on the real PostgreSQL of scripts/services, and
 * servers opened with `migrations: "require"`, which never change the schema themselves.
 */
const url = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const newest = MIGRATIONS.at(-1)!.version;
const newestOnline = ONLINE_MIGRATIONS.at(-1)!.version;
let pool: pg.Pool;
let store: Awaited<ReturnType<typeof tempStore>>;
const schemas: string[] = [];

function freshSchema(): string {
  const schema = uniqueName('migrate');
  schemas.push(schema);
  return schema;
}

async function versions(schema: string, table: string): Promise<number[]> {
  const result = await pool.query(`SELECT version FROM "${schema}".${table} ORDER BY version`);
  return result.rows.map((row) => row.version as number);
}

/** `featurestore migrate` in a child process, as the Helm chart's Job runs it. */
async function migrateProcess(schema: string): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(
    process.execPath,
    ['--conditions=@featurestore/source', '--import', 'tsx', main, 'migrate'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        FEATURESTORE_STORE: join(store.dir, 'unused'),
        FEATURESTORE_METADATA_URL: url,
        FEATURESTORE_METADATA_SCHEMA: schema,
      },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`featurestore migrate exited with ${code}: ${stderr}`);
  return { code, stdout };
}

/** A config file for a store on PostgreSQL whose servers require migrated schemas. */
async function requiringConfig(schema: string, extra: object = {}): Promise<string> {
  const file = join(store.dir, `${schema}.json`);
  await writeFile(
    file,
    JSON.stringify({
      store: join(store.dir, schema),
      metadata: url,
      metadataSchema: schema,
      migrations: 'require',
      ...extra,
    }),
  );
  return file;
}

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: url });
  store = await tempStore();
});

afterAll(async () => {
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
  await store.remove();
});

describe('featurestore migrate', () => {
  it('two processes at once: both succeed, one applies every step, the other finds them done', async () => {
    const schema = freshSchema();
    const runs = await Promise.all([migrateProcess(schema), migrateProcess(schema)]);
    expect(runs.map((run) => run.code)).toEqual([0, 0]);
    expect(await versions(schema, 'schema_migrations')).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await versions(schema, 'online_migrations')).toEqual(
      ONLINE_MIGRATIONS.map((m) => m.version),
    );
    const metadataLines = runs
      .map((run) => run.stdout.split('\n').find((line) => line.startsWith('metadata'))!)
      .map((line) => line.replace(/\(.*\)/, '(…)'))
      .sort();
    expect(metadataLines).toEqual([
      `metadata (…): already at migration ${newest}`,
      `metadata (…): applied migrations ${MIGRATIONS.map((m) => m.version).join(', ')}; now at ${newest}`,
    ]);
    // The URL is printed without its password.
    expect(runs[0]!.stdout).not.toContain(new URL(url).password || '\u0000');
    // Two Node processes from the sources (tsx): slow to start on a busy machine.
  }, 90_000);

  it('again on a current schema: nothing to do, exit 0, the JSON says so', async () => {
    const schema = freshSchema();
    const config = await requiringConfig(schema);
    await migrateStore(parseConfig({ metadata: url, metadataSchema: schema }));
    const result = await cli(store.dir, '--config', config, '--json', 'migrate');
    expect(result.code).toBe(0);
    const { items } = JSON.parse(result.stdout);
    expect(items).toEqual([
      expect.objectContaining({ part: 'metadata', applied: [], version: newest }),
      expect.objectContaining({ part: 'online', applied: [], version: newestOnline }),
    ]);
  });

  it('the embedded store: migrated under its lock, then opened without migrating', async () => {
    const dir = join(store.dir, 'embedded');
    const first = await cli(dir, 'migrate');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(
      `applied migrations ${MIGRATIONS.map((m) => m.version).join(', ')}`,
    );
    const opened = await openFeatureStore({ store: dir, migrations: 'require' });
    await opened.close();
    // A new PGlite database (initdb) and two opens: slow on a busy machine.
  }, 120_000);
  it('refuses --endpoint: it migrates the database, not through a server', async () => {
    const result = await cli(store.dir, '--endpoint', '127.0.0.1:1', 'migrate');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('featurestore migrate changes the database itself');
  });
});

describe('servers with migrations "require"', () => {
  it('featurestore serve refuses an unmigrated schema, naming featurestore migrate, and changes nothing', async () => {
    const schema = freshSchema();
    const config = await requiringConfig(schema);
    const result = await cli(store.dir, '--config', config, 'serve', '--listen', '127.0.0.1:0');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`is at migration 0, this release needs ${newest}: run featurestore migrate`),
    );
    const created = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    expect(created.rowCount).toBe(0);
  });

  it('featurestore serve refuses a schema newer than it knows, whatever the policy', async () => {
    const schema = freshSchema();
    await migrateStore(parseConfig({ metadata: url, metadataSchema: schema }));
    await pool.query(
      `INSERT INTO "${schema}".schema_migrations (version, name) VALUES ($1, 'from the future')`,
      [newest + 1],
    );
    for (const migrations of ['apply', 'require']) {
      const config = await requiringConfig(schema, { migrations });
      const result = await cli(store.dir, '--config', config, 'serve', '--listen', '127.0.0.1:0');
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(`at migration ${newest + 1}, newer than this driver knows \\(${newest}\\)`),
      );
    }
  });

  it('waits for featurestore migrate when migrationWaitSeconds allows, then opens', async () => {
    const schema = freshSchema();
    const config = parseConfig({
      store: join(store.dir, `${schema}-store`),
      metadata: url,
      metadataSchema: schema,
      migrations: 'require',
      migrationWaitSeconds: 120,
    });
    const stderr = vi.spyOn(process.stderr, 'write');
    try {
      const opening = openFeatureStore(config);
      // Migrate only once the open has been refused and said it waits: it then opens.
      await vi.waitFor(
        () => {
          const said = stderr.mock.calls.some(([text]) =>
            String(text).includes('waiting up to 120 s for it'),
          );
          if (!said) throw new Error('the open has not started waiting yet');
        },
        { timeout: 20_000, interval: 50 },
      );
      await migrateStore(config);
      const opened = await opening;
      expect((await versions(schema, 'schema_migrations')).at(-1)).toBe(newest);
      await opened.close();
    } finally {
      stderr.mockRestore();
    }
  });

  it('gives up after migrationWaitSeconds with the refusal', async () => {
    const schema = freshSchema();
    const config = parseConfig({
      store: join(store.dir, `${schema}-store`),
      metadata: url,
      metadataSchema: schema,
      migrations: 'require',
      migrationWaitSeconds: 1,
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await expect(openFeatureStore(config)).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/run featurestore migrate/),
      });
    } finally {
      stderr.mockRestore();
    }
  });
});
