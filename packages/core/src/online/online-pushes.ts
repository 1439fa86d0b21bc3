import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError, ValidationError } from '../errors.js';
import type { Principal } from '../ports/identity-provider.js';
import type { MessagePosition, MessageQueue } from '../ports/message-queue.js';
import type { OnlineRecord, OnlineStore } from '../ports/online-store.js';
import type { OfflineSyncWorker } from './offline-sync.js';
import type { OnlineFeatureSets } from './online-feature-sets.js';
import { pushMessages } from './push-messages.js';
import { retryUnavailable } from './retry-unavailable.js';
import { RowValidator } from './row-validator.js';

export interface PushResult {
  pushId: string;
  rows: number;
  featureSet: string;
  /** Where the rows sit on the queue, one position per row (for `waitSynced`). */
  positions: readonly MessagePosition[];
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

/**
 * The online pushes: rows validated and put on the queue, for the apply workers to write to
 * the online store and the offline sync to commit offline, and the waits for either.
 */
export class OnlinePushes {
  readonly #featureSets: OnlineFeatureSets;
  readonly #queue: MessageQueue;
  readonly #online: OnlineStore;
  readonly #offlineSync: OfflineSyncWorker;
  readonly #beforePush: (() => Promise<void>) | undefined;

  constructor(deps: {
    featureSets: OnlineFeatureSets;
    queue: MessageQueue;
    /** Read by `waitApplied`. */
    online: OnlineStore;
    /** Asked by `waitSynced`. */
    offlineSync: OfflineSyncWorker;
    /**
     * Awaited by each valid push before it publishes (`ApplyWorker.beforePush`: the workers
     * started on the first push).
     */
    beforePush?: () => Promise<void>;
  }) {
    this.#featureSets = deps.featureSets;
    this.#queue = deps.queue;
    this.#online = deps.online;
    this.#offlineSync = deps.offlineSync;
    this.#beforePush = deps.beforePush;
  }

  /**
   * Validates rows against the latest version's schema (all of them first: a bad row fails
   * the whole request, naming the row and field) and puts them on the queue. With
   * `timeoutMs`, the feature set lookup is tried again while the metadata store is
   * unavailable, up to that long (default: one try).
   */
  async push(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    rows: readonly unknown[],
    options: { timeoutMs?: number } = {},
  ): Promise<PushResult> {
    const featureSet = await retryUnavailable(
      () => this.#featureSets.resolve(principal, projectName, featureSetName, 'data.write'),
      Date.now() + (options.timeoutMs ?? 0),
    );
    const pushId = randomUUID();
    const { messages, messageOfRow } = pushMessages(featureSet, pushId, rows, nextWriteSequence);
    if (rows.length === 0) {
      throw new ValidationError('the push has no rows: send at least one', {
        details: { field: 'rows' },
      });
    }
    await this.#beforePush?.();
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
      () => this.#featureSets.resolve(principal, projectName, featureSetName, 'data.read'),
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
   * Waits until the offline sync committed every pushed row of `result` (the sync group
   * stored offsets at or past the positions the queue returned at push), or fails with
   * `UnavailableError` after `timeoutMs` (default 60 s). Any worker of the sync group counts,
   * in this process or another.
   */
  async waitSynced(result: PushResult, options: { timeoutMs?: number } = {}): Promise<void> {
    await this.#offlineSync.waitSynced(result.positions, options);
  }
}
