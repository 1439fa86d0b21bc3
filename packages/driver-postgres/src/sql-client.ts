/** One result row as both clients return it: column name → parsed value. */
export type SqlRow = Record<string, unknown>;

/**
 * Runs one statement with `$1…$n` parameters. The same SQL text runs on `pg` and on PGlite,
 * so statements stay within what both accept: one statement per call, jsonb parameters sent
 * as text (`$1::text::jsonb`) because the two clients serialize objects differently.
 */
export interface SqlExecutor {
  query(text: string, params?: readonly unknown[]): Promise<SqlRow[]>;
}

/**
 * The little `PostgresMetadataStore` needs from a database: statements, transactions on one
 * connection, and an end. Errors leave it already converted to `FeatureStoreError`s.
 */
export interface SqlClient extends SqlExecutor {
  /** What the store talks to, for error messages: `PostgreSQL at host:port`, `PGlite in dir`. */
  readonly target: string;
  /**
   * Runs `work` between BEGIN and COMMIT on one connection; rolls back and rethrows when it
   * throws. PGlite has a single connection, so its transactions (and every statement outside
   * them) run one after the other.
   */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Ends the pool or PGlite instance when the client created it; a no-op otherwise. */
  close(): Promise<void>;
}
