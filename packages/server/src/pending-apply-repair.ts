import type { OnlineApplies, ResumedApply } from '@featurestore/core';
import type { Logger } from './worker-log.js';

/** How often the workers look for pending online applies (and how old one must be). */
const DEFAULT_INTERVAL_MS = 60_000;

/**
 * The online workers' repair of committed ingestions whose online apply a killed or failed
 * ingest left pending: all of them at start, then every interval those older than it (a
 * younger one may still be applied by the process that committed it; applying it twice
 * would be harmless, only wasted). Each outcome is a log line.
 */
export class PendingApplyRepair {
  readonly #applies: OnlineApplies;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #stop = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> = Promise.resolve();

  private constructor(applies: OnlineApplies, log: Logger, intervalMs: number) {
    this.#applies = applies;
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  /** Runs the first pass (every pending apply), then schedules the next ones. */
  static async start(
    applies: OnlineApplies,
    log: Logger,
    options: { intervalMs?: number } = {},
  ): Promise<PendingApplyRepair> {
    const repair = new PendingApplyRepair(applies, log, options.intervalMs ?? DEFAULT_INTERVAL_MS);
    await repair.#run(0);
    repair.#schedule();
    return repair;
  }

  /** Stops scheduling and waits for a pass in progress (it stops between ingestions). */
  async stop(): Promise<void> {
    this.#stop.abort();
    clearTimeout(this.#timer);
    await this.#pass;
  }

  #schedule(): void {
    if (this.#stop.signal.aborted) return;
    this.#timer = setTimeout(() => {
      this.#pass = this.#run(this.#intervalMs).finally(() => this.#schedule());
    }, this.#intervalMs);
  }

  async #run(olderThanMs: number): Promise<void> {
    try {
      const resumed = await this.#applies.resumePending({
        olderThanMs,
        signal: this.#stop.signal,
      });
      for (const apply of resumed) this.#report(apply);
    } catch (error) {
      this.#log.warn({ err: error }, 'could not look for pending online applies; will retry');
    }
  }

  #report({
    ingestionId,
    featureSet,
    jobId,
    onlineApply,
    onlineError,
    onlineErrorCode,
  }: ResumedApply) {
    const fields = { ingestionId, featureSet, jobId };
    if (onlineApply === 'failed') {
      this.#log.warn(
        { ...fields, code: onlineErrorCode, reason: onlineError },
        'a pending online apply failed again; it stays pending',
      );
    } else if (onlineApply === 'applied') {
      this.#log.info(fields, 'finished a pending online apply');
    } else {
      this.#log.info(fields, 'cleared a pending online apply: nothing left to apply');
    }
  }
}
