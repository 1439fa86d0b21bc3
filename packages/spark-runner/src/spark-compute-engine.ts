import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CancelledError,
  type ComputeEngine,
  type ComputeEngineCapabilities,
  FeatureStoreError,
  type JobProgress,
  type JobResultOf,
  type JobRunContext,
  type JobSpec,
  NotSupportedError,
  UnavailableError,
} from '@featurestore/core/driver';
import { type JobErrorDocument, jobError } from './job-errors.js';
import {
  SparkApplication,
  type SparkApplicationOptions,
  type SparkRequest,
} from './spark-application.js';

/** How the engine submits its jobs. */
export interface SparkComputeEngineOptions extends Partial<SparkApplicationOptions> {
  /**
   * Keep one submitted application for consecutive jobs instead of one `spark-submit` per
   * job: the start of Spark (seconds) is paid once. A cancelled or failed job ends the
   * application; the next job submits a new one. Default false.
   */
  reuseApplication?: boolean;
  /** Where result documents are written (default: a folder under the OS temp folder). */
  workDirectory?: string;
}

/** Spark properties every submission gets unless the options set them. */
const DEFAULT_CONF: Readonly<Record<string, string>> = {
  'spark.ui.enabled': 'false',
  'spark.log.level': 'WARN',
  // A failed task is a failed job: bad input fails the same way on every attempt.
  'spark.task.maxFailures': '1',
  // Times without a zone mean UTC in the executors' Python workers too.
  'spark.executorEnv.TZ': 'UTC',
};

type Result = { ok: true; result: unknown } | { ok: false; error: JobErrorDocument };

/** Where a job writes before its output is in place, removed when a job is cancelled. */
function scratchOf(spec: JobSpec, id: string): Pick<SparkRequest, 'staging' | 'temporary'> {
  if (spec.type === 'ingest') {
    return { staging: `${spec.outputPrefix.replace(/\/+$/, '')}/.staging-${id}` };
  }
  if (spec.type === 'retrieve' || spec.type === 'historical') {
    return { temporary: `${spec.output.uri}.tmp-${id}` };
  }
  return {};
}

/** Removes a scratch folder the application may have left behind (file:// only). */
async function removeScratch(uri: string | undefined): Promise<void> {
  if (!uri?.startsWith('file:')) return;
  await rm(fileURLToPath(uri), { recursive: true, force: true });
}

/**
 * The distributed compute engine: the same job specs as the DuckDB engine, with the same
 * results, run by a PySpark application (python/ in this package) submitted with
 * `spark-submit` to any master (`local[N]`, `spark://host:7077`, `yarn`, `k8s://…`). Jobs run
 * one at a time per engine; cancelling a job kills its submission and removes what it staged.
 *
 * @example
 * const engine = new SparkComputeEngine({ master: 'spark://127.0.0.1:7077' });
 * const result = await engine.run(ingestSpec, { signal, reportProgress: console.log });
 * await engine.close();
 */
export class SparkComputeEngine implements ComputeEngine {
  readonly driver = 'spark';
  readonly capabilities: ComputeEngineCapabilities = {
    jobTypes: ['ingest', 'retrieve', 'historical'],
  };
  readonly #options: SparkComputeEngineOptions;
  #application: SparkApplication | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #workDirectory: Promise<string> | undefined;
  #ownWorkDirectory = false;
  #closed = false;
  readonly #closing = new Set<Promise<void>>();

  constructor(options: SparkComputeEngineOptions = {}) {
    this.#options = options;
  }

  /** The Spark master jobs are submitted to. */
  get master(): string {
    return this.#options.master ?? 'local[*]';
  }

  /** Runs one job on Spark; see the `ComputeEngine` port for the contract. */
  run<S extends JobSpec>(spec: S, context: JobRunContext): Promise<JobResultOf[S['type']]> {
    if (this.#closed) {
      return Promise.reject(
        new UnavailableError('the spark compute engine is closed: create a new one to run jobs'),
      );
    }
    if (context.signal.aborted) {
      return Promise.reject(new CancelledError(`the ${spec.type} job was cancelled`));
    }
    if (!this.capabilities.jobTypes.includes(spec.type)) {
      return Promise.reject(
        new NotSupportedError(
          `the spark compute engine cannot run ${JSON.stringify(spec.type)} jobs: it runs ${this.capabilities.jobTypes.join(', ')}`,
          { details: { type: spec.type } },
        ),
      );
    }
    const job = this.#queue.then(() => this.#run(spec, context));
    this.#queue = job.catch(() => undefined);
    return job as Promise<JobResultOf[S['type']]>;
  }

  /** Waits for queued jobs, then ends the application and removes the result documents. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    await this.#application?.close();
    this.#application = undefined;
    await Promise.allSettled([...this.#closing]);
    if (this.#ownWorkDirectory && this.#workDirectory) {
      await rm(await this.#workDirectory, { recursive: true, force: true });
    }
  }

  async #run(spec: JobSpec, context: JobRunContext): Promise<unknown> {
    const id = randomUUID();
    const scratch = scratchOf(spec, id);
    const resultPath = join(await this.#work(), `result-${id}.json`);
    const request: SparkRequest = {
      id,
      spec,
      result: pathToFileURL(resultPath).href,
      ...scratch,
    };
    let fraction = 0;
    const report = (progress: JobProgress) => {
      // Never backwards: a new application starts its own count.
      fraction = Math.min(1, Math.max(fraction, progress.fraction));
      context.reportProgress({ ...progress, fraction });
    };
    let application: SparkApplication | undefined;
    let reported = false;
    const cancel = () => {
      void application?.kill();
    };
    context.signal.addEventListener('abort', cancel, { once: true });
    try {
      // A phase of its own: the start of Spark is most of a small job's time.
      const submitting = {
        fraction: 0,
        message: `submitting to Spark (${this.master})`,
        phase: 'submit',
      };
      report(submitting);
      if (context.signal.aborted) throw new CancelledError(`the ${spec.type} job was cancelled`);
      application = await this.#applicationFor(context.signal);
      if (context.signal.aborted) {
        await application.kill();
        throw new CancelledError(`the ${spec.type} job was cancelled`);
      }
      await application.run(request, (progress) =>
        report({ ...progress, fraction: 0.05 + 0.95 * progress.fraction }),
      );
      const document = JSON.parse(await readFile(resultPath, 'utf8')) as Result;
      if (!document.ok) {
        reported = true;
        throw jobError(document.error);
      }
      return document.result;
    } catch (error) {
      // A failure the job reported leaves the application healthy; any other ends it.
      if (!reported) await application?.kill().catch(() => undefined);
      if (context.signal.aborted) {
        throw error instanceof CancelledError
          ? error
          : new CancelledError(`the ${spec.type} job was cancelled`, { cause: error });
      }
      throw error instanceof Error ? error : new FeatureStoreError('INTERNAL', String(error));
    } finally {
      context.signal.removeEventListener('abort', cancel);
      await rm(resultPath, { force: true });
      // A killed job leaves what it staged: nothing of it may stay.
      if (!application?.alive || context.signal.aborted) {
        await removeScratch(scratch.staging);
        await removeScratch(scratch.temporary);
      }
      if (application && (!this.#options.reuseApplication || !application.alive)) {
        if (this.#application === application) this.#application = undefined;
        // Spark stops in the background: the job's result is already in place.
        const closing = application.close();
        this.#closing.add(closing);
        void closing.finally(() => this.#closing.delete(closing));
      }
    }
  }

  async #applicationFor(signal: AbortSignal): Promise<SparkApplication> {
    if (this.#application?.alive) return this.#application;
    const conf = { ...DEFAULT_CONF, ...this.#options.conf };
    const application = await SparkApplication.start(
      { ...this.#options, master: this.master, conf },
      signal,
    );
    if (this.#options.reuseApplication) this.#application = application;
    return application;
  }

  #work(): Promise<string> {
    if (!this.#workDirectory) {
      if (this.#options.workDirectory) {
        this.#workDirectory = Promise.resolve(this.#options.workDirectory);
      } else {
        this.#ownWorkDirectory = true;
        this.#workDirectory = mkdtemp(join(tmpdir(), 'featurestore-spark-'));
      }
    }
    return this.#workDirectory;
  }
}
