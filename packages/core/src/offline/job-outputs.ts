import type { Readable } from 'node:stream';
import type { Authorizer } from '../auth/authorizer.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { isTerminal, type JobService } from '../jobs/job-service.js';
import type { Job } from '../model/offline-records.js';
import type { Principal } from '../ports/identity-provider.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import type { ObjectInfo, ObjectStorage } from '../ports/object-storage.js';
import { listAll } from '../storage/object-keys.js';
import { JOB_OUTPUTS_PREFIX } from './storage-layout.js';

/** How long outputs kept in storage live after their job finished, unless configured. */
export const DEFAULT_OUTPUT_RETENTION = 'P7D';

/** What removing the output of one job freed. */
export interface RemovedOutput extends Record<string, unknown> {
  jobId: string;
  files: number;
  bytes: number;
  /** Why: `copied` (to a local file), `requested`, `expired`, or `orphaned` (its job is gone). */
  reason: 'copied' | 'requested' | 'expired' | 'orphaned';
}

export interface CleanOutputsOptions {
  /** Every finished job's output, expired or not. */
  all?: boolean;
  /** Say what would be removed without removing it. */
  dryRun?: boolean;
}

/**
 * The outputs of `retrieve` and `historical` (`outputs/<jobId>/…`) are copies of feature data,
 * sensitive columns included, so none is kept for ever: the CLI removes an output once it has
 * copied it to the caller's file, and an output left in storage expires a retention after its
 * job finished. A removed output is recorded in its job's result (`outputRemovedAt`).
 */
export class JobOutputs {
  readonly #store: MetadataStore;
  readonly #authorizer: Authorizer;
  readonly #jobs: JobService;
  readonly #storage: ObjectStorage;
  readonly #retentionMs: number;
  readonly #now: () => number;

  constructor(deps: {
    store: MetadataStore;
    authorizer: Authorizer;
    jobs: JobService;
    storage: ObjectStorage;
    /** How long an output is kept after its job finished. */
    retentionMs: number;
    /** The clock (tests inject one). */
    now?: () => number;
  }) {
    this.#store = deps.store;
    this.#authorizer = deps.authorizer;
    this.#jobs = deps.jobs;
    this.#storage = deps.storage;
    this.#retentionMs = deps.retentionMs;
    this.#now = deps.now ?? Date.now;
  }

  /** The configured retention in milliseconds. */
  get retentionMs(): number {
    return this.#retentionMs;
  }

  /**
   * Removes the output of one finished job now, whatever its age: once copied to the caller's
   * file (`copied`), or on request. The caller must be allowed to read the job.
   */
  async remove(
    principal: Principal,
    jobId: string,
    options: { reason?: 'copied' | 'requested'; dryRun?: boolean } = {},
  ): Promise<RemovedOutput> {
    const job = await this.#jobs.get(principal, jobId);
    if (!isTerminal(job.state)) {
      throw new ConflictError(
        `job ${jobId} is still ${job.state}: its output can be removed once it finished (wait for it, or cancel it)`,
        { details: { field: 'job', value: jobId, state: job.state } },
      );
    }
    const objects = await this.#objectsOf(jobId);
    return this.#removeOutput(job, objects, options.reason ?? 'requested', options.dryRun);
  }

  /**
   * Removes the expired outputs (every finished one with `all`) of the jobs the caller may
   * read: its own, everyone's for admins.
   */
  async clean(principal: Principal, options: CleanOutputsOptions = {}): Promise<RemovedOutput[]> {
    const removed: RemovedOutput[] = [];
    for await (const [jobId, objects] of this.#outputsByJob()) {
      const job = await this.#store.getJob(jobId);
      if (!job) {
        if (principal.admin) removed.push(await this.#removeOrphan(jobId, objects, options.dryRun));
        continue;
      }
      if (!(await this.#authorizer.allowed(principal, 'job.read', { userId: job.createdBy }))) {
        continue;
      }
      if (!isTerminal(job.state)) continue;
      if (options.all || this.#expired(job)) {
        removed.push(
          await this.#removeOutput(
            job,
            objects,
            options.all ? 'requested' : 'expired',
            options.dryRun,
          ),
        );
      }
    }
    return removed;
  }

  /**
   * Store-wide, for recovery on open and the garbage collector: removes expired outputs and
   * those whose job no longer exists (older than `graceMs`: a job being recorded elsewhere
   * may not be visible yet). Lists `outputs/` once and reads one job per output.
   */
  async removeExpired(
    options: { dryRun?: boolean; graceMs?: number } = {},
  ): Promise<RemovedOutput[]> {
    const removed: RemovedOutput[] = [];
    const cutoff = this.#now() - (options.graceMs ?? 0);
    for await (const [jobId, objects] of this.#outputsByJob()) {
      const job = await this.#store.getJob(jobId);
      if (!job) {
        if (objects.every((object) => object.lastModified.getTime() < cutoff)) {
          removed.push(await this.#removeOrphan(jobId, objects, options.dryRun));
        }
      } else if (isTerminal(job.state) && this.#expired(job)) {
        removed.push(await this.#removeOutput(job, objects, 'expired', options.dryRun));
      }
    }
    return removed;
  }

  /**
   * The output file of a finished job, for the caller to copy; a clear `NotFoundError` when
   * the job has none or it was removed (copied, cleaned, or past the retention).
   */
  async read(principal: Principal, jobId: string): Promise<Readable> {
    const job = await this.#jobs.get(principal, jobId);
    const key = job.result?.outputKey;
    if (typeof key !== 'string') {
      throw new NotFoundError(`job ${jobId} (${job.type}, ${job.state}) has no output file`, {
        details: { field: 'job', value: jobId },
      });
    }
    if (job.result?.outputRemovedAt !== undefined) throw outputRemovedError(job);
    try {
      return await this.#storage.get(key);
    } catch (error) {
      if (error instanceof NotFoundError) throw outputRemovedError(job);
      throw error;
    }
  }

  #expired(job: Job): boolean {
    const finished = job.finishedAt?.getTime() ?? job.createdAt.getTime();
    return finished + this.#retentionMs <= this.#now();
  }

  async #removeOutput(
    job: Job,
    objects: ObjectInfo[],
    reason: RemovedOutput['reason'],
    dryRun = false,
  ): Promise<RemovedOutput> {
    const result = summary(job.id, objects, reason);
    if (dryRun) return result;
    if (objects.length > 0) await this.#deleteAll(objects);
    if (job.result !== undefined && job.result.outputRemovedAt === undefined) {
      await this.#store.updateJob(job.id, {
        result: { ...job.result, outputRemovedAt: new Date(this.#now()).toISOString() },
      });
    }
    return result;
  }

  async #removeOrphan(
    jobId: string,
    objects: ObjectInfo[],
    dryRun = false,
  ): Promise<RemovedOutput> {
    if (!dryRun) await this.#deleteAll(objects);
    return summary(jobId, objects, 'orphaned');
  }

  async #deleteAll(objects: ObjectInfo[]): Promise<void> {
    for (let i = 0; i < objects.length; i += 1000) {
      await this.#storage.delete(objects.slice(i, i + 1000).map((object) => object.key));
    }
  }

  async #objectsOf(jobId: string): Promise<ObjectInfo[]> {
    const objects: ObjectInfo[] = [];
    for await (const object of listAll(this.#storage, `${JOB_OUTPUTS_PREFIX}${jobId}/`)) {
      objects.push(object);
    }
    return objects;
  }

  /** The stored outputs grouped by job (keys are listed in order, so a job's are adjacent). */
  async *#outputsByJob(): AsyncGenerator<[string, ObjectInfo[]]> {
    let jobId: string | undefined;
    let objects: ObjectInfo[] = [];
    for await (const object of listAll(this.#storage, JOB_OUTPUTS_PREFIX)) {
      const owner = object.key.slice(JOB_OUTPUTS_PREFIX.length).split('/')[0]!;
      if (owner !== jobId) {
        if (jobId !== undefined) yield [jobId, objects];
        jobId = owner;
        objects = [];
      }
      objects.push(object);
    }
    if (jobId !== undefined) yield [jobId, objects];
  }
}

function summary(
  jobId: string,
  objects: ObjectInfo[],
  reason: RemovedOutput['reason'],
): RemovedOutput {
  return {
    jobId,
    files: objects.length,
    bytes: objects.reduce((sum, object) => sum + object.size, 0),
    reason,
  };
}

/** A clear NOT_FOUND for an output that was removed (copied, cleaned or expired). */
export function outputRemovedError(job: Job): NotFoundError {
  const at = job.result?.outputRemovedAt;
  return new NotFoundError(
    `the output of job ${job.id} was removed${typeof at === 'string' ? ` at ${at}` : ''} (copied to a file, cleaned, or past the output retention): run the job again`,
    { details: { field: 'job', value: job.id } },
  );
}
