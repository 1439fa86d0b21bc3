import { CoreServiceService as Core } from '@featurestore/protocol/featurestore/v1/core';
import type { CallRunner } from './call-runner.js';
import type { CallOptions } from './client-options.js';
import { jobOf, jobStateMessage } from './data-messages.js';
import type { Job, ListJobsInput, Page } from './records.js';

const FINAL_STATES = new Set(['succeeded', 'failed', 'cancelled']);

/** Jobs (ingest, revert, retrieve, historical, materialize), as the engine's `jobs` service. */
export class JobsClient {
  readonly #calls: CallRunner;

  constructor(calls: CallRunner) {
    this.#calls = calls;
  }

  async get(id: string, options?: CallOptions): Promise<Job> {
    return jobOf(await this.#calls.unary(Core.getJob, { id }, 'idempotent', options));
  }

  /** The caller's jobs (everyone's for admins), newest first. */
  async list(input: ListJobsInput = {}, options?: CallOptions): Promise<Page<Job>> {
    const answer = await this.#calls.unary(
      Core.listJobs,
      {
        state: jobStateMessage(input.state),
        type: input.type ?? '',
        pageSize: input.pageSize ?? 0,
        pageToken: input.pageToken ?? '',
      },
      'idempotent',
      options,
    );
    return {
      items: answer.jobs.map(jobOf),
      ...(answer.nextPageToken === '' ? {} : { nextPageToken: answer.nextPageToken }),
    };
  }

  /** Asks the job to stop; it ends `cancelled` at its next check. Asking twice is harmless. */
  async cancel(id: string, options?: CallOptions): Promise<Job> {
    return jobOf(await this.#calls.unary(Core.cancelJob, { id }, 'idempotent', options));
  }

  /** The job on every change of state, progress or message, until it ends (the last one). */
  async *watch(id: string, options?: CallOptions): AsyncGenerator<Job> {
    for await (const event of this.#calls.serverStream(Core.watchJob, { id }, options)) {
      yield jobOf(event.job);
    }
  }

  /** The job once it has ended, whatever its final state (check `state` and `error`). */
  async wait(id: string, options?: CallOptions): Promise<Job> {
    let last: Job | undefined;
    for await (const job of this.watch(id, options)) {
      last = job;
      if (FINAL_STATES.has(job.state)) return job;
    }
    // The stream ended without a final state (the server shut down): ask once more.
    return last && FINAL_STATES.has(last.state) ? last : this.get(id, options);
  }
}
