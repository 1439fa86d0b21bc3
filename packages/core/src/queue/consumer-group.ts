import type { DeliveredMessage, SubscribeOptions } from '../ports/message-queue.js';
import type { LogEntry, PartitionLog } from './partition-log.js';

/** One topic as the local queue holds it: its partitions and who listens for appends. */
export interface LocalTopic {
  readonly name: string;
  readonly partitions: readonly PartitionLog[];
  /** Called after every append, so idle consumers look again. */
  readonly listeners: Set<() => void>;
}

/** Where a group's committed offsets live: a small file, or nowhere (in memory). */
export interface OffsetStore {
  load(): Promise<readonly number[] | undefined>;
  save(offsets: readonly number[]): Promise<void>;
}

export interface ConsumerTuning {
  /** Most messages handed to one handler call. */
  maxBatchSize: number;
  /** First wait before a rejected batch is delivered again; doubles up to `retryMaxMs`. */
  retryInitialMs: number;
  retryMaxMs: number;
}

/** An idle consumer looks at its partitions at least this often, in case a wake-up was lost. */
const IDLE_MS = 1000;

/**
 * The consumers of one group on one topic, inside this process. Partitions are the unit of
 * work: partition `p` belongs to member `p mod n` (members in joining order), and one batch of
 * a partition is in flight at a time, so a key's messages are handled in order and, when a
 * partition changes hands, the new owner waits for the old one's batch to end. A batch is
 * committed only after the handler resolves; a rejection sends the same batch again after a
 * backoff; a member that closes mid-batch abandons it, uncommitted, to the next owner.
 */
export class ConsumerGroup {
  readonly #topic: LocalTopic;
  readonly #store: OffsetStore;
  readonly #tuning: ConsumerTuning;
  readonly #members: GroupMember[] = [];
  /** The next offset to deliver per partition: everything before it is committed. */
  readonly #offsets: number[];
  readonly #busy: boolean[];
  #saving: Promise<void> = Promise.resolve();
  #queuedSave: Promise<void> | undefined;

  private constructor(
    topic: LocalTopic,
    store: OffsetStore,
    tuning: ConsumerTuning,
    offsets: number[],
  ) {
    this.#topic = topic;
    this.#store = store;
    this.#tuning = tuning;
    this.#offsets = offsets;
    this.#busy = offsets.map(() => false);
  }

  /**
   * Loads the group's committed offsets. Partitions without one start at the beginning or at
   * the end of the log, and that start is saved at once: a message published after this
   * resolves reaches the group even if its consumer restarts before committing anything.
   */
  static async open(
    topic: LocalTopic,
    store: OffsetStore,
    tuning: ConsumerTuning,
    fromBeginning: boolean,
  ): Promise<ConsumerGroup> {
    const saved = await store.load();
    const offsets = topic.partitions.map(
      (log, p) => saved?.[p] ?? (fromBeginning ? log.start : log.end),
    );
    if (saved === undefined || saved.length < offsets.length) await store.save(offsets);
    return new ConsumerGroup(topic, store, tuning, offsets);
  }

  /** Adds a consumer; it starts handling its partitions at once. */
  join(handler: SubscribeOptions['handler']): GroupMember {
    const member = new GroupMember(this, handler);
    this.#members.push(member);
    this.#topic.listeners.add(member.wake);
    this.#changed();
    member.start();
    return member;
  }

  /** @internal Removes a closing member; its partitions go to the others. */
  leave(member: GroupMember): void {
    const index = this.#members.indexOf(member);
    if (index >= 0) this.#members.splice(index, 1);
    this.#topic.listeners.delete(member.wake);
    this.#changed();
  }

  get topic(): LocalTopic {
    return this.#topic;
  }

  get tuning(): ConsumerTuning {
    return this.#tuning;
  }

  /** @internal The partitions `member` owns right now. */
  partitionsOf(member: GroupMember): number[] {
    const index = this.#members.indexOf(member);
    if (index < 0) return [];
    const owned: number[] = [];
    for (let p = index; p < this.#offsets.length; p += this.#members.length) owned.push(p);
    return owned;
  }

  /** @internal Takes partition `p` for one batch, when `member` owns it and nobody holds it. */
  claim(member: GroupMember, p: number): number | undefined {
    if (this.#busy[p] || !this.partitionsOf(member).includes(p)) return undefined;
    this.#busy[p] = true;
    return this.#offsets[p]!;
  }

  /**
   * @internal Ends a batch of `member` on partition `p`: `next` commits up to it; without it
   * the offset stays. Others are told when that frees work for them.
   */
  release(member: GroupMember, p: number, next?: number): Promise<void> {
    this.#busy[p] = false;
    if (next !== undefined) this.#offsets[p] = next;
    // A partition that moved to another member while busy is theirs now: wake them. An empty
    // read or a rejection on one's own partition frees nothing for anyone else.
    if (next !== undefined || !this.partitionsOf(member).includes(p)) this.#changed();
    return next === undefined ? Promise.resolve() : this.#save();
  }

  /** Saves the offsets; saves requested while one runs are folded into the next one. */
  #save(): Promise<void> {
    if (this.#queuedSave) return this.#queuedSave;
    const save = this.#saving.then(() => {
      this.#queuedSave = undefined;
      return this.#store.save([...this.#offsets]);
    });
    this.#queuedSave = save;
    this.#saving = save.catch(() => {});
    return save;
  }

  #changed(): void {
    for (const member of this.#members) member.wake();
  }
}

/** One subscription's consumer: a loop over its partitions, one batch at a time. */
export class GroupMember {
  readonly #group: ConsumerGroup;
  readonly #handler: SubscribeOptions['handler'];
  readonly #closedSignal: Promise<'closed'>;
  #signalClosed!: () => void;
  #closed = false;
  #loop: Promise<void> = Promise.resolve();
  /** Set by `wake` between two looks, so a wake-up during a batch is not lost. */
  #woken = false;
  #sleeper: (() => void) | undefined;
  /** Per partition: failures in a row, and when the failed batch may go again. */
  readonly #failures = new Map<number, { count: number; retryAt: number }>();
  #turn = 0;

  constructor(group: ConsumerGroup, handler: SubscribeOptions['handler']) {
    this.#group = group;
    this.#handler = handler;
    this.#closedSignal = new Promise((resolve) => {
      this.#signalClosed = () => resolve('closed');
    });
  }

  /** Something changed (an append, a member, a released partition): look again. */
  readonly wake = (): void => {
    this.#woken = true;
    this.#sleeper?.();
  };

  start(): void {
    this.#loop = this.#run();
  }

  /**
   * Stops at once, even with a handler in flight: its batch is abandoned uncommitted and goes
   * to the next owner of the partition, as after a crash.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#signalClosed();
      this.#group.leave(this);
    }
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      this.#woken = false;
      let delivered: boolean;
      try {
        delivered = await this.#lookOnce();
      } catch {
        // A read failed (the disk): the port has no error channel, so look again later.
        delivered = false;
        this.#woken = false;
      }
      if (!delivered && !this.#closed) await this.#sleep();
    }
  }

  /** Offers one batch of each owned partition with messages to the handler. */
  async #lookOnce(): Promise<boolean> {
    const owned = this.#group.partitionsOf(this);
    let delivered = false;
    // Rotating the first partition keeps a busy one from starving the others.
    const first = this.#turn++ % Math.max(owned.length, 1);
    for (const p of [...owned.slice(first), ...owned.slice(0, first)]) {
      if (this.#closed) break;
      const failure = this.#failures.get(p);
      if (failure && failure.retryAt > Date.now()) continue;
      const from = this.#group.claim(this, p);
      if (from === undefined) continue;
      let entries: LogEntry[];
      try {
        entries = await this.#group.topic.partitions[p]!.read(
          from,
          this.#group.tuning.maxBatchSize,
        );
      } catch (error) {
        this.#group.release(this, p);
        throw error;
      }
      if (entries.length === 0 || this.#closed) {
        this.#group.release(this, p);
        continue;
      }
      delivered = true;
      await this.#deliver(p, entries);
    }
    return delivered;
  }

  async #deliver(p: number, entries: LogEntry[]): Promise<void> {
    const topic = this.#group.topic.name;
    const messages: DeliveredMessage[] = entries.map((entry) => ({
      topic,
      key: entry.key,
      value: entry.value,
      partition: p,
      offset: String(entry.offset),
      ...(entry.headers ? { headers: { ...entry.headers } } : {}),
    }));
    const handled = Promise.resolve()
      .then(() => this.#handler(messages))
      .then(
        () => 'handled' as const,
        () => 'rejected' as const,
      );
    const outcome = await Promise.race([handled, this.#closedSignal]);
    if (outcome === 'handled') {
      this.#failures.delete(p);
      // A commit that fails to save shows as a redelivery after a restart, which
      // at-least-once allows; the in-process offset has moved on either way.
      await this.#group.release(this, p, entries.at(-1)!.offset + 1).catch(() => {});
      return;
    }
    this.#group.release(this, p);
    if (outcome === 'rejected') {
      const count = (this.#failures.get(p)?.count ?? 0) + 1;
      const { retryInitialMs, retryMaxMs } = this.#group.tuning;
      const delay = Math.min(retryInitialMs * 2 ** (count - 1), retryMaxMs);
      this.#failures.set(p, { count, retryAt: Date.now() + delay });
    }
  }

  /** Waits for a wake-up, the next retry, or the idle period, whichever comes first. */
  async #sleep(): Promise<void> {
    if (this.#woken) return;
    const now = Date.now();
    let ms = IDLE_MS;
    for (const { retryAt } of this.#failures.values()) ms = Math.min(ms, retryAt - now);
    if (ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        this.#sleeper = resolve;
        timer = setTimeout(resolve, ms);
      }),
      this.#closedSignal,
    ]);
    clearTimeout(timer);
    this.#sleeper = undefined;
  }
}
