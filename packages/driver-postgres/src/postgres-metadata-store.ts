import { AsyncLocalStorage } from 'node:async_hooks';
import type { MetadataOperations, MetadataStore } from '@featurestore/core/driver';
import { FeatureStoreError } from '@featurestore/core/driver';
import { PostgresMetadataOperations } from './metadata-operations.js';
import { MIGRATIONS, metadataMigrations, migrate } from './migrations.js';
import { openPgClient, type PgPoolLike } from './pg-client.js';
import { openPGliteClient, type PGliteLike } from './pglite-client.js';
import { type MigrationPolicy, recordedVersion, requireMigrated } from './schema-version.js';
import type { SqlClient, SqlExecutor } from './sql-client.js';
import { tablesOf, validateSchemaName } from './sql-text.js';

/** Where the metadata lives: a server (`pg`) or an embedded PGlite database. */
export type PostgresConnection =
  /** A `postgres://user:password@host:port/database` URL; the store creates and ends a pool. */
  | { connectionString: string }
  /** A `pg.Pool` the caller owns: the store never ends it. */
  | { pool: PgPoolLike }
  /** A PGlite data directory; the store creates the instance and closes it. */
  | { pgliteDir: string }
  /** A PGlite instance the caller owns: the store never closes it. */
  | { pglite: PGliteLike };

export type PostgresMetadataStoreOptions = PostgresConnection & {
  /**
   * The schema holding every table (default `featurestore`), created when missing. Separate
   * schemas keep separate stores in one database, e.g. one per test suite.
   */
  schema?: string;
  /**
   * `apply` (default) migrates the schema on open; `require` only checks it is current and
   * fails otherwise (an older schema: an `UnavailableError` saying to run `featurestore
   * migrate`), for deployments that migrate as a step of their own.
   */
  migrations?: MigrationPolicy;
};

export const DEFAULT_SCHEMA = 'featurestore';

/**
 * `MetadataStore` on PostgreSQL, over `pg` or PGlite with the very same SQL. Opening migrates
 * the schema (safely when several processes open at once); revisions give optimistic
 * concurrency; database errors arrive as `FeatureStoreError`s.
 *
 * @example
 * const store = await PostgresMetadataStore.open({ connectionString: process.env.DATABASE_URL! });
 * const embedded = await PostgresMetadataStore.open({ pgliteDir: './.featurestore/metadata' });
 * await store.transaction(async (tx) => {
 *   const project = await tx.getProject({ name: 'fraud' });
 *   // …
 * });
 * await store.close();
 */
export class PostgresMetadataStore extends PostgresMetadataOperations implements MetadataStore {
  readonly driver: string;
  /** The schema holding the tables. */
  readonly schema: string;
  readonly #client: SqlClient;
  readonly #state: StoreState;

  private constructor(client: SqlClient, schema: string, driver: string) {
    const state: StoreState = { closed: false, transaction: new AsyncLocalStorage() };
    const guarded: SqlExecutor = {
      query: (text, params) => {
        assertUsable(state, driver, schema);
        return client.query(text, params);
      },
    };
    super(guarded, tablesOf(schema), (work) => {
      assertUsable(state, driver, schema);
      return client.transaction(work);
    });
    this.#client = client;
    this.#state = state;
    this.schema = schema;
    this.driver = driver;
  }

  /**
   * Connects, migrates the schema to the newest version and returns the store. Loads only
   * the client it needs (`pg` or `@electric-sql/pglite`).
   *
   * @example
   * await PostgresMetadataStore.open({ pool, schema: 'featurestore_staging' });
   */
  static async open(options: PostgresMetadataStoreOptions): Promise<PostgresMetadataStore> {
    const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
    const pglite = 'pgliteDir' in options || 'pglite' in options;
    const client = pglite ? await openPGliteClient(options) : await openPgClient(options);
    try {
      if (options.migrations === 'require') {
        await requireMigrated(client, schema, metadataMigrations(MIGRATIONS, schema));
      } else {
        await migrate(client, schema);
      }
    } catch (error) {
      await client.close().catch(() => {});
      throw error;
    }
    return new PostgresMetadataStore(client, schema, pglite ? 'pglite' : 'postgres');
  }

  /**
   * Brings the schema up to the newest migration and disconnects: `featurestore migrate`.
   * Safe when several run at once (they take turns on an advisory lock). Returns the versions
   * it applied (none when the schema was current) and the version the schema is now at.
   */
  static async migrate(
    options: PostgresConnection & { schema?: string },
  ): Promise<{ applied: number[]; version: number }> {
    const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
    const pglite = 'pgliteDir' in options || 'pglite' in options;
    const client = pglite ? await openPGliteClient(options) : await openPgClient(options);
    try {
      const applied = await migrate(client, schema);
      return { applied, version: await recordedVersion(client, schema, 'schema_migrations') };
    } finally {
      await client.close();
    }
  }

  /**
   * Runs `work` in one transaction on one connection: all of its writes commit, or none.
   * Make every call inside on `tx`: a call on the store itself fails, since it would run
   * outside the transaction (and on PGlite, a single connection, wait for it forever).
   */
  async transaction<T>(work: (tx: MetadataOperations) => Promise<T>): Promise<T> {
    assertUsable(this.#state, this.driver, this.schema);
    const tables = tablesOf(this.schema);
    return this.#client.transaction(async (connection) => {
      const scope = { active: true };
      const tx: SqlExecutor = {
        query: (text, params) => {
          if (!scope.active) {
            return Promise.reject(
              new FeatureStoreError(
                'INTERNAL',
                'this transaction has ended: use its tx object only inside the transaction callback',
              ),
            );
          }
          return connection.query(text, params);
        },
      };
      try {
        return await this.#state.transaction.run(scope, () =>
          work(new PostgresMetadataOperations(tx, tables, (step) => step(tx))),
        );
      } finally {
        scope.active = false;
      }
    });
  }

  /** Ends the pool or PGlite instance if the store created it; later calls fail. */
  async close(): Promise<void> {
    if (this.#state.closed) return;
    this.#state.closed = true;
    await this.#client.close();
  }
}

interface StoreState {
  closed: boolean;
  /** Marks the async work a `transaction()` callback started, while the transaction runs. */
  transaction: AsyncLocalStorage<{ active: boolean }>;
}

/**
 * Refuses calls on a closed store, and calls on the store from inside its own transaction
 * callback: they would run outside the transaction (and on PGlite, with its one connection,
 * wait for it forever), so they fail with a message instead of hanging.
 */
function assertUsable(state: StoreState, driver: string, schema: string): void {
  if (state.closed) {
    throw new FeatureStoreError(
      'UNAVAILABLE',
      `the ${driver} metadata store on schema "${schema}" is closed: open a new one with PostgresMetadataStore.open()`,
    );
  }
  if (state.transaction.getStore()?.active) {
    throw new FeatureStoreError(
      'INTERNAL',
      `the ${driver} metadata store was called inside its own transaction callback: make every call in the callback on its tx argument`,
    );
  }
}
