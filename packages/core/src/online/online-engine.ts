import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Authorizer } from '../auth/authorizer.js';
import {
  authorizeSelection,
  type GuardedFeatureSet,
  guardFeatureSet,
  selectFeatures,
} from '../auth/feature-access.js';
import { UnavailableError, ValidationError } from '../errors.js';
import type { JobService, RunningJob } from '../jobs/job-service.js';
import { authorizedFeatureSet } from '../metadata/lookups.js';
import type { MetadataChanges } from '../metadata/metadata-changes.js';
import { ReadThroughCache } from '../metadata/read-through-cache.js';
import { parseDuration } from '../model/duration.js';
import type { FeatureSet } from '../model/records.js';
import { type FeatureRef, parseFeatureRefs } from '../offline/feature-ref.js';
import { visibleIngestions } from '../offline/time-travel.js';
import type { ComputeEngine } from '../ports/compute-engine.js';
import type { Principal } from '../ports/identity-provider.js';
import type {
  DeliveredMessage,
  MessagePosition,
  MessageQueue,
  Subscription,
} from '../ports/message-queue.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import type { ObjectStorage } from '../ports/object-storage.js';
import type {
  FeatureSetVersionRef,
  OnlineReadRequest,
  OnlineRecord,
  OnlineStore,
} from '../ports/online-store.js';
import { type DeadLetter, DeadLetters } from '../queue/dead-letters.js';
import type { MaterializeResult, OnlineMaterializer } from './materializer.js';
import { decodeIngestMessage, type OfflineSyncOptions, OfflineSyncWorker } from './offline-sync.js';
import { keyComponent, toOnlineValue } from './online-values.js';
import { pushMessages } from './push-messages.js';
import { ONLINE_INGEST_TOPIC } from './pushed-row.js';
import { resultRows } from './result-rows.js';
import { retryUnavailable } from './retry-unavailable.js';
import { RowValidator } from './row-validator.js';

export { ONLINE_INGEST_TOPIC } from './pushed-row.js';
/** The consumer group of the workers that apply pushed rows to the online store. */
export const ONLINE_APPLY_GROUP = 'featurestore.online.apply';

export interface PushResult {
  pushId: string;
  rows: number;
  featureSet: string;
  /** Where the rows sit on the queue, one position per row (for `waitSynced`). */
  positions: readonly MessagePosition[];
}

export interface OnlineFeaturesRequest {
  /** `project/featureset[@version]:feature` references, comma-separated or as a list. */
  features: string | readonly string[];
  /** One object per entity: the primary-key columns of every referenced feature set. */
  entities: readonly Record<string, unknown>[];
}

/** Keys per read while `waitApplied` polls. */
const WAIT_READ_KEYS = 2000;

/**
 * Monotonic write sequences from the clock (microsecond resolution, strictly increasing in
 * this process): of two writes with equal event times, the later one wins, also across the
 * offline and online paths.
 */
let lastSequence = 0;
export function nextWriteSequence(): number {
  lastSequence = Math.max(lastSequence + 1, Date.now() * 1000);
  return lastSequence;
}

const DEFAULT_METADATA_CACHE_MS = 1000;

/**
 * The online engine: pushes go through the queue to workers that apply them to the online
 * store (newest wins), and reads fetch features of several feature sets for many keys in one
 * round trip.
 */
export class OnlineEngine {
  readonly #store: MetadataStore;
  readonly #authorizer: Authorizer;
  readonly #online: OnlineStore;
  readonly #queue: MessageQueue;
  readonly #jobs: JobService;
  readonly #materializer: OnlineMaterializer;
  readonly #offlineSync: OfflineSyncWorker;
  /** Feature sets resolved and authorized per principal, action and reference. */
  readonly #resolved: ReadThroughCache<FeatureSet>;
  /** Feature sets of data reads with their lineage's sensitive features. */
  readonly #guarded: ReadThroughCache<GuardedFeatureSet>;
  /** Principals allowed to read a project's sensitive features. */
  readonly #sensitive: ReadThroughCache<void>;
  #worker: Subscription | undefined;
  readonly #deadLetters: DeadLetters;
  /** `startWorkersOnPush`'s options: start the workers on the first push. */
  #workersOnPush: { onDeadLetter?: (letter: DeadLetter) => void } | undefined;
  #startingOnPush: Promise<void> | undefined;
  /** `startWorker`'s report of each dead letter of the apply worker. */
  #onDeadLetter: ((letter: DeadLetter) => void) | undefined;

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
  }) {
    this.#store = deps.store;
    this.#authorizer = deps.authorizer;
    this.#online = deps.online;
    this.#queue = deps.queue;
    this.#jobs = deps.jobs;
    this.#materializer = deps.materializer;
    const cache = {
      ttlMs: deps.metadataCacheMs ?? DEFAULT_METADATA_CACHE_MS,
      ...(deps.changes ? { changes: deps.changes } : {}),
      ...(deps.metadataCacheClock ? { now: deps.metadataCacheClock } : {}),
    };
    this.#resolved = new ReadThroughCache(cache);
    this.#guarded = new ReadThroughCache(cache);
    this.#sensitive = new ReadThroughCache(cache);
    this.#deadLetters = new DeadLetters({
      queue: deps.queue,
      group: ONLINE_APPLY_GROUP,
      onDeadLetter: (letter) => this.#onDeadLetter?.(letter),
    });
    this.#offlineSync = new OfflineSyncWorker(
      { store: deps.store, compute: deps.compute, storage: deps.storage, queue: deps.queue },
      deps.offlineSync,
    );
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
  async materialize(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    options: { version?: string; rebuild?: boolean } = {},
  ): Promise<RunningJob<MaterializeResult>> {
    const featureSet = await this.#resolve(
      principal,
      projectName,
      featureSetName,
      'data.write',
      options.version,
    );
    return this.#jobs.start(
      principal,
      {
        type: 'materialize',
        projectId: featureSet.projectId,
        request: { project: projectName, featureSet: featureSetName, ...options },
      },
      async (context) => {
        // Listed when the job runs: a revert committed while it waited is not undone.
        const ingestions = visibleIngestions(
          await this.#store.listIngestions(featureSet.id, featureSet.version.major),
        );
        return options.rebuild
          ? this.#materializer.rebuild(featureSet, ingestions, context)
          : this.#materializer.apply(featureSet, ingestions, context);
      },
    );
  }

  /**
   * Validates rows against the latest version's schema (all of them first: a bad row fails
   * the whole request, naming the row and field) and puts them on the queue. With
   * `timeoutMs`, the feature set lookup is tried again while the metadata store is
   * unavailable, up to that long (default: one try). A store opened with
   * `startWorkersOnPush` starts its workers first, so what it pushes is applied.
   */
  async push(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    rows: readonly unknown[],
    options: { timeoutMs?: number } = {},
  ): Promise<PushResult> {
    const featureSet = await retryUnavailable(
      () => this.#resolve(principal, projectName, featureSetName, 'data.write'),
      Date.now() + (options.timeoutMs ?? 0),
    );
    const pushId = randomUUID();
    const { messages, messageOfRow } = pushMessages(featureSet, pushId, rows, nextWriteSequence);
    if (rows.length === 0) {
      throw new ValidationError('the push has no rows: send at least one', {
        details: { field: 'rows' },
      });
    }
    if (this.#workersOnPush) {
      // Once: a failed start (the queue cannot be read) is tried again by the next push.
      this.#startingOnPush ??= this.startWorker({
        offlineSync: true,
        ...this.#workersOnPush,
      }).catch((error: unknown) => {
        this.#startingOnPush = undefined;
        throw error;
      });
      await this.#startingOnPush;
    }
    const published = await this.#queue.publish(messages);
    // A message carries several rows: each row is where its message is.
    const positions = Array.from(messageOfRow, (message) => published[message]!);
    return {
      pushId,
      rows: rows.length,
      featureSet: `${projectName}/${featureSetName}`,
      positions,
    };
  }

  /**
   * Waits until the online store holds each pushed key at least as new as pushed (applied by
   * whichever worker took it), or fails after `timeoutMs`.
   */
  async waitApplied(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    rows: readonly Record<string, unknown>[],
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    const featureSet = await retryUnavailable(
      () => this.#resolve(principal, projectName, featureSetName, 'data.read'),
      deadline,
    );
    const ref = { featureSetId: featureSet.id, major: featureSet.version.major };
    const pending = new Map<string, { id: string; key: string[]; eventTime: number }>();
    const validator = new RowValidator(featureSet);
    // Every row has the schema's key columns: one column is its own unambiguous id.
    const single = featureSet.schema.primaryKey.length === 1;
    rows.forEach((row, index) => {
      const { key, eventTime } = validator.validate(row, index);
      const id = single ? key[0]! : JSON.stringify(key);
      const known = pending.get(id);
      if (!known || known.eventTime < eventTime) pending.set(id, { id, key, eventTime });
    });
    while (pending.size > 0) {
      // In push order, a slice at a time: one read of every key would hold up the store (and
      // the workers' writes behind it on a shared connection) while the keys not applied yet
      // are read again and again. A slice with keys still pending ends the pass.
      const entries = [...pending.values()];
      for (let from = 0; from < entries.length; from += WAIT_READ_KEYS) {
        const slice = entries.slice(from, from + WAIT_READ_KEYS);
        let stored: (OnlineRecord | undefined)[];
        try {
          stored = await this.#online.read({
            featureSet: ref,
            keys: slice.map((e) => e.key),
            features: [],
          });
        } catch (error) {
          // The store is down for now (a restart): keep waiting until the deadline.
          if (!(error instanceof UnavailableError) || Date.now() > deadline) throw error;
          break;
        }
        let waiting = false;
        slice.forEach((entry, i) => {
          if ((stored[i]?.eventTime ?? Number.NEGATIVE_INFINITY) >= entry.eventTime) {
            pending.delete(entry.id);
          } else {
            waiting = true;
          }
        });
        if (waiting) break;
      }
      if (pending.size === 0) return;
      if (Date.now() > deadline) {
        throw new UnavailableError(
          `${pending.size} pushed row(s) were published to the queue but not applied to the online store within ${options.timeoutMs ?? 30_000} ms: are the online workers running (featurestore online workers)? They apply them once they run`,
          { details: { published: true, pending: pending.size } },
        );
      }
      await sleep(20);
    }
  }

  /**
   * Messages the apply worker moved to `featurestore.online.ingest.dead` because they can never
   * be applied (bytes that do not decode…), since this engine was created. The offline sync
   * counts its own: `offlineSync.deadLettered`.
   */
  get deadLettered(): number {
    return this.#deadLetters.count;
  }

  /**
   * Starts this process's online worker (one member of the apply group) and, with
   * `offlineSync`, its online → offline sync worker (one member of the sync group).
   * A message that can never be applied is published to the dead-letter topic
   * (`DeadLetters`), reported to `onDeadLetter`, and skipped; a transient failure (the online
   * store is down) makes its batch come again until it succeeds.
   */
  async startWorker(
    options: { offlineSync?: boolean; onDeadLetter?: (letter: DeadLetter) => void } = {},
  ): Promise<void> {
    this.#onDeadLetter = options.onDeadLetter;
    this.#worker ??= await this.#queue.subscribe({
      topic: ONLINE_INGEST_TOPIC,
      group: ONLINE_APPLY_GROUP,
      fromBeginning: true,
      handler: this.#deadLetters.wrap((messages) => this.#apply(messages)),
    });
    if (options.offlineSync) await this.#offlineSync.start();
  }

  /**
   * Makes this engine start its workers (apply and offline sync, as `startWorker`) on its
   * first push: for a queue no other process reads, the embedded store's local log, whose
   * pushes nobody else would apply. They stop with `stopWorker` (on close).
   */
  startWorkersOnPush(options: { onDeadLetter?: (letter: DeadLetter) => void } = {}): void {
    this.#workersOnPush = options;
  }

  /** Stops both workers; uncommitted batches go to the next member of their group. */
  async stopWorker(): Promise<void> {
    await this.#startingOnPush?.catch(() => undefined);
    this.#startingOnPush = undefined;
    await this.#worker?.close();
    this.#worker = undefined;
    await this.#offlineSync.stop();
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
  async waitSynced(result: PushResult, options: { timeoutMs?: number } = {}): Promise<void> {
    await this.#offlineSync.waitSynced(result.positions, options);
  }

  /**
   * Features for many entities from several feature sets, in one online-store round trip.
   * Each result row is the entity's object plus `<featureset>__<feature>` values (null when
   * missing or past the time to live). Sensitive features need `sensitive_consumer`.
   */
  async getOnlineFeatures(
    principal: Principal,
    request: OnlineFeaturesRequest,
  ): Promise<Record<string, unknown>[]> {
    const refs = parseFeatureRefs(request.features);
    const groups = new Map<string, FeatureRef[]>();
    for (const ref of refs) {
      const id = `${ref.project}/${ref.featureSet}@${ref.version ?? ''}`;
      groups.set(id, [...(groups.get(id) ?? []), ref]);
    }
    const plans: { featureSet: FeatureSet; features: string[]; read: OnlineReadRequest }[] = [];
    const now = Date.now();
    for (const group of groups.values()) {
      const { project, featureSet: name, version } = group[0]!;
      const guarded = await this.#resolveGuarded(principal, project, name, version);
      const { featureSet } = guarded;
      const selection = selectFeatures(
        guarded,
        group.map((ref) => ref.feature),
      );
      if (selection.sensitive.length > 0) {
        await this.#sensitive.get(
          `${principal.userId}\n${principal.admin}\n${featureSet.projectId}`,
          () => authorizeSelection(this.#authorizer, principal, featureSet, selection),
        );
      }
      const { features } = selection;
      const keys = request.entities.map((entity, index) =>
        featureSet.schema.primaryKey.map((column) => {
          const spec = featureSet.schema.features.find((f) => f.name === column)!;
          if (entity[column] === undefined || entity[column] === null) {
            throw new ValidationError(
              `entity ${index + 1} has no "${column}", a primary key of ${project}/${featureSet.name}`,
              { details: { field: column, row: index + 1 } },
            );
          }
          return keyComponent(toOnlineValue(`entity ${index + 1}`, spec, entity[column]));
        }),
      );
      plans.push({
        featureSet,
        features,
        read: {
          featureSet: { featureSetId: featureSet.id, major: featureSet.version.major },
          keys,
          features,
          now,
          ...(featureSet.timeToLive === undefined
            ? {}
            : { ttlMs: parseDuration('timeToLive', featureSet.timeToLive) }),
        },
      });
    }
    const results = this.#online.readMany
      ? await this.#online.readMany(plans.map((plan) => plan.read))
      : await Promise.all(plans.map((plan) => this.#online.read(plan.read)));
    const columns = plans.flatMap((plan, read) =>
      plan.features.map((feature) => ({
        read,
        feature,
        name: `${plan.featureSet.name}__${feature}`,
      })),
    );
    return resultRows(request.entities, columns, results);
  }

  async #apply(messages: DeliveredMessage[]): Promise<void> {
    const byVersion = new Map<string, { ref: FeatureSetVersionRef; records: OnlineRecord[] }>();
    for (const message of messages) {
      for (const row of decodeIngestMessage(message)) {
        const id = `${row.featureSetId}:${row.major}`;
        let entry = byVersion.get(id);
        if (!entry) {
          entry = { ref: { featureSetId: row.featureSetId, major: row.major }, records: [] };
          byVersion.set(id, entry);
        }
        entry.records.push({
          key: row.key,
          eventTime: row.eventTime,
          writeSequence: row.writeSequence,
          values: row.values,
        });
      }
    }
    // Versions are independent records: their writes go to the store together.
    await Promise.all(
      [...byVersion.values()].map(({ ref, records }) => this.#online.write(ref, records)),
    );
  }

  /** A data read's feature set with its lineage's access rules, cached like `#resolve`. */
  #resolveGuarded(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    version?: string,
  ): Promise<GuardedFeatureSet> {
    const key = [principal.userId, principal.admin, projectName, featureSetName, version];
    return this.#guarded.get(key.join('\n'), async () =>
      guardFeatureSet(
        this.#store,
        await this.#resolve(principal, projectName, featureSetName, 'data.read', version),
      ),
    );
  }

  async #resolve(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    action: 'data.read' | 'data.write',
    version?: string,
  ): Promise<FeatureSet> {
    const key = [principal.userId, principal.admin, action, projectName, featureSetName, version];
    return this.#resolved.get(key.join('\n'), async () => {
      const { featureSet } = await authorizedFeatureSet(
        this.#store,
        this.#authorizer,
        principal,
        action,
        { project: projectName, featureSet: featureSetName, version },
      );
      return featureSet;
    });
  }
}
