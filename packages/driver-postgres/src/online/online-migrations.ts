import { MIGRATION_LOCK_KEY, type Migration } from '../migrations.js';
import { type MigrationsTable, newerSchemaError } from '../schema-version.js';
import type { SqlClient, SqlExecutor } from '../sql-client.js';

/**
 * The online store's schema steps, append-only like the metadata store's. They are counted in
 * a table of their own (`online_migrations`), so the online tables can live in the metadata
 * store's schema, in another schema, or in another database, and each side migrates alone.
 */
export const ONLINE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'online records',
    statements: [
      // One row per (feature set version, key). The key is the JSON array of its columns: an
      // unambiguous encoding, where ["a","b"] and ["a:b"] stay apart. Times and sequences are
      // float8, the domain of the JavaScript numbers they come from, so nothing is rounded or
      // refused on the way in, and comparisons are exact. Values are the JSON text of the
      // record's features, kept byte for byte (jsonb would refuse \u0000 and reformat numbers).
      `CREATE TABLE online_records (
        feature_set_id text COLLATE "C" NOT NULL,
        major integer NOT NULL,
        key text COLLATE "C" NOT NULL,
        event_time double precision NOT NULL,
        write_sequence double precision NOT NULL,
        feature_values text NOT NULL,
        CONSTRAINT online_records_pkey PRIMARY KEY (feature_set_id, major, key)
      )`,
      // Cleanup of expired records (store-level expiry) scans by age within a version.
      'CREATE INDEX online_records_age_idx ON online_records (feature_set_id, major, event_time)',
    ],
  },
];

/**
 * Brings the online tables of `schema` up to the newest step, inside one transaction holding
 * the driver's migration lock (`pg_advisory_xact_lock`), so processes opening at once migrate
 * one after the other. Returns the versions applied; refuses a schema a newer driver migrated.
 */
export async function migrateOnline(
  client: SqlClient,
  schema: string,
  migrations: readonly Migration[] = ONLINE_MIGRATIONS,
): Promise<number[]> {
  return client.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await tx.query(`SET LOCAL search_path TO "${schema}"`);
    await tx.query(`CREATE TABLE IF NOT EXISTS online_migrations (
      version integer NOT NULL PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const rows = await tx.query(
      'SELECT coalesce(max(version), 0) AS version FROM online_migrations',
    );
    const current = Number(rows[0]?.version ?? 0);
    const newest = migrations.at(-1)?.version ?? 0;
    if (current > newest) {
      throw newerSchemaError(client, schema, onlineMigrations(schema, migrations), current);
    }
    const applied: number[] = [];
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      await apply(tx, migration);
      applied.push(migration.version);
    }
    return applied;
  });
}

/** The online store's migrations table, for `requireMigrated` and messages. */
export function onlineMigrations(
  schema: string,
  migrations: readonly Migration[] = ONLINE_MIGRATIONS,
): MigrationsTable {
  return {
    table: 'online_migrations',
    subject: `the online tables of schema "${schema}"`,
    migrations,
  };
}

async function apply(tx: SqlExecutor, migration: Migration): Promise<void> {
  for (const statement of migration.statements) await tx.query(statement);
  await tx.query('INSERT INTO online_migrations (version, name) VALUES ($1, $2)', [
    migration.version,
    migration.name,
  ]);
}
