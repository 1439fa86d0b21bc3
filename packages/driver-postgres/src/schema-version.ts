import { FeatureStoreError, UnavailableError } from '@featurestore/core/driver';
import type { Migration } from './migrations.js';
import type { SqlClient, SqlExecutor } from './sql-client.js';

/**
 * What opening a store does with its schema. `apply` (the default, and what the embedded
 * store needs) brings it up to date; `require` only checks that it is: deployments migrate
 * as a step of their own (`featurestore migrate`), and servers then never change the schema
 * under servers of another version.
 */
export type MigrationPolicy = 'apply' | 'require';

/** `reason` in the details of the error a `require` open throws on an older schema. */
export const MIGRATIONS_PENDING = 'MIGRATIONS_PENDING';

/** Which migrations table of a schema, and what its tables are called in messages. */
export interface MigrationsTable {
  /** `schema_migrations` (metadata) or `online_migrations` (online store). */
  table: string;
  /** "schema \"featurestore\"" or "the online tables of schema \"featurestore\"". */
  subject: string;
  migrations: readonly Migration[];
}

/** The newest version a migrations table records (0 when the table does not exist). */
export async function recordedVersion(
  executor: SqlExecutor,
  schema: string,
  table: string,
): Promise<number> {
  const exists = await executor.query('SELECT to_regclass($1) IS NOT NULL AS exists', [
    `"${schema}".${table}`,
  ]);
  if (exists[0]?.exists !== true) return 0;
  const rows = await executor.query(
    `SELECT coalesce(max(version), 0) AS version FROM "${schema}".${table}`,
  );
  return Number(rows[0]?.version ?? 0);
}

/** The error for a schema migrated by a newer driver: this one must not touch it. */
export function newerSchemaError(
  client: SqlClient,
  schema: string,
  what: MigrationsTable,
  current: number,
): FeatureStoreError {
  const newest = what.migrations.at(-1)?.version ?? 0;
  return new FeatureStoreError(
    'INTERNAL',
    `${what.subject} in ${client.target} is at migration ${current}, newer than this driver knows (${newest}): upgrade @featurestore/driver-postgres (the server image) to the release that migrated it`,
    { details: { schema, current, newest } },
  );
}

/**
 * Checks, without changing anything, that the schema is exactly at this driver's newest
 * migration: a newer one is refused as `migrate` refuses it; an older one (or none) is an
 * `UnavailableError` (retryable: `featurestore migrate` fixes it) saying to migrate first.
 */
export async function requireMigrated(
  client: SqlClient,
  schema: string,
  what: MigrationsTable,
): Promise<void> {
  const current = await recordedVersion(client, schema, what.table);
  const newest = what.migrations.at(-1)?.version ?? 0;
  if (current > newest) throw newerSchemaError(client, schema, what, current);
  if (current < newest) {
    throw new UnavailableError(
      `${what.subject} in ${client.target} is at migration ${current}, this release needs ${newest}: run featurestore migrate (the Helm chart's migrate Job) with this release first, or open with migrations "apply"`,
      { details: { schema, current, newest, reason: MIGRATIONS_PENDING } },
    );
  }
}
