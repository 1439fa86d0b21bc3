import { isTerminal } from '../jobs/job-service.js';
import type { Ingestion } from '../model/offline-records.js';
import type { FeatureSet } from '../model/records.js';
import { formatVersion } from '../model/version.js';
import type { JobRunContext } from '../ports/compute-engine.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import { type OnlineMaterializer, onlineSyncEnabled } from './materializer.js';

/**
 * Where the apply of a committed ingestion to the online store stands, in the ingest job's
 * result (`onlineApply`):
 * - `applied`: the online store serves the ingestion's rows (or newer ones);
 * - `failed`: the last attempt failed (`onlineError` says why); it is still pending;
 * - `pending`: the process applying it ended first; the next one finishes it;
 * - `skipped`: nothing to apply (online sync off, or the ingestion reverted meanwhile).
 */
export type OnlineApplyState = 'applied' | 'failed' | 'pending' | 'skipped';

/** What an apply adds to the ingest job's result. */
export interface OnlineApplyOutcome extends Record<string, unknown> {
  onlineApply: OnlineApplyState;
  /** What the materializer computed and wrote (`applied` only). */
  online?: Awaited<ReturnType<OnlineMaterializer['apply']>>;
  /** Why the apply failed, or why it is still pending. */
  onlineError?: string;
  /** The error's code (`UNAVAILABLE`, …) when it has one. */
  onlineErrorCode?: string;
}

/** One pending apply finished (or tried) by `resumePending`. */
export interface ResumedApply extends OnlineApplyOutcome {
  ingestionId: string;
  featureSet: string;
  jobId?: string;
}

/** How a finished apply of an interrupted process is described until it is retried. */
const INTERRUPTED =
  'the process applying this committed ingestion to the online store ended before it finished; the next open of the embedded store, `featurestore online workers`, or a retry with the same idempotency key finishes it';

/**
 * The apply of committed ingestions to the online store, as durable work: an ingestion that
 * needs it is committed together with a "pending" record (`commitIngestion` with
 * `onlineApplyPending`), the record is cleared once the apply succeeded, and whoever comes
 * next (the embedded store's recovery on open, the online workers, a retry with the same
 * idempotency key) finishes what a crash or a failure left. Applying twice is harmless: the
 * online store keeps the newest value per key.
 */
export class OnlineApplies {
  readonly #store: MetadataStore;
  readonly #materializer: OnlineMaterializer;

  constructor(deps: { store: MetadataStore; materializer: OnlineMaterializer }) {
    this.#store = deps.store;
    this.#materializer = deps.materializer;
  }

  /** Whether commits to `featureSet` need an online apply (and so a pending record). */
  pending(featureSet: FeatureSet): boolean {
    return onlineSyncEnabled(featureSet);
  }

  /** Whether the online apply of a committed ingestion is still pending. */
  async isPending(ingestion: Ingestion): Promise<boolean> {
    const pending = await this.#store.listPendingOnlineApplies({
      featureSetId: ingestion.featureSetId,
    });
    return pending.some((each) => each.id === ingestion.id);
  }

  /**
   * Applies a committed ingestion to the online store and clears its pending record. Never
   * throws: a failure is in the outcome, and the record stays for the next attempt.
   */
  async run(
    featureSet: FeatureSet,
    ingestion: Ingestion,
    context: JobRunContext,
  ): Promise<OnlineApplyOutcome> {
    try {
      const current = await this.#store.getIngestion(ingestion.id);
      const version = current && (await this.#versionOf(featureSet, current));
      if (!current || current.state === 'reverted' || !version || !onlineSyncEnabled(version)) {
        await this.#store.clearPendingOnlineApply(ingestion.id);
        return { onlineApply: 'skipped' };
      }
      const online = await this.#materializer.apply(version, [current], context);
      await this.#store.clearPendingOnlineApply(ingestion.id);
      return { onlineApply: 'applied', online };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return {
        onlineApply: 'failed',
        onlineError: error instanceof Error ? error.message : String(error),
        ...(typeof code === 'string' ? { onlineErrorCode: code } : {}),
      };
    }
  }

  /** `run`, then `record` of the outcome in the job that committed the ingestion. */
  async finish(
    featureSet: FeatureSet,
    ingestion: Ingestion,
    context: JobRunContext,
  ): Promise<OnlineApplyOutcome> {
    const outcome = await this.run(featureSet, ingestion, context);
    await this.record(featureSet, ingestion, outcome);
    return outcome;
  }

  /**
   * Finishes the pending applies committed more than `olderThanMs` ago (default 0: all),
   * oldest first, and records each outcome in its ingest job: a job left running by a killed
   * process becomes `succeeded` (its ingestion is committed) with `onlineApply` saying how the
   * apply went. Safe beside another process applying the same ingestion. Once one apply
   * finds the online store unavailable, the others wait for the next pass (each would wait
   * for the same timeout: an embedded store recovers on every open).
   */
  async resumePending(
    options: { olderThanMs?: number; signal?: AbortSignal } = {},
  ): Promise<ResumedApply[]> {
    const cutoff = Date.now() - (options.olderThanMs ?? 0);
    const context: JobRunContext = {
      signal: options.signal ?? new AbortController().signal,
      reportProgress: () => undefined,
    };
    const resumed: ResumedApply[] = [];
    let unavailable = false;
    for (const ingestion of await this.#store.listPendingOnlineApplies()) {
      if (ingestion.committedAt.getTime() > cutoff) continue;
      if (context.signal.aborted) break;
      const featureSet = await this.#store.getFeatureSetById(ingestion.featureSetId);
      if (!featureSet) {
        await this.#store.clearPendingOnlineApply(ingestion.id);
        continue;
      }
      // First say the truth about a job a killed process left running, then try the apply.
      await this.record(featureSet, ingestion, {
        onlineApply: 'pending',
        onlineError: INTERRUPTED,
      });
      if (unavailable) continue;
      const outcome = await this.finish(featureSet, ingestion, context);
      unavailable = outcome.onlineErrorCode === 'UNAVAILABLE';
      resumed.push({
        ingestionId: ingestion.id,
        featureSet: `${featureSet.projectName}/${featureSet.name}`,
        ...(ingestion.jobId === undefined ? {} : { jobId: ingestion.jobId }),
        ...outcome,
      });
    }
    return resumed;
  }

  /**
   * Writes `outcome` into the result of the job that committed `ingestion`. A job still
   * marked running (its process was killed) is finished as `succeeded`: the ingestion is
   * committed. A `pending` outcome never overwrites what a finished job already says.
   */
  async record(
    featureSet: FeatureSet,
    ingestion: Ingestion,
    outcome: OnlineApplyOutcome,
  ): Promise<void> {
    if (ingestion.jobId === undefined) return;
    const job = await this.#store.getJob(ingestion.jobId);
    if (!job) return;
    const finished = isTerminal(job.state);
    if (finished && outcome.onlineApply === 'pending') return;
    const { onlineError: _error, onlineErrorCode: _code, ...earlier } = job.result ?? {};
    const result = {
      ...committedIngestion(ingestion, featureSet),
      ...earlier,
      ...outcome,
    };
    await this.#store.updateJob(
      job.id,
      finished ? { result } : { state: 'succeeded', progress: 1, result, finishedAt: new Date() },
    );
  }

  /** The feature set version `ingestion` belongs to (its major's latest minor). */
  async #versionOf(featureSet: FeatureSet, ingestion: Ingestion): Promise<FeatureSet | undefined> {
    if (featureSet.version.major === ingestion.major && featureSet.id === ingestion.featureSetId) {
      return featureSet;
    }
    const latest = await this.#store.getFeatureSetById(ingestion.featureSetId);
    return (
      latest && this.#store.getFeatureSet(latest.projectId, latest.name, { major: ingestion.major })
    );
  }
}

/** The ingest job's result for a committed ingestion, as the offline engine returns it. */
function committedIngestion(ingestion: Ingestion, featureSet: FeatureSet): Record<string, unknown> {
  return {
    ingestionId: ingestion.id,
    sequence: ingestion.sequence,
    rowCount: ingestion.rowCount,
    featureSet: `${featureSet.projectName}/${featureSet.name}`,
    version: formatVersion(featureSet.version),
    reused: false,
  };
}
