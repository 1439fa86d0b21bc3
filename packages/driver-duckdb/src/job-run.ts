import type { DuckDBConnection } from '@duckdb/node-api';
import { CancelledError, type JobProgress, type JobRunContext } from '@featurestore/core/driver';
import {
  convertDuckDbError,
  corruptPartError,
  firstLine,
  isUnexplained,
  type KnownFile,
} from './duckdb-errors.js';
import { literal } from './sql.js';

export type Row = Record<string, unknown>;

/** How often a long statement's progress is read from DuckDB. */
const PROGRESS_POLL_MS = 250;

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

  readonly #tempDirectory: string | undefined;
  #progressOn = false;

  /** `tempDirectory`: where DuckDB spills, named when the disk is full. */
  constructor(
    connection: DuckDBConnection,
    context: JobRunContext,
    label: string,
    tempDirectory?: string,
  ) {
    this.#connection = connection;
    this.#context = context;
    this.#label = label;
    this.#tempDirectory = tempDirectory;
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
      const converted = await convertDuckDbError(error, this.#files, this.#tempDirectory);
      if (isUnexplained(converted)) throw (await this.#unreadablePart(error)) ?? converted;
      throw converted;
    }
  }

  /**
   * `query`, calling `onProgress` with DuckDB's estimate of how far the statement is (0…1,
   * for a file scan the share of its bytes read) every `everyMs` while it runs.
   */
  async queryWithProgress(
    sql: string,
    onProgress: (fraction: number) => void,
    everyMs = PROGRESS_POLL_MS,
  ): Promise<Row[]> {
    if (!this.#progressOn) {
      // DuckDB tracks a statement's progress only with its progress bar on (printed nowhere).
      await this.query(
        'SET enable_progress_bar = true; SET enable_progress_bar_print = false; SET progress_bar_time = 0',
      );
      this.#progressOn = true;
    }
    const poll = setInterval(() => {
      const { percentage } = this.#connection.progress;
      if (percentage >= 0) onProgress(Math.min(1, percentage / 100));
    }, everyMs);
    try {
      return await this.query(sql);
    } finally {
      clearInterval(poll);
    }
  }

  /**
   * Runs a query and yields its result a chunk at a time, each as one array of values per
   * column (DuckDB's JS values: lists are `DuckDBListValue`s), errors converted like `query`.
   */
  async *stream(sql: string): AsyncGenerator<{ rowCount: number; columns: unknown[][] }> {
    this.throwIfCancelled();
    try {
      const result = await this.#connection.stream(sql);
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) return;
        this.throwIfCancelled();
        yield { rowCount: chunk.rowCount, columns: chunk.getColumns() };
      }
    } catch (error) {
      this.throwIfCancelled();
      const converted = await convertDuckDbError(error, this.#files, this.#tempDirectory);
      if (isUnexplained(converted)) throw (await this.#unreadablePart(error)) ?? converted;
      throw converted;
    }
  }

  /**
   * After DuckDB failed without naming a file (a damaged footer: "don't know what type"),
   * the committed part whose footer does not read, as an error naming it and its ingestion.
   * Footers only: on the error path, and cheap.
   */
  async #unreadablePart(cause: unknown): Promise<Error | undefined> {
    for (const file of this.#files) {
      if (file.sequence === undefined) continue;
      try {
        await this.#connection.runAndReadAll(
          `SELECT num_rows FROM parquet_file_metadata(${literal(file.path)})`,
        );
      } catch (error) {
        const reason = firstLine(error instanceof Error ? error.message : String(error));
        return corruptPartError(file, reason, cause);
      }
    }
    return undefined;
  }

  /** Where DuckDB spills, for messages about a full disk. */
  get tempDirectory(): string | undefined {
    return this.#tempDirectory;
  }

  progress(fraction: number, message: string): void {
    this.#context.reportProgress({ fraction, message });
  }

  /** Reports the job's `fraction` and the phase it is in, with the phase's own figures. */
  report(progress: JobProgress): void {
    this.#context.reportProgress(progress);
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
