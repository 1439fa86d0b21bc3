import { ValidationError } from '../errors.js';
import type { DeliveredMessage, MessageQueue, Subscription } from '../ports/message-queue.js';
import type { FeatureSetVersionRef, OnlineRecord, OnlineStore } from '../ports/online-store.js';
import { type DeadLetter, DeadLetters } from '../queue/dead-letters.js';
import { decodeIngestMessage, type OfflineSyncWorker } from './offline-sync.js';
import { ONLINE_INGEST_TOPIC } from './pushed-row.js';

/** The consumer group of the workers that apply pushed rows to the online store. */
export const ONLINE_APPLY_GROUP = 'featurestore.online.apply';

/**
 * This process's apply worker: one member of the apply group, which writes pushed rows to
 * the online store (newest wins), dead-letters the messages that can never be applied, and
 * starts and stops the online → offline sync with it when it has one.
 */
export class ApplyWorker {
  readonly #queue: MessageQueue;
  readonly #online: OnlineStore;
  readonly #offlineSync: OfflineSyncWorker | undefined;
  readonly #deadLetters: DeadLetters;
  #worker: Subscription | undefined;
  /** `startOnFirstPush`'s options: start the workers on the first push. */
  #workersOnPush: { onDeadLetter?: (letter: DeadLetter) => void } | undefined;
  #startingOnPush: Promise<void> | undefined;
  /** `start`'s report of each dead letter. */
  #onDeadLetter: ((letter: DeadLetter) => void) | undefined;

  constructor(deps: {
    queue: MessageQueue;
    online: OnlineStore;
    /** The sync `start({ offlineSync: true })` starts too (none: the apply worker alone). */
    offlineSync?: OfflineSyncWorker;
  }) {
    this.#queue = deps.queue;
    this.#online = deps.online;
    this.#offlineSync = deps.offlineSync;
    this.#deadLetters = new DeadLetters({
      queue: deps.queue,
      group: ONLINE_APPLY_GROUP,
      onDeadLetter: (letter) => this.#onDeadLetter?.(letter),
    });
  }

  /**
   * Messages this worker moved to `featurestore.online.ingest.dead` because they can never
   * be applied (bytes that do not decode…), since it was created.
   */
  get deadLettered(): number {
    return this.#deadLetters.count;
  }

  /**
   * Joins the apply group and, with `offlineSync`, starts the online → offline sync worker.
   * A message that can never be applied is published to the dead-letter topic
   * (`DeadLetters`), reported to `onDeadLetter`, and skipped; a transient failure (the online
   * store is down) makes its batch come again until it succeeds.
   */
  async start(
    options: { offlineSync?: boolean; onDeadLetter?: (letter: DeadLetter) => void } = {},
  ): Promise<void> {
    // Checked first: a worker asked for a sync it cannot start does not half start.
    const sync = options.offlineSync ? this.#requireOfflineSync() : undefined;
    this.#onDeadLetter = options.onDeadLetter;
    this.#worker ??= await this.#queue.subscribe({
      topic: ONLINE_INGEST_TOPIC,
      group: ONLINE_APPLY_GROUP,
      fromBeginning: true,
      handler: this.#deadLetters.wrap((messages) => this.#apply(messages)),
    });
    if (sync) await sync.start();
  }

  /**
   * Makes the first push start the workers (apply and offline sync, as `start`): for a queue
   * no other process reads, the embedded store's local log, whose pushes nobody else would
   * apply. They stop with `stop`.
   */
  startOnFirstPush(options: { onDeadLetter?: (letter: DeadLetter) => void } = {}): void {
    this.#workersOnPush = options;
  }

  /**
   * What a push awaits before it publishes: the workers started, when `startOnFirstPush` asked
   * for them; nothing otherwise.
   */
  async beforePush(): Promise<void> {
    if (!this.#workersOnPush) return;
    // Once: a failed start (the queue cannot be read) is tried again by the next push.
    this.#startingOnPush ??= this.start({ offlineSync: true, ...this.#workersOnPush }).catch(
      (error: unknown) => {
        this.#startingOnPush = undefined;
        throw error;
      },
    );
    await this.#startingOnPush;
  }

  /** Stops both workers; uncommitted batches go to the next member of their group. */
  async stop(): Promise<void> {
    await this.#startingOnPush?.catch(() => undefined);
    this.#startingOnPush = undefined;
    await this.#worker?.close();
    this.#worker = undefined;
    await this.#offlineSync?.stop();
  }

  #requireOfflineSync(): OfflineSyncWorker {
    if (this.#offlineSync) return this.#offlineSync;
    throw new ValidationError(
      'this apply worker was built without an offline sync: pass offlineSync to its constructor, or start it without { offlineSync: true }',
      { details: { field: 'offlineSync' } },
    );
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
}
