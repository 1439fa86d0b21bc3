import { loadModule } from '@featurestore/core/driver';
import { convertPostgresError } from './errors.js';
import type { SqlClient, SqlExecutor, SqlRow } from './sql-client.js';

/** The part of a `pg.PoolClient` the store uses. */
export interface PgPoolClientLike {
  query(text: string, values?: unknown[]): Promise<{ rows: SqlRow[] }>;
  release(destroy?: Error | boolean): void;
}

/** The part of a `pg.Pool` the store uses: a `pg.Pool` (pg 8) fits as it is. */
export interface PgPoolLike {
  query(text: string, values?: unknown[]): Promise<{ rows: SqlRow[] }>;
  connect(): Promise<PgPoolClientLike>;
  end(): Promise<void>;
  readonly options?: { host?: string; port?: number; connectionString?: string };
}

/** Unreachable servers fail the first query after this long instead of hanging. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Opens a `SqlClient` over a `pg` pool: the injected one (left open on close) or one created
 * from `connectionString` (ended on close).
 */
export async function openPgClient(
  options: { connectionString: string } | { pool: PgPoolLike },
): Promise<SqlClient> {
  if ('pool' in options) return new PgClient(options.pool, describePool(options.pool), false);
  const { Pool } = await loadModule('postgres driver', 'pg', () => import('pg'));
  const pool = new Pool({
    connectionString: options.connectionString,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // An idle connection the server drops (restart, idle timeout) is reported as an 'error'
  // event, which would crash the process unhandled; the next query reconnects or fails.
  pool.on('error', () => {});
  return new PgClient(pool, describeUrl(options.connectionString), true);
}

class PgClient implements SqlClient {
  readonly target: string;
  readonly #pool: PgPoolLike;
  readonly #owned: boolean;

  constructor(pool: PgPoolLike, target: string, owned: boolean) {
    this.#pool = pool;
    this.target = target;
    this.#owned = owned;
  }

  async query(text: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    return run(this.#pool, text, params, this.target);
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect().catch((error: unknown) => {
      throw convertPostgresError(error, { target: this.target });
    });
    try {
      await run(client, 'BEGIN', [], this.target);
    } catch (error) {
      client.release(true);
      throw error;
    }
    let result: T;
    try {
      result = await work({ query: (text, params = []) => run(client, text, params, this.target) });
    } catch (error) {
      await client.query('ROLLBACK').then(
        () => client.release(),
        // A connection that cannot roll back is broken: drop it rather than pool it.
        () => client.release(true),
      );
      throw error;
    }
    try {
      await run(client, 'COMMIT', [], this.target);
    } catch (error) {
      client.release(true);
      throw error;
    }
    client.release();
    return result;
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#pool.end();
  }
}

async function run(
  queryable: Pick<PgPoolLike, 'query'>,
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

/** `PostgreSQL at host:port/database`, without credentials. */
function describeUrl(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    const socket = url.searchParams.get('host');
    const host = url.hostname ? `${url.hostname}:${url.port || '5432'}` : (socket ?? 'localhost');
    return `PostgreSQL at ${host}${url.pathname.length > 1 ? url.pathname : ''}`;
  } catch {
    return 'PostgreSQL (connection string unreadable)';
  }
}

function describePool(pool: PgPoolLike): string {
  const options = pool.options;
  if (options?.connectionString) return describeUrl(options.connectionString);
  if (options?.host || options?.port) {
    return `PostgreSQL at ${options.host ?? 'localhost'}:${options.port ?? 5432}`;
  }
  return 'PostgreSQL (injected pool)';
}
