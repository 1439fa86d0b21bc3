import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBInstance } from '@duckdb/node-api';
import {
  CancelledError,
  type ColumnBatch,
  type ComputeEngine,
  type ComputeEngineCapabilities,
  type JobResultOf,
  type JobRunContext,
  type JobSpec,
  NotSupportedError,
  type RetrieveStreamSpec,
  UnavailableError,
} from '@featurestore/core/driver';
import { noSpaceError } from './duckdb-errors.js';
import { runInferSchema } from './infer-schema-job.js';
import { runIngest } from './ingest-job.js';
import { JobRun } from './job-run.js';
import { runHistorical } from './point-in-time.js';
import { runRetrieve, streamRetrieve } from './retrieve-job.js';

export interface DuckDbComputeEngineOptions {
  /** Worker threads DuckDB may use (default: one per core). */
  threads?: number;
  /** DuckDB's memory limit, e.g. `'2GB'` (default: 80% of RAM); larger work spills to disk. */
  memoryLimit?: string;
  /**
   * Where DuckDB spills when a join or sort exceeds the memory limit (default: a fresh
   * folder under the OS temp folder, removed on `close()`).
   */
  tempDirectory?: string;
}

async function loadDuckDb(): Promise<typeof import('@duckdb/node-api')> {
  try {
    return await import('@duckdb/node-api');
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new NotSupportedError(
        'the duckdb compute engine needs the package "@duckdb/node-api", which is not installed: run `npm install @duckdb/node-api`',
        { cause: error, details: { package: '@duckdb/node-api' } },
      );
    }
    throw error;
  }
}

/** Where a job writes, for messages about a full disk. */
function outputOf(spec: JobSpec): string | undefined {
  if (spec.type === 'ingest') return spec.outputPrefix;
  return 'output' in spec ? spec.output.uri : undefined;
}

/**
 * The local compute engine: ingestion, retrieval and point-in-time joins on one machine,
 * in one in-process DuckDB database (in memory, spilling to disk), one connection per job.
 * Reads and writes `file://` URIs.
 *
 * @example
 * const engine = new DuckDbComputeEngine({ threads: 4, memoryLimit: '4GB' });
 * const result = await engine.run(
 *   { type: 'ingest', sources: ['file:///data/tx.csv'], format: 'csv', schema, outputPrefix },
 *   { signal: AbortSignal.timeout(600_000), reportProgress: (p) => console.log(p.fraction) },
 * );
 * await engine.close();
 */
export class DuckDbComputeEngine implements ComputeEngine {
  readonly driver = 'duckdb';
  readonly capabilities: ComputeEngineCapabilities = {
    jobTypes: ['ingest', 'retrieve', 'historical', 'infer-schema'],
  };
  readonly #options: DuckDbComputeEngineOptions;
  #instance: Promise<DuckDBInstance> | undefined;
  #ownTempDirectory: string | undefined;
  #closed = false;
  readonly #running = new Set<Promise<unknown>>();

  constructor(options: DuckDbComputeEngineOptions = {}) {
    this.#options = options;
  }

  /** Runs one job on its own connection; see the `ComputeEngine` port for the contract. */
  run<S extends JobSpec>(spec: S, context: JobRunContext): Promise<JobResultOf[S['type']]> {
    if (this.#closed) {
      return Promise.reject(
        new UnavailableError('the duckdb compute engine is closed: create a new one to run jobs'),
      );
    }
    const job = this.#run(spec, context);
    this.#running.add(job);
    const forget = () => this.#running.delete(job);
    job.then(forget, forget);
    return job;
  }

  /**
   * Streams a retrieve's rows on a connection of its own (see the `ComputeEngine` port): DuckDB
   * hands over one chunk at a time, so memory holds a chunk, not the result.
   */
  async *streamRetrieve(
    spec: RetrieveStreamSpec,
    context: JobRunContext,
  ): AsyncGenerator<ColumnBatch> {
    if (this.#closed) {
      throw new UnavailableError(
        'the duckdb compute engine is closed: create a new one to run jobs',
      );
    }
    // `close` waits for this like for a job, until the caller finishes or leaves the iteration.
    let finish = () => {};
    const running = new Promise<void>((resolve) => {
      finish = resolve;
    });
    this.#running.add(running);
    try {
      const connection = await (await this.#database()).connect();
      const run = new JobRun(
        connection,
        context,
        'retrieve',
        this.#options.tempDirectory ?? this.#ownTempDirectory,
      );
      const interrupt = () => connection.interrupt();
      context.signal.addEventListener('abort', interrupt, { once: true });
      try {
        // Times without a zone mean UTC, whatever the machine's zone.
        await run.query(`SET TimeZone = 'UTC'`);
        yield* streamRetrieve(run, spec);
      } catch (error) {
        if (context.signal.aborted && !(error instanceof CancelledError)) {
          throw new CancelledError('the retrieve job was cancelled', { cause: error });
        }
        throw noSpaceError(error, run.tempDirectory, undefined) ?? error;
      } finally {
        context.signal.removeEventListener('abort', interrupt);
        connection.closeSync();
      }
    } finally {
      this.#running.delete(running);
      finish();
    }
  }

  /** Waits for running jobs, then releases the database and its spill folder. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#running]);
    const instance = await this.#instance?.catch(() => undefined);
    instance?.closeSync();
    if (this.#ownTempDirectory) {
      await rm(this.#ownTempDirectory, { recursive: true, force: true });
    }
  }

  #database(): Promise<DuckDBInstance> {
    this.#instance ??= (async () => {
      const { DuckDBInstance } = await loadDuckDb();
      let tempDirectory = this.#options.tempDirectory;
      if (tempDirectory === undefined) {
        tempDirectory = await mkdtemp(join(tmpdir(), 'featurestore-duckdb-'));
        this.#ownTempDirectory = tempDirectory;
      }
      const config: Record<string, string> = {
        // Extensions cannot be downloaded everywhere: a missing one fails clearly instead.
        autoinstall_known_extensions: 'false',
        autoload_known_extensions: 'false',
        temp_directory: tempDirectory,
      };
      if (this.#options.threads !== undefined) config.threads = String(this.#options.threads);
      if (this.#options.memoryLimit !== undefined) config.memory_limit = this.#options.memoryLimit;
      return DuckDBInstance.create(':memory:', config);
    })();
    return this.#instance;
  }

  async #run<S extends JobSpec>(spec: S, context: JobRunContext): Promise<JobResultOf[S['type']]> {
    const instance = await this.#database();
    const connection = await instance.connect();
    const run = new JobRun(
      connection,
      context,
      spec.type,
      this.#options.tempDirectory ?? this.#ownTempDirectory,
    );
    const interrupt = () => connection.interrupt();
    context.signal.addEventListener('abort', interrupt, { once: true });
    try {
      run.throwIfCancelled();
      // Times without a zone mean UTC, whatever the machine's zone.
      await run.query(`SET TimeZone = 'UTC'`);
      // File scans have poor cardinality estimates, which would make DuckDB pick a nested
      // loop for the point-in-time ASOF join: orders of magnitude slower on real data.
      await run.query('SET asof_loop_join_threshold = 0');
      return (await this.#dispatch(run, spec)) as JobResultOf[S['type']];
    } catch (error) {
      await run.rollBack();
      if (context.signal.aborted && !(error instanceof CancelledError)) {
        throw new CancelledError(`the ${spec.type} job was cancelled`, { cause: error });
      }
      // A full disk met by Node (a folder, a rename) rather than DuckDB.
      throw noSpaceError(error, run.tempDirectory, outputOf(spec)) ?? error;
    } finally {
      context.signal.removeEventListener('abort', interrupt);
      connection.closeSync();
    }
  }

  #dispatch(run: JobRun, spec: JobSpec): Promise<JobResultOf[JobSpec['type']]> {
    switch (spec.type) {
      case 'ingest':
        return runIngest(run, spec);
      case 'retrieve':
        return runRetrieve(run, spec);
      case 'historical':
        return runHistorical(run, spec);
      case 'infer-schema':
        return runInferSchema(run, spec);
      default: {
        const type = (spec as { type?: unknown }).type;
        return Promise.reject(
          new NotSupportedError(
            `the duckdb compute engine cannot run ${JSON.stringify(type)} jobs: it runs ${this.capabilities.jobTypes.join(', ')}`,
            { details: { type } },
          ),
        );
      }
    }
  }
}
