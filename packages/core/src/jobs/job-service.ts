import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Authorizer } from '../auth/authorizer.js';
import { CancelledError, FeatureStoreError, NotFoundError, UnavailableError } from '../errors.js';
import { type Job, type JobState, TERMINAL_JOB_STATES } from '../model/offline-records.js';
import type { Page } from '../model/records.js';
import type { JobProgress, JobRunContext } from '../ports/compute-engine.js';
import type { Principal } from '../ports/identity-provider.js';
import type { JobFilter, MetadataStore } from '../ports/metadata-store.js';
import { progressMessage } from './progress-message.js';

/** Progress is persisted at most this often, so a fast job doesn't become a write storm. */
const PROGRESS_INTERVAL_MS = 250;
const POLL_INTERVAL_MS = 100;

export interface StartJobInput {
  type: string;
  request: Record<string, unknown>;
  projectId?: string;
}

/** A started job: its record and the promise of its result (for in-process callers). */
export interface RunningJob<T> {
  job: Job;
  result: Promise<T>;
}

export function isTerminal(state: JobState): boolean {
  return TERMINAL_JOB_STATES.includes(state);
}

/**
 * Runs every long operation as a job: persisted (get, list, wait from any process), with
 * progress, and cancellable. The work runs in this process; its record is the source of truth.
 */
export class JobService {
  readonly #store: MetadataStore;
  readonly #authorizer: Authorizer;
  readonly #running = new Map<string, AbortController>();
  /** The latest progress report of each job running in this process. */
  readonly #latest = new Map<string, JobProgress>();
  readonly #watchers = new Map<string, Set<(progress: JobProgress) => void>>();

  constructor(store: MetadataStore, authorizer: Authorizer) {
    this.#store = store;
    this.#authorizer = authorizer;
  }

  /**
   * Records the job and starts `work` at once. The returned `result` settles with the job:
   * it rejects with the job's error (a `CancelledError` when cancelled).
   */
  async start<T extends Record<string, unknown>>(
    principal: Principal,
    input: StartJobInput,
    work: (context: JobRunContext, job: Job) => Promise<T>,
  ): Promise<RunningJob<T>> {
    const job = await this.#store.insertJob({
      id: randomUUID(),
      type: input.type,
      state: 'pending',
      progress: 0,
      request: input.request,
      cancelRequested: false,
      createdBy: principal.userId,
      ...(input.projectId === undefined ? {} : { projectId: input.projectId }),
      createdAt: new Date(),
    });
    const controller = new AbortController();
    this.#running.set(job.id, controller);
    const result = this.#run(job, controller, work).finally(() => this.#running.delete(job.id));
    // The caller may only want the record; never leave an unhandled rejection behind.
    result.catch(() => undefined);
    return { job, result };
  }

  async get(principal: Principal, id: string): Promise<Job> {
    const job = await this.#store.getJob(id);
    if (!job) {
      throw new NotFoundError(`job "${id}" does not exist: list jobs to see the ids`, {
        details: { field: 'job', value: id },
      });
    }
    await this.#authorizer.require(principal, 'job.read', { userId: job.createdBy });
    const latest = this.#latest.get(id);
    if (!latest || isTerminal(job.state)) return job;
    const { fraction: _fraction, message: _message, ...detail } = latest;
    return { ...job, detail };
  }

  /**
   * Calls `listener` with every progress report of a job running in this process (the
   * persisted record is written at most every 250 ms), the last one `{ fraction: 1 }` when it
   * succeeds; returns the function that stops it. Reports never go back. A job running in
   * another process, or finished, reports nothing.
   */
  watch(id: string, listener: (progress: JobProgress) => void): () => void {
    // A job that ended, or runs elsewhere, reports nothing more here.
    if (!this.#running.has(id)) return () => undefined;
    const listeners = this.#watchers.get(id) ?? new Set();
    listeners.add(listener);
    this.#watchers.set(id, listeners);
    return () => listeners.delete(listener);
  }

  /** The caller's jobs (everyone's for admins), newest first. */
  async list(principal: Principal, filter: JobFilter = {}): Promise<Page<Job>> {
    return this.#store.listJobs(
      principal.admin ? filter : { ...filter, createdBy: principal.userId },
    );
  }

  /** Waits until the job finishes (or `timeoutMs` passes) and returns its record. */
  async wait(principal: Principal, id: string, options: { timeoutMs?: number } = {}): Promise<Job> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      const job = await this.get(principal, id);
      if (isTerminal(job.state)) return job;
      if (Date.now() >= deadline) {
        throw new UnavailableError(
          `job ${id} is still ${job.state} after ${options.timeoutMs} ms`,
          {
            details: { job: id, state: job.state },
          },
        );
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }

  /**
   * Requests cancellation: a job running in this process stops at once; one in another
   * process stops when its runner next looks. A finished job is returned unchanged.
   */
  async cancel(principal: Principal, id: string): Promise<Job> {
    const job = await this.get(principal, id);
    await this.#authorizer.require(principal, 'job.cancel', { userId: job.createdBy });
    if (isTerminal(job.state)) return job;
    const updated = await this.#store.updateJob(id, { cancelRequested: true });
    this.#running.get(id)?.abort(new CancelledError(`job ${id} was cancelled`));
    return updated;
  }

  /**
   * Marks jobs that were running in a process that no longer exists as failed. Only safe
   * when this process is the store's sole owner (the embedded store holds a lock).
   */
  async failInterrupted(): Promise<Job[]> {
    const failed: Job[] = [];
    for (const state of ['pending', 'running'] as const) {
      let pageToken: string | undefined;
      do {
        const page = await this.#store.listJobs({ state, pageSize: 1000, pageToken });
        for (const job of page.items) {
          if (this.#running.has(job.id)) continue;
          failed.push(
            await this.#store.updateJob(job.id, {
              state: 'failed',
              finishedAt: new Date(),
              error: {
                code: 'INTERRUPTED',
                message: 'the process running this job ended before it finished: run it again',
              },
            }),
          );
        }
        pageToken = page.nextPageToken;
      } while (pageToken);
    }
    return failed;
  }

  async #run<T extends Record<string, unknown>>(
    job: Job,
    controller: AbortController,
    work: (context: JobRunContext, job: Job) => Promise<T>,
  ): Promise<T> {
    let lastWrite = 0;
    let pending: Promise<unknown> = Promise.resolve();
    let fraction = 0;
    const notify = (progress: JobProgress) => {
      for (const listener of this.#watchers.get(job.id) ?? []) listener(progress);
    };
    const reportProgress = (reported: JobProgress) => {
      // A part that starts over (a retry, a phase counted apart) never moves the bar back.
      fraction = Math.max(fraction, Math.min(1, reported.fraction));
      const message = progressMessage(reported);
      const progress = {
        ...reported,
        fraction,
        ...(message === undefined ? {} : { message }),
      };
      this.#latest.set(job.id, progress);
      notify(progress);
      const now = Date.now();
      if (now - lastWrite < PROGRESS_INTERVAL_MS) return;
      lastWrite = now;
      pending = pending.then(async () => {
        const updated = await this.#store
          .updateJob(job.id, {
            progress: progress.fraction,
            ...(progress.message === undefined ? {} : { message: progress.message }),
          })
          .catch(() => undefined);
        // A cancel requested from another process arrives with the progress write.
        if (updated?.cancelRequested && !controller.signal.aborted) {
          controller.abort(new CancelledError(`job ${job.id} was cancelled`));
        }
      });
    };
    try {
      await this.#store.updateJob(job.id, { state: 'running', startedAt: new Date() });
      const result = await work({ signal: controller.signal, reportProgress }, job);
      if (controller.signal.aborted) throw controller.signal.reason;
      await pending;
      await this.#store.updateJob(job.id, {
        state: 'succeeded',
        progress: 1,
        result,
        finishedAt: new Date(),
      });
      notify({ fraction: 1, message: 'done' });
      return result;
    } catch (error) {
      await pending;
      const cancelled = controller.signal.aborted || error instanceof CancelledError;
      const reason =
        error instanceof FeatureStoreError
          ? error
          : new FeatureStoreError(
              'INTERNAL',
              error instanceof Error ? error.message : String(error),
              {
                cause: error,
              },
            );
      await this.#store
        .updateJob(job.id, {
          state: cancelled ? 'cancelled' : 'failed',
          finishedAt: new Date(),
          error: { code: cancelled ? 'CANCELLED' : reason.code, message: reason.message },
        })
        .catch(() => undefined);
      throw cancelled && !(error instanceof CancelledError)
        ? new CancelledError(`job ${job.id} was cancelled`, { cause: error })
        : error;
    } finally {
      this.#latest.delete(job.id);
      this.#watchers.delete(job.id);
    }
  }
}
