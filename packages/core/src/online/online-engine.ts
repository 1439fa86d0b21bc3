import type { Authorizer } from '../auth/authorizer.js';
import type { JobService, RunningJob } from '../jobs/job-service.js';
import type { LastKnownLookups } from '../metadata/last-known-lookups.js';
import type { MetadataChanges } from '../metadata/metadata-changes.js';
import type { ComputeEngine } from '../ports/compute-engine.js';
import type { Principal } from '../ports/identity-provider.js';
import type { MessageQueue } from '../ports/message-queue.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import type { ObjectStorage } from '../ports/object-storage.js';
import type { OnlineStore } from '../ports/online-store.js';
import type { DeadLetter } from '../queue/dead-letters.js';
import { ApplyWorker } from './apply-worker.js';
import { MaterializeJobs } from './materialize-jobs.js';
import type { MaterializeResult, OnlineMaterializer } from './materializer.js';
import { type OfflineSyncOptions, OfflineSyncWorker } from './offline-sync.js';
import { OnlineFeatureSets } from './online-feature-sets.js';
import { OnlinePushes, type PushResult } from './online-pushes.js';
import {
  type OnlineFeaturesRequest,
  type OnlineFeaturesResult,
  OnlineReads,
} from './online-reads.js';

export { ONLINE_APPLY_GROUP } from './apply-worker.js';
export { nextWriteSequence, type PushResult } from './online-pushes.js';
export type { OnlineFeaturesRequest, OnlineFeaturesResult } from './online-reads.js';
export { ONLINE_INGEST_TOPIC } from './pushed-row.js';

const DEFAULT_METADATA_CACHE_MS = 1000;

/**
 * The online engine: pushes go through the queue to workers that apply them to the online
 * store (newest wins), and reads fetch features of several feature sets for many keys in one
 * round trip. It composes parts with one job each (`reads`, `pushes`, `applyWorker`,
 * `materializeJobs`, `offlineSync`), which code that needs one part can use, or build, alone.
 */
export class OnlineEngine {
  /** Online reads (`getOnlineFeatures`) and their caches. */
  readonly reads: OnlineReads;
  /** Pushes and the waits for them to be applied or synced. */
  readonly pushes: OnlinePushes;
  /** This process's apply worker, its dead letters, and the start on the first push. */
  readonly applyWorker: ApplyWorker;
  /** Materializations of offline data to the online store, as jobs. */
  readonly materializeJobs: MaterializeJobs;
  readonly #offlineSync: OfflineSyncWorker;

  constructor(deps: {
    store: MetadataStore;
    authorizer: Authorizer;
    online: OnlineStore;
    queue: MessageQueue;
    jobs: JobService;
    materializer: OnlineMaterializer;
    /** For the online → offline sync. */
    compute: ComputeEngine;
    storage: ObjectStorage;
    offlineSync?: OfflineSyncOptions;
    /**
     * How long reads and pushes reuse a feature set lookup and its authorization (default
     * 1,000 ms; 0: look up every time). Writes through `changes` take effect at once.
     */
    metadataCacheMs?: number;
    /** The clock that cache expires by, in epoch ms (default `Date.now`): tests advance theirs. */
    metadataCacheClock?: () => number;
    /** The access-changing writes of this process (see `MetadataChanges`). */
    changes?: MetadataChanges;
    /**
     * Serves reads from their last known lookups while the metadata store is unreachable
     * (default: none, reads fail with it). Pushes always look up afresh.
     */
    lastKnown?: LastKnownLookups;
  }) {
    const cache = {
      ttlMs: deps.metadataCacheMs ?? DEFAULT_METADATA_CACHE_MS,
      ...(deps.changes ? { changes: deps.changes } : {}),
      ...(deps.metadataCacheClock ? { now: deps.metadataCacheClock } : {}),
    };
    // One lookup cache for pushes, reads and materializations alike.
    const featureSets = new OnlineFeatureSets({
      store: deps.store,
      authorizer: deps.authorizer,
      cache,
    });
    this.#offlineSync = new OfflineSyncWorker(
      { store: deps.store, compute: deps.compute, storage: deps.storage, queue: deps.queue },
      deps.offlineSync,
    );
    this.applyWorker = new ApplyWorker({
      queue: deps.queue,
      online: deps.online,
      offlineSync: this.#offlineSync,
    });
    this.pushes = new OnlinePushes({
      featureSets,
      queue: deps.queue,
      online: deps.online,
      offlineSync: this.#offlineSync,
      beforePush: () => this.applyWorker.beforePush(),
    });
    this.reads = new OnlineReads({
      store: deps.store,
      authorizer: deps.authorizer,
      online: deps.online,
      featureSets,
      cache,
      ...(deps.lastKnown ? { lastKnown: deps.lastKnown } : {}),
    });
    this.materializeJobs = new MaterializeJobs({
      store: deps.store,
      featureSets,
      jobs: deps.jobs,
      materializer: deps.materializer,
    });
  }

  /** The online → offline sync of pushed rows (started by `startWorker({ offlineSync })`). */
  get offlineSync(): OfflineSyncWorker {
    return this.#offlineSync;
  }

  /**
   * Applies the newest row per key of every visible ingestion of a feature set version to
   * the online store (newest wins: newer pushed values stay), as a job. With `rebuild`, resets
   * the version's online records to the offline data instead: every key's latest committed row
   * replaces what is stored, newer or not, and keys without a committed row are removed (pushed
   * rows not synced offline yet among them). The result counts keys by what happened to them.
   */
  materialize(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    options: { version?: string; rebuild?: boolean } = {},
  ): Promise<RunningJob<MaterializeResult>> {
    return this.materializeJobs.materialize(principal, projectName, featureSetName, options);
  }

  /**
   * Validates rows against the latest version's schema (all of them first: a bad row fails
   * the whole request, naming the row and field) and puts them on the queue. With
   * `timeoutMs`, the feature set lookup is tried again while the metadata store is
   * unavailable, up to that long (default: one try). A store opened with
   * `startWorkersOnPush` starts its workers first, so what it pushes is applied.
   */
  push(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    rows: readonly unknown[],
    options: { timeoutMs?: number } = {},
  ): Promise<PushResult> {
    return this.pushes.push(principal, projectName, featureSetName, rows, options);
  }

  /**
   * Waits until the online store holds each pushed key at least as new as pushed (applied by
   * whichever worker took it), or fails after `timeoutMs`.
   */
  waitApplied(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    rows: readonly Record<string, unknown>[],
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    return this.pushes.waitApplied(principal, projectName, featureSetName, rows, options);
  }

  /**
   * Messages the apply worker moved to `featurestore.online.ingest.dead` because they can never
   * be applied (bytes that do not decode…), since this engine was created. The offline sync
   * counts its own: `offlineSync.deadLettered`.
   */
  get deadLettered(): number {
    return this.applyWorker.deadLettered;
  }

  /**
   * Starts this process's online worker (one member of the apply group) and, with
   * `offlineSync`, its online → offline sync worker (one member of the sync group).
   * A message that can never be applied is published to the dead-letter topic
   * (`DeadLetters`), reported to `onDeadLetter`, and skipped; a transient failure (the online
   * store is down) makes its batch come again until it succeeds.
   */
  startWorker(
    options: { offlineSync?: boolean; onDeadLetter?: (letter: DeadLetter) => void } = {},
  ): Promise<void> {
    return this.applyWorker.start(options);
  }

  /**
   * Makes this engine start its workers (apply and offline sync, as `startWorker`) on its
   * first push: for a queue no other process reads, the embedded store's local log, whose
   * pushes nobody else would apply. They stop with `stopWorker` (on close).
   */
  startWorkersOnPush(options: { onDeadLetter?: (letter: DeadLetter) => void } = {}): void {
    this.applyWorker.startOnFirstPush(options);
  }

  /** Stops both workers; uncommitted batches go to the next member of their group. */
  stopWorker(): Promise<void> {
    return this.applyWorker.stop();
  }

  /**
   * Waits until the offline sync committed every pushed row of `result` (the sync group
   * stored offsets at or past the positions the queue returned at push), or fails with
   * `UnavailableError` after `timeoutMs` (default 60 s). Any worker of the sync group counts,
   * in this process or another.
   *
   * @example
   * const result = await engine.push(principal, 'fraud', 'customers', rows);
   * await engine.waitSynced(result, { timeoutMs: 30_000 }); // now retrievable offline
   */
  waitSynced(result: PushResult, options: { timeoutMs?: number } = {}): Promise<void> {
    return this.pushes.waitSynced(result, options);
  }

  /**
   * Features for many entities from several feature sets, in one online-store round trip.
   * Each result row is the entity's object plus `<featureset>__<feature>` values (null when
   * missing or past the time to live). Sensitive features need `sensitive_consumer`.
   */
  getOnlineFeatures(
    principal: Principal,
    request: OnlineFeaturesRequest,
  ): Promise<Record<string, unknown>[]> {
    return this.reads.getOnlineFeatures(principal, request);
  }

  /** `getOnlineFeatures` and which of its `null` values are past their time to live. */
  readOnlineFeatures(
    principal: Principal,
    request: OnlineFeaturesRequest,
  ): Promise<OnlineFeaturesResult> {
    return this.reads.readOnlineFeatures(principal, request);
  }
}
