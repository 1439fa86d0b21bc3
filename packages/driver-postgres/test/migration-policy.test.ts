import { serviceEnv, uniqueName } from '@featurestore/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MIGRATIONS,
  MIGRATIONS_PENDING,
  ONLINE_MIGRATIONS,
  PostgresMetadataStore,
  PostgresOnlineStore,
} from '../src/index.js';
import { migrate } from '../src/migrations.js';
import { openPgClient } from '../src/pg-client.js';

/**
 * `migrations: "require"`: stores that only check their schema (deployments migrate with
 * `featurestore migrate`), and the `migrate` entry points that command uses.
 */
const url = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');
const newest = MIGRATIONS.at(-1)!.version;
const newestOnline = ONLINE_MIGRATIONS.at(-1)!.version;
let pool: pg.Pool;
const schemas: string[] = [];

function freshSchema(): string {
  const schema = uniqueName('policy');
  schemas.push(schema);
  return schema;
}

async function tableExists(schema: string, table: string): Promise<boolean> {
  const result = await pool.query('SELECT to_regclass($1) IS NOT NULL AS exists', [
    `"${schema}".${table}`,
  ]);
  return result.rows[0].exists as boolean;
}

beforeAll(() => {
  pool = new pg.Pool({ connectionString: url });
});

afterAll(async () => {
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

describe('migrations "require"', () => {
  it('refuses an unmigrated schema as UNAVAILABLE naming featurestore migrate, and creates nothing', async () => {
    const schema = freshSchema();
    const opening = PostgresMetadataStore.open({
      connectionString: url,
      schema,
      migrations: 'require',
    });
    await expect(opening).rejects.toThrow(
      new RegExp(
        `schema "${schema}" in .* is at migration 0, this release needs ${newest}: run featurestore migrate`,
      ),
    );
    await expect(opening).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      retryable: true,
      details: { schema, current: 0, newest, reason: MIGRATIONS_PENDING },
    });
    const created = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    expect(created.rowCount).toBe(0);
  });

  it('refuses a schema one migration behind, then opens once it is migrated', async () => {
    const schema = freshSchema();
    // What the release before this one left: every step but the newest.
    const client = await openPgClient({ connectionString: url });
    await migrate(client, schema, MIGRATIONS.slice(0, -1));
    await client.close();
    await expect(
      PostgresMetadataStore.open({ connectionString: url, schema, migrations: 'require' }),
    ).rejects.toMatchObject({ details: { current: newest - 1, newest } });
    expect(await PostgresMetadataStore.migrate({ connectionString: url, schema })).toEqual({
      applied: [newest],
      version: newest,
    });
    const opened = await PostgresMetadataStore.open({
      connectionString: url,
      schema,
      migrations: 'require',
    });
    expect((await opened.listProjects()).items).toEqual([]);
    await opened.close();
  });

  it('refuses a schema migrated by a newer release, naming both versions', async () => {
    const schema = freshSchema();
    await PostgresMetadataStore.migrate({ connectionString: url, schema });
    await pool.query(
      `INSERT INTO "${schema}".schema_migrations (version, name) VALUES ($1, 'from the future')`,
      [newest + 1],
    );
    await expect(
      PostgresMetadataStore.open({ connectionString: url, schema, migrations: 'require' }),
    ).rejects.toThrow(
      new RegExp(`at migration ${newest + 1}, newer than this driver knows \\(${newest}\\)`),
    );
  });

  it('the online store: refuses its unmigrated tables, opens once migrated', async () => {
    const schema = freshSchema();
    await expect(
      PostgresOnlineStore.open({ connectionString: url, schema, migrations: 'require' }),
    ).rejects.toThrow(
      new RegExp(
        `the online tables of schema "${schema}" .* is at migration 0, this release needs ${newestOnline}: run featurestore migrate`,
      ),
    );
    expect(await tableExists(schema, 'online_records')).toBe(false);
    expect(await PostgresOnlineStore.migrate({ connectionString: url, schema })).toEqual({
      applied: ONLINE_MIGRATIONS.map((m) => m.version),
      version: newestOnline,
    });
    const online = await PostgresOnlineStore.open({
      connectionString: url,
      schema,
      migrations: 'require',
    });
    await online.close();
  });
});

describe('PostgresMetadataStore.migrate', () => {
  it('applies every step once, then nothing: the same result each later run', async () => {
    const schema = freshSchema();
    const first = await PostgresMetadataStore.migrate({ connectionString: url, schema });
    expect(first).toEqual({ applied: MIGRATIONS.map((m) => m.version), version: newest });
    const again = await PostgresMetadataStore.migrate({ connectionString: url, schema });
    expect(again).toEqual({ applied: [], version: newest });
  });
});
