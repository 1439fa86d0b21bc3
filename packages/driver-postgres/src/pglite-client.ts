import { loadModule, UnavailableError } from '@featurestore/core/driver';
import { convertPostgresError } from './errors.js';
import type { SqlClient, SqlExecutor, SqlRow } from './sql-client.js';

/** The part of a PGlite transaction the store uses. */
export interface PGliteTransactionLike {
  query(text: string, params?: unknown[]): Promise<{ rows: SqlRow[] }>;
}

/** The part of a `PGlite` instance (0.5) the store uses: a `PGlite` fits as it is. */
export interface PGliteLike {
  query(text: string, params?: unknown[]): Promise<{ rows: SqlRow[] }>;
  transaction<T>(work: (tx: PGliteTransactionLike) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  readonly dataDir?: string;
}

/**
 * Opens a `SqlClient` over PGlite: the injected instance (left open on close) or one created
 * on `pgliteDir` (closed on close). PGlite is one connection in this process; it serializes
 * statements and transactions itself, and takes no lock against other processes.
 */
export async function openPGliteClient(
  options: { pgliteDir: string } | { pglite: PGliteLike },
): Promise<SqlClient> {
  if ('pglite' in options) {
    const where = options.pglite.dataDir ? `in ${options.pglite.dataDir}` : '(injected)';
    return new PGliteClient(options.pglite, `PGlite ${where}`, false);
  }
  const target = `PGlite in ${options.pgliteDir}`;
  const { PGlite } = await loadModule(
    'postgres driver',
    '@electric-sql/pglite',
    () => import('@electric-sql/pglite'),
  );
  try {
    return new PGliteClient(await PGlite.create(options.pgliteDir), target, true);
  } catch (error) {
    throw new UnavailableError(
      `cannot open ${target}: ${(error as Error).message}; make sure no other process uses the directory (PGlite takes no lock) and that it holds a PGlite database`,
      { cause: error, details: { dataDir: options.pgliteDir } },
    );
  }
}

class PGliteClient implements SqlClient {
  readonly target: string;
  readonly #db: PGliteLike;
  readonly #owned: boolean;

  constructor(db: PGliteLike, target: string, owned: boolean) {
    this.#db = db;
    this.target = target;
    this.#owned = owned;
  }

  query(text: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    return run(this.#db, text, params, this.target);
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    // PGlite rolls back and rethrows when `work` throws; only its own BEGIN/COMMIT failures
    // still need converting.
    let failure: { error: unknown } | undefined;
    try {
      return await this.#db.transaction(async (tx) => {
        try {
          return await work({ query: (text, params = []) => run(tx, text, params, this.target) });
        } catch (error) {
          failure = { error };
          throw error;
        }
      });
    } catch (error) {
      if (failure && failure.error === error) throw error;
      throw convertPostgresError(error, { target: this.target });
    }
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#db.close();
  }
}

async function run(
  queryable: PGliteTransactionLike,
  text: string,
  params: readonly unknown[],
  target: string,
): Promise<SqlRow[]> {
  try {
    return (await queryable.query(text, [...params])).rows;
  } catch (error) {
    throw convertPostgresError(error, { target, sql: text });
  }
}
