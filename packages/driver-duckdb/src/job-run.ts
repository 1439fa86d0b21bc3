import type { DuckDBConnection } from '@duckdb/node-api';
import { CancelledError, type JobRunContext } from '@featurestore/core';
import { convertDuckDbError, type KnownFile } from './duckdb-errors.js';

export type Row = Record<string, unknown>;

/**
 * One job on its own DuckDB connection: runs SQL with errors converted (and cancellation
 * turned into `CancelledError`), reports progress, and undoes partial outputs on failure.
 */
export class JobRun {
  readonly #connection: DuckDBConnection;
  readonly #context: JobRunContext;
  readonly #files: KnownFile[] = [];
  readonly #undo: (() => Promise<void>)[] = [];
  readonly #label: string;

  constructor(connection: DuckDBConnection, context: JobRunContext, label: string) {
    this.#connection = connection;
    this.#context = context;
    this.#label = label;
  }

  /** Files named in messages when DuckDB reports a problem with them. */
  knowFile(file: KnownFile): void {
    this.#files.push(file);
  }

  /** Runs SQL and returns its (small) result as plain JS rows. */
  async query(sql: string): Promise<Row[]> {
    this.throwIfCancelled();
    try {
      const reader = await this.#connection.runAndReadAll(sql);
      return reader.getRowObjectsJS() as Row[];
    } catch (error) {
      this.throwIfCancelled();
      throw await convertDuckDbError(error, this.#files);
    }
  }

  progress(fraction: number, message: string): void {
    this.#context.reportProgress({ fraction, message });
  }

  throwIfCancelled(): void {
    if (this.#context.signal.aborted) {
      throw new CancelledError(`the ${this.#label} job was cancelled`);
    }
  }

  /** Registers how to remove an output written so far, should the job fail later. */
  onFailure(undo: () => Promise<void>): void {
    this.#undo.push(undo);
  }

  /** Runs the registered undo steps, newest first, and forgets them. */
  async rollBack(): Promise<void> {
    for (const undo of this.#undo.splice(0).reverse()) {
      await undo().catch(() => undefined);
    }
  }
}
