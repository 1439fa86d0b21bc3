import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError, ValidationError } from '../errors.js';
import type { Ingestion } from '../model/offline-records.js';
import type { FeatureSet } from '../model/records.js';
import { ingestionPrefix } from '../offline/storage-layout.js';
import type { ComputeEngine } from '../ports/compute-engine.js';
import type {
  DeliveredMessage,
  MessagePosition,
  MessageQueue,
  Subscription,
} from '../ports/message-queue.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import type { ObjectStorage } from '../ports/object-storage.js';
import {
  type DeadLetter,
  DeadLetterError,
  DeadLetters,
  MessageContentError,
} from '../queue/dead-letters.js';
import { listAll } from '../storage/object-keys.js';
import { ONLINE_INGEST_TOPIC, type PushedRow } from './pushed-row.js';
import { decodePushedRows } from './pushed-row-codec.js';
import { retryUnavailable } from './retry-unavailable.js';

/** The consumer group of the workers that commit pushed rows to the offline store. */
export const OFFLINE_SYNC_GROUP = 'featurestore.online.offline-sync';
/** The name under which the sync stores its offsets in the metadata store. */
export const OFFLINE_SYNC_CONSUMER = `${OFFLINE_SYNC_GROUP}/${ONLINE_INGEST_TOPIC}`;
/** `source` of the ingestions the sync commits. */
export const OFFLINE_SYNC_SOURCE = 'online-sync';

export interface OfflineSyncOptions {
  /**
   * The least time between two syncs of one partition (default 0: each delivered batch at
   * once). Rows arriving meanwhile wait on the queue and go together into the next batch, up
   * to the queue's batch size, so a steady stream makes at most one ingestion per feature set
   * version, partition and interval.
   */
  intervalMs?: number;
  /**
   * Reports a batch that failed (it is delivered again), and each message moved to the
   * dead-letter topic (a `DeadLetterError`: it is not delivered again).
   */
  onError?: (error: unknown) => void;
  /**
   * Called for each message that can never be synced (bytes that do not decode…), once it is
   * published to `featurestore.online.ingest.dead` and before its batch is committed.
   */
  onDeadLetter?: (letter: DeadLetter) => void;
}

export interface SyncOutcome {
  /** Messages of the batch synced now (the others were synced before). */
  synced: number;
  ingestions: Ingestion[];
}

const encoder = new TextEncoder();

/**
 * Online → offline: pushed rows, read from the ingest topic in their own consumer group, are
 * committed as ordinary offline ingestions (`source: online-sync`), exactly once.
 *
 * Per delivered batch: messages at or below the offset stored for their partition are
 * dropped (already synced); the rest are grouped by feature set version, written as JSON
 * Lines to a staging key, turned into Parquet by the compute engine's `ingest` job, and then
 * ONE metadata transaction commits every group's ingestion together with the new offsets
 * (a compare-and-set on the offsets read at the start). A crash before that commit leaves
 * invisible files for the garbage collector and the batch is delivered again; a crash after it
 * makes the redelivered messages fall at or below the stored offsets. Two workers racing over
 * one partition (a rebalance) cannot both commit: the loser's compare-and-set fails, it rolls
 * back and its batch comes again.
 *
 * Rows within an ingestion are ordered by write sequence, so ties on event time resolve like
 * online (the later write wins). These ingestions are not applied to the online store: their
 * rows came from it.
 */
export class OfflineSyncWorker {
  readonly #store: MetadataStore;
  readonly #compute: ComputeEngine;
  readonly #storage: ObjectStorage;
  readonly #queue: MessageQueue;
  readonly #intervalMs: number;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #deadLetters: DeadLetters;
  readonly #syncOrDeadLetter: (messages: DeliveredMessage[]) => Promise<void>;
  readonly #lastSync = new Map<number, number>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #subscription: Subscription | undefined;
  #stopped = false;
  /** The failure of the last batch, until a batch succeeds: what `waitSynced` reports. */
  #lastFailure: { error: unknown } | undefined;

  constructor(
    deps: {
      store: MetadataStore;
      compute: ComputeEngine;
      storage: ObjectStorage;
      queue: MessageQueue;
    },
    options: OfflineSyncOptions = {},
  ) {
    this.#store = deps.store;
    this.#compute = deps.compute;
    this.#storage = deps.storage;
    this.#queue = deps.queue;
    this.#intervalMs = options.intervalMs ?? 0;
    this.#onError = options.onError;
    this.#deadLetters = new DeadLetters({
      queue: deps.queue,
      group: OFFLINE_SYNC_GROUP,
      onDeadLetter: (letter) => {
        this.#onError?.(new DeadLetterError(letter));
        options.onDeadLetter?.(letter);
      },
    });
    this.#syncOrDeadLetter = this.#deadLetters.wrap(async (messages) => {
      await this.sync(messages);
    });
  }

  /** Messages this worker moved to the dead-letter topic since it was created. */
  get deadLettered(): number {
    return this.#deadLetters.count;
  }

  /** Joins the sync group; resolves once this process consumes. Idempotent. */
  async start(): Promise<void> {
    this.#stopped = false;
    this.#subscription ??= await this.#queue.subscribe({
      topic: ONLINE_INGEST_TOPIC,
      group: OFFLINE_SYNC_GROUP,
      fromBeginning: true,
      handler: (messages) => this.#handle(messages),
    });
  }

  /** Leaves the group and waits for a sync in progress to end (committed or rolled back). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#subscription?.close();
    this.#subscription = undefined;
    await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Resolves once every position is synced (its offset stored), or fails with
   * `UnavailableError` after `timeoutMs` (default 60 s).
   */
  async waitSynced(
    positions: readonly MessagePosition[],
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const wanted = new Map<number, bigint>();
    for (const { partition, offset } of positions) {
      const value = BigInt(offset);
      if ((wanted.get(partition) ?? -1n) < value) wanted.set(partition, value);
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // A metadata database that stalls is waited out within the time limit.
      const stored = await retryUnavailable(
        () => this.#store.getConsumerOffsets(OFFLINE_SYNC_CONSUMER),
        deadline,
      );
      const pending = [...wanted].filter(
        ([partition, offset]) => BigInt(stored.get(partition) ?? '-1') < offset,
      );
      if (pending.length === 0) return;
      if (Date.now() > deadline) {
        const cause = await this.#whyNotSynced();
        throw new UnavailableError(
          `pushed rows in ${pending.length} partition(s) were published to the queue but not synced to the offline store within ${timeoutMs} ms: ${cause?.message ?? 'is an offline sync worker running (featurestore online workers)?'}; they are synced once a sync worker can`,
          { ...(cause ? { cause } : {}), details: { published: true, partitions: pending.length } },
        );
      }
      await sleep(50);
    }
  }

  /**
   * Why rows are not synced, when it can be told: the failure of this process's sync worker
   * (a missing bucket, denied credentials, a full disk), or else the offline storage's own
   * answer to a small list, which shows what a sync worker elsewhere meets.
   */
  async #whyNotSynced(): Promise<Error | undefined> {
    if (this.#lastFailure) {
      const { error } = this.#lastFailure;
      const reason = error instanceof Error ? error.message : String(error);
      return new UnavailableError(`the offline sync keeps failing: ${reason}`, { cause: error });
    }
    try {
      await this.#storage.list('tmp/offline-sync/', { limit: 1 });
      return undefined;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return new UnavailableError(`the offline storage fails: ${reason}`, { cause: error });
    }
  }

  /**
   * Syncs one batch (what the queue handler does after the interval): exposed so a test or
   * a one-shot tool can drive it.
   */
  async sync(messages: readonly DeliveredMessage[]): Promise<SyncOutcome> {
    const run = this.#sync(messages);
    this.#inFlight.add(run);
    try {
      return await run;
    } finally {
      this.#inFlight.delete(run);
    }
  }

  async #handle(messages: DeliveredMessage[]): Promise<void> {
    const partitions = new Set(messages.map((message) => message.partition));
    const since = Math.max(...[...partitions].map((p) => this.#lastSync.get(p) ?? 0));
    const wait = since + this.#intervalMs - Date.now();
    if (wait > 0) await sleep(wait);
    if (this.#stopped) throw new UnavailableError('the offline sync worker stopped');
    try {
      await this.#syncOrDeadLetter(messages);
      for (const p of partitions) this.#lastSync.set(p, Date.now());
      this.#lastFailure = undefined;
    } catch (error) {
      // Retried after the queue's backoff (never dead-lettered: see `isPermanentFailure`).
      this.#lastFailure = { error };
      this.#onError?.(error);
      throw error;
    }
  }

  async #sync(messages: readonly DeliveredMessage[]): Promise<SyncOutcome> {
    const stored = await this.#store.getConsumerOffsets(OFFLINE_SYNC_CONSUMER);
    const fresh = messages.filter(
      (message) => BigInt(message.offset) > BigInt(stored.get(message.partition) ?? '-1'),
    );
    if (fresh.length === 0) return { synced: 0, ingestions: [] };
    const next = new Map<number, string>();
    const expected = new Map<number, string>();
    for (const message of fresh) {
      const known = next.get(message.partition);
      if (known === undefined || BigInt(known) < BigInt(message.offset)) {
        next.set(message.partition, message.offset);
      }
      const was = stored.get(message.partition);
      if (was !== undefined) expected.set(message.partition, was);
    }
    const groups = new Map<string, PushedRow[]>();
    for (const message of fresh) {
      for (const row of decodeIngestMessage(message)) {
        const id = `${row.featureSetId}:${row.major}`;
        const group = groups.get(id);
        if (group) group.push(row);
        else groups.set(id, [row]);
      }
    }
    const staged: { featureSet: FeatureSet; ingestion: Omit<Ingestion, 'sequence' | 'state'> }[] =
      [];
    const written: string[] = [];
    try {
      for (const rows of groups.values()) {
        const featureSet = await this.#featureSet(rows[0]!.featureSetId, rows[0]!.major);
        // A feature set deleted since the push: its rows are skipped, not dead-lettered.
        // Deleting is its owner's authorized decision to remove its data, and these rows are
        // part of it: a dead-letter topic would keep a copy (sensitive features too) for the
        // topic's retention, readable by whoever reads the queue; and they could not be
        // replayed anyway, a feature set created again under the name has a new id.
        if (!featureSet) continue;
        const ingestionId = randomUUID();
        const prefix = ingestionPrefix(featureSet.id, featureSet.version.major, ingestionId);
        written.push(`${prefix}/`);
        staged.push({
          featureSet,
          ingestion: await this.#ingest(featureSet, ingestionId, prefix, rows),
        });
      }
      const partitions = [...next].map(([p, o]) => `${p}:${o}`).join(',');
      const ingestions = await this.#store.transaction(async (tx) => {
        const committed: Ingestion[] = [];
        for (const { ingestion } of staged) {
          committed.push(
            await tx.commitIngestion({
              ...ingestion,
              idempotencyKey: `${OFFLINE_SYNC_SOURCE}:${partitions}`,
            }),
          );
        }
        await tx.putConsumerOffsets(OFFLINE_SYNC_CONSUMER, next, expected);
        return committed;
      });
      return { synced: fresh.length, ingestions };
    } catch (error) {
      for (const prefix of written) await this.#removePrefix(prefix);
      throw error;
    }
  }

  /**
   * The feature set version of pushed rows; undefined when the feature set was deleted. A
   * version that does not exist of a feature set that does is the message's own fault: it
   * can never be synced.
   */
  async #featureSet(featureSetId: string, major: number): Promise<FeatureSet | undefined> {
    const latest = await this.#store.getFeatureSetById(featureSetId);
    if (!latest || latest.version.major === major) return latest;
    const version = await this.#store.getFeatureSet(latest.projectId, latest.name, { major });
    if (version) return version;
    throw new MessageContentError(
      `pushed rows name version ${major} of feature set ${latest.name} (${featureSetId}), which does not exist`,
      { code: 'NOT_FOUND', details: { featureSetId, major } },
    );
  }

  /** Writes the rows as JSON Lines to a staging key and runs the `ingest` job on them. */
  async #ingest(
    featureSet: FeatureSet,
    ingestionId: string,
    prefix: string,
    rows: PushedRow[],
  ): Promise<Omit<Ingestion, 'sequence' | 'state'>> {
    const { schema } = featureSet;
    const eventTimeType = schema.features.find((f) => f.name === schema.eventTime)!.type;
    const keyTypes = schema.primaryKey.map(
      (name) => schema.features.find((f) => f.name === name)!.type,
    );
    // Ties on event time go to the last row of an ingestion: order by write sequence, as online.
    const ordered = [...rows].sort((a, b) => a.writeSequence - b.writeSequence);
    const lines = ordered.map((row) => {
      const record: Record<string, unknown> = {};
      schema.primaryKey.forEach((name, i) => {
        record[name] = keyValue(row.key[i]!, keyTypes[i]!);
      });
      const time = new Date(row.eventTime).toISOString();
      record[schema.eventTime] = eventTimeType === 'date' ? time.slice(0, 10) : time;
      Object.assign(record, row.values);
      return `${JSON.stringify(record)}\n`;
    });
    const stagingKey = `tmp/offline-sync/${ingestionId}.jsonl`;
    await this.#storage.put(stagingKey, encoder.encode(lines.join('')));
    try {
      const prefixUri = this.#storage.uri(prefix);
      const result = await this.#compute.run(
        {
          type: 'ingest',
          sources: [this.#storage.uri(stagingKey)],
          format: 'json',
          schema,
          outputPrefix: prefixUri,
        },
        { signal: new AbortController().signal, reportProgress: () => {} },
      );
      return {
        id: ingestionId,
        featureSetId: featureSet.id,
        major: featureSet.version.major,
        source: OFFLINE_SYNC_SOURCE,
        format: 'json',
        rowCount: result.rowCount,
        files: result.files.map((uri) => `${prefix}${uri.slice(prefixUri.length)}`),
        statistics: result.statistics,
        committedAt: new Date(),
        committedBy: OFFLINE_SYNC_SOURCE,
      };
    } finally {
      await this.#storage.delete([stagingKey]).catch(() => undefined);
    }
  }

  async #removePrefix(prefix: string): Promise<void> {
    const keys: string[] = [];
    try {
      for await (const object of listAll(this.#storage, prefix)) keys.push(object.key);
      if (keys.length > 0) await this.#storage.delete(keys);
    } catch {
      // Left for the garbage collector: nothing refers to these files.
    }
  }
}

/**
 * The rows of an ingest-topic message (`decodePushedRows`), failing with a
 * `MessageContentError` (code `VALIDATION`) whatever is wrong with its bytes: the message
 * itself can never be handled, so it is dead-lettered. Damaged first-format JSON throws a
 * `SyntaxError`, which would otherwise pass for a bug and be retried forever.
 */
export function decodeIngestMessage(message: DeliveredMessage): PushedRow[] {
  try {
    return decodePushedRows(message.value);
  } catch (error) {
    const reason = (error as Error).message;
    throw new MessageContentError(
      error instanceof ValidationError
        ? reason
        : `the online ingest message at partition ${message.partition} offset ${message.offset} is not valid pushed rows: ${reason}`,
      { cause: error, details: { field: 'value', partition: message.partition } },
    );
  }
}

/** A key component back as a JSON value: numbers and booleans were stored as their text. */
function keyValue(component: string, type: string): unknown {
  return type === 'bool' || type === 'int32' || type === 'float32' || type === 'float64'
    ? JSON.parse(component)
    : component;
}
