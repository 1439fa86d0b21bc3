import { type MigrationsTable, newerSchemaError } from './schema-version.js';
import type { SqlClient, SqlExecutor } from './sql-client.js';

/**
 * One schema change. Steps are append-only: once released, a step never changes; a new need
 * is a new step. Statements run unqualified, with `search_path` set to the store's schema,
 * one statement each (PGlite's extended protocol takes one per call).
 */
export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

/**
 * Any process opening a store takes this transaction-scoped advisory lock before looking at
 * `schema_migrations`, so two processes opening at once migrate one after the other.
 * (0x66656174 is "feat".)
 */
export const MIGRATION_LOCK_KEY = 0x66656174;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'projects, feature sets, versions, users, tokens, permissions',
    statements: [
      // Names use the "C" collation: listings sort the same on every server, and the btree
      // index on the name serves `LIKE 'prefix%'`.
      `CREATE TABLE projects (
        id uuid NOT NULL CONSTRAINT projects_pkey PRIMARY KEY,
        name text COLLATE "C" NOT NULL CONSTRAINT projects_name_key UNIQUE,
        description text NOT NULL DEFAULT '',
        owner_id text NOT NULL,
        tags jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        revision integer NOT NULL
      )`,
      'CREATE INDEX projects_owner_idx ON projects (owner_id)',
      'CREATE INDEX projects_tags_idx ON projects USING gin (tags)',
      `CREATE TABLE feature_sets (
        id uuid NOT NULL CONSTRAINT feature_sets_pkey PRIMARY KEY,
        project_id uuid NOT NULL CONSTRAINT feature_sets_project_fk
          REFERENCES projects (id) ON DELETE CASCADE,
        name text COLLATE "C" NOT NULL,
        owner_id text NOT NULL,
        latest_major integer NOT NULL,
        latest_minor integer NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        revision integer NOT NULL,
        CONSTRAINT feature_sets_project_name_key UNIQUE (project_id, name)
      )`,
      'CREATE INDEX feature_sets_name_idx ON feature_sets (name, project_id)',
      `CREATE TABLE feature_set_versions (
        feature_set_id uuid NOT NULL CONSTRAINT feature_set_versions_feature_set_fk
          REFERENCES feature_sets (id) ON DELETE CASCADE,
        major integer NOT NULL CHECK (major >= 0),
        minor integer NOT NULL CHECK (minor >= 0),
        schema jsonb NOT NULL,
        description text NOT NULL DEFAULT '',
        tags jsonb NOT NULL DEFAULT '{}',
        time_to_live text,
        created_at timestamptz NOT NULL,
        created_by text NOT NULL,
        changes jsonb NOT NULL DEFAULT '[]',
        CONSTRAINT feature_set_versions_pkey PRIMARY KEY (feature_set_id, major, minor)
      )`,
      'CREATE INDEX feature_set_versions_tags_idx ON feature_set_versions USING gin (tags)',
      `CREATE INDEX feature_set_versions_features_idx ON feature_set_versions
        USING gin ((schema -> 'features') jsonb_path_ops)`,
      `CREATE TABLE users (
        id uuid NOT NULL CONSTRAINT users_pkey PRIMARY KEY,
        name text COLLATE "C" NOT NULL CONSTRAINT users_name_key UNIQUE,
        oidc_subject text CONSTRAINT users_oidc_subject_key UNIQUE,
        email text,
        admin boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL
      )`,
      `CREATE TABLE access_tokens (
        id uuid NOT NULL CONSTRAINT access_tokens_pkey PRIMARY KEY,
        user_id uuid NOT NULL CONSTRAINT access_tokens_user_fk
          REFERENCES users (id) ON DELETE CASCADE,
        name text COLLATE "C" NOT NULL,
        secret_hash text NOT NULL CONSTRAINT access_tokens_secret_hash_key UNIQUE,
        created_at timestamptz NOT NULL,
        expires_at timestamptz,
        revoked_at timestamptz,
        last_used_at timestamptz
      )`,
      'CREATE INDEX access_tokens_user_idx ON access_tokens (user_id, name)',
      `CREATE TABLE permissions (
        project_id uuid NOT NULL CONSTRAINT permissions_project_fk
          REFERENCES projects (id) ON DELETE CASCADE,
        user_id uuid NOT NULL CONSTRAINT permissions_user_fk
          REFERENCES users (id) ON DELETE CASCADE,
        role text NOT NULL CONSTRAINT permissions_role_check
          CHECK (role IN ('viewer', 'consumer', 'sensitive_consumer', 'editor', 'owner')),
        granted_at timestamptz NOT NULL,
        granted_by text NOT NULL,
        CONSTRAINT permissions_pkey PRIMARY KEY (project_id, user_id)
      )`,
      'CREATE INDEX permissions_user_idx ON permissions (user_id)',
    ],
  },
  {
    version: 2,
    name: 'ingestions and jobs',
    statements: [
      // One sequence for the whole store, not per feature set: a point-in-time join across
      // feature sets, or "as of ingestion N", compares sequences of different feature sets.
      'CREATE SEQUENCE ingestion_sequence AS bigint START 1',
      `CREATE TABLE ingestions (
        id uuid NOT NULL CONSTRAINT ingestions_pkey PRIMARY KEY,
        feature_set_id uuid NOT NULL CONSTRAINT ingestions_feature_set_fk
          REFERENCES feature_sets (id) ON DELETE CASCADE,
        major integer NOT NULL CHECK (major >= 0),
        sequence bigint NOT NULL CONSTRAINT ingestions_sequence_key UNIQUE,
        idempotency_key text,
        source text NOT NULL,
        format text NOT NULL,
        row_count bigint NOT NULL CHECK (row_count >= 0),
        files jsonb NOT NULL DEFAULT '[]',
        statistics jsonb NOT NULL DEFAULT '{}',
        committed_at timestamptz NOT NULL,
        committed_by text NOT NULL,
        job_id uuid,
        state text NOT NULL CONSTRAINT ingestions_state_check
          CHECK (state IN ('committed', 'reverted')),
        reverted_at timestamptz,
        reverted_by text,
        CONSTRAINT ingestions_idempotency_key UNIQUE (feature_set_id, idempotency_key)
      )`,
      // Dropping the table drops its sequence with it.
      'ALTER SEQUENCE ingestion_sequence OWNED BY ingestions.sequence',
      'CREATE INDEX ingestions_lineage_idx ON ingestions (feature_set_id, major, sequence)',
      // Jobs outlive their project: they are the history of what ran, so the project id is
      // cleared rather than the job deleted.
      `CREATE TABLE jobs (
        id uuid NOT NULL CONSTRAINT jobs_pkey PRIMARY KEY,
        type text NOT NULL,
        state text NOT NULL CONSTRAINT jobs_state_check
          CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
        progress double precision NOT NULL DEFAULT 0 CONSTRAINT jobs_progress_check
          CHECK (progress >= 0 AND progress <= 1),
        message text,
        request jsonb NOT NULL DEFAULT '{}',
        result jsonb,
        error jsonb,
        cancel_requested boolean NOT NULL DEFAULT false,
        created_by text NOT NULL,
        project_id uuid CONSTRAINT jobs_project_fk
          REFERENCES projects (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz
      )`,
      // Both serve the listing order (newest first, id breaking ties) and its keyset.
      'CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC)',
      'CREATE INDEX jobs_state_idx ON jobs (state, created_at DESC, id DESC)',
      'CREATE INDEX jobs_project_idx ON jobs (project_id)',
    ],
  },
  {
    version: 3,
    name: 'consumer offsets',
    statements: [
      // Written in the transaction that commits what the messages produced (the online →
      // offline sync's ingestions): the stored offset says exactly what is done.
      `CREATE TABLE consumer_offsets (
        consumer text COLLATE "C" NOT NULL,
        partition integer NOT NULL CHECK (partition >= 0),
        "offset" bigint NOT NULL CHECK ("offset" >= 0),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT consumer_offsets_pkey PRIMARY KEY (consumer, partition)
      )`,
    ],
  },
  {
    version: 4,
    name: 'pending online applies',
    statements: [
      // Inserted in the transaction that commits the ingestion, deleted once the ingestion is
      // applied to the online store: a process killed in between leaves the record, and the
      // next process finishes the apply.
      `CREATE TABLE pending_online_applies (
        ingestion_id uuid NOT NULL CONSTRAINT pending_online_applies_pkey PRIMARY KEY
          CONSTRAINT pending_online_applies_ingestion_fk
          REFERENCES ingestions (id) ON DELETE CASCADE,
        recorded_at timestamptz NOT NULL DEFAULT now()
      )`,
    ],
  },
];

/**
 * Brings `schema` up to the newest migration, inside one transaction holding
 * `pg_advisory_xact_lock(MIGRATION_LOCK_KEY)`; returns the versions it applied (empty when
 * the schema was current). Refuses a schema migrated by a newer driver.
 */
export async function migrate(
  client: SqlClient,
  schema: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  return client.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    // SET LOCAL ends with the transaction: pooled connections keep their search_path.
    await tx.query(`SET LOCAL search_path TO "${schema}"`);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer NOT NULL PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const rows = await tx.query(
      'SELECT coalesce(max(version), 0) AS version FROM schema_migrations',
    );
    const current = Number(rows[0]?.version ?? 0);
    const newest = migrations.at(-1)?.version ?? 0;
    if (current > newest) {
      throw newerSchemaError(client, schema, metadataMigrations(migrations, schema), current);
    }
    const applied: number[] = [];
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      await applyMigration(tx, migration);
      applied.push(migration.version);
    }
    return applied;
  });
}

/** The metadata store's migrations table, for `requireMigrated` and messages. */
export function metadataMigrations(
  migrations: readonly Migration[] = MIGRATIONS,
  schema = 'featurestore',
): MigrationsTable {
  return { table: 'schema_migrations', subject: `schema "${schema}"`, migrations };
}

async function applyMigration(tx: SqlExecutor, migration: Migration): Promise<void> {
  for (const statement of migration.statements) await tx.query(statement);
  await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
    migration.version,
    migration.name,
  ]);
}
