import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceEnv, uniqueName } from '@featurestore/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresMetadataStore } from '../src/index.js';
import { MIGRATIONS, migrate } from '../src/migrations.js';
import { openPgClient } from '../src/pg-client.js';

const url = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');
const newest = MIGRATIONS.at(-1)!.version;
let pool: pg.Pool;
const schemas: string[] = [];

function freshSchema(): string {
  const schema = uniqueName('migrations');
  schemas.push(schema);
  return schema;
}

async function appliedRows(schema: string) {
  const result = await pool.query(
    `SELECT version, applied_at FROM "${schema}".schema_migrations ORDER BY version`,
  );
  return result.rows as { version: number; applied_at: Date }[];
}

beforeAll(() => {
  pool = new pg.Pool({ connectionString: url });
});

afterAll(async () => {
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

describe('migrations on PostgreSQL', () => {
  it('two stores opening one fresh schema at once both succeed, and it migrates once', async () => {
    const schema = freshSchema();
    const stores = await Promise.all([
      PostgresMetadataStore.open({ connectionString: url, schema }),
      PostgresMetadataStore.open({ connectionString: url, schema }),
    ]);
    try {
      const rows = await appliedRows(schema);
      expect(rows.map((row) => row.version)).toEqual(MIGRATIONS.map((m) => m.version));
      // Both stores work on the one schema.
      const [left, right] = stores;
      expect((await left!.listProjects()).items).toEqual([]);
      expect((await right!.listUsers()).items).toEqual([]);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('racing migrate() calls: one applies every step, the others none', async () => {
    const schema = freshSchema();
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => openPgClient({ connectionString: url })),
    );
    try {
      const results = await Promise.all(clients.map((client) => migrate(client, schema)));
      const sortedResults = results.map((applied) => applied.join(',')).sort();
      expect(sortedResults).toEqual(['', '', '', MIGRATIONS.map((m) => m.version).join(',')]);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it('reopening a migrated schema is a no-op', async () => {
    const schema = freshSchema();
    const first = await PostgresMetadataStore.open({ connectionString: url, schema });
    await first.close();
    const before = await appliedRows(schema);
    const client = await openPgClient({ connectionString: url });
    try {
      expect(await migrate(client, schema)).toEqual([]);
    } finally {
      await client.close();
    }
    const again = await PostgresMetadataStore.open({ connectionString: url, schema });
    await again.close();
    expect(await appliedRows(schema)).toEqual(before);
  });

  it('refuses a schema migrated by a newer driver, naming both versions', async () => {
    const schema = freshSchema();
    const store = await PostgresMetadataStore.open({ connectionString: url, schema });
    await store.close();
    await pool.query(
      `INSERT INTO "${schema}".schema_migrations (version, name) VALUES ($1, 'from the future')`,
      [newest + 1],
    );
    await expect(PostgresMetadataStore.open({ connectionString: url, schema })).rejects.toThrow(
      new RegExp(`migration ${newest + 1}, newer than this driver knows \\(${newest}\\)`),
    );
  });

  it('keeps each store in its own schema', async () => {
    const [one, two] = [freshSchema(), freshSchema()];
    const left = await PostgresMetadataStore.open({ connectionString: url, schema: one });
    const right = await PostgresMetadataStore.open({ connectionString: url, schema: two });
    try {
      const now = new Date();
      const project = {
        id: crypto.randomUUID(),
        name: 'same_name',
        description: '',
        ownerId: 'someone',
        tags: {},
        createdAt: now,
        updatedAt: now,
        revision: 1,
      };
      await left.insertProject(project);
      await right.insertProject({ ...project, id: crypto.randomUUID() });
      expect((await left.getProject({ name: 'same_name' }))?.id).toBe(project.id);
      expect((await right.getProject({ name: 'same_name' }))?.id).not.toBe(project.id);
    } finally {
      await left.close();
      await right.close();
    }
  });
});

describe('migrations on PGlite', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'featurestore-pglite-migrations-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('migrates a new directory, and reopening it keeps the data without migrating again', async () => {
    const first = await PostgresMetadataStore.open({ pgliteDir: dir });
    const now = new Date();
    await first.insertUser({ id: crypto.randomUUID(), name: 'ada', admin: true, createdAt: now });
    await first.close();
    const again = await PostgresMetadataStore.open({ pgliteDir: dir });
    try {
      expect(again.schema).toBe('featurestore');
      expect((await again.getUser({ name: 'ada' }))?.admin).toBe(true);
    } finally {
      await again.close();
    }
  });
});
