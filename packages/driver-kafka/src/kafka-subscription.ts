import type {
  DeliveredMessage,
  FeatureStoreError,
  SubscribeOptions,
  Subscription,
} from '@featurestore/core/driver';
import type { Admin, Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';

/** Longest wait between redeliveries of a batch whose handler keeps failing. */
const MAX_RETRY_MS = 30_000;

export interface KafkaSubscriptionOptions {
  consumer: Consumer;
  topic: string;
  group: string;
  handler: SubscribeOptions['handler'];
  fromBeginning: boolean;
  heartbeatInterval: number;
  joinTimeout: number;
  retryAfterMs: number;
  admin: () => Promise<Admin>;
  convert: (error: unknown, action: string) => FeatureStoreError;
  log: (message: string, details: Record<string, unknown>) => void;
  onClose: () => void;
}

/**
 * One consumer of a group, consuming batch by batch with auto-commit off. A batch is committed
 * only after the handler resolves; a rejection seeks back to the batch's first offset after a
 * backoff, so the same batch comes again; `close()` during a batch abandons it uncommitted, as
 * a crash would, and leaves the group so its partitions move on at once.
 */
export class KafkaSubscription implements Subscription {
  readonly #o: KafkaSubscriptionOptions;
  readonly #closedSignal: Promise<'closed'>;
  #signalClosed!: () => void;
  #closing = false;
  #closed: Promise<void> | undefined;
  /** Consecutive rejections per partition, for the backoff. */
  readonly #failures = new Map<number, number>();
  /** The start-position fix of the latest group join; batches wait for it. */
  #pinning: Promise<void> = Promise.resolve();

  constructor(options: KafkaSubscriptionOptions) {
    this.#o = options;
    this.#closedSignal = new Promise((resolve) => {
      this.#signalClosed = () => resolve('closed');
    });
  }

  /**
   * Connects, joins the group and fixes its start position; resolves once the consumer is a
   * member of the group, so every message published afterwards reaches the group.
   */
  async start(): Promise<void> {
    const { consumer, topic, group } = this.#o;
    let running!: () => void;
    const started = new Promise<void>((resolve) => {
      running = resolve;
    });
    let joined!: () => void;
    let failed!: (error: unknown) => void;
    const firstJoin = new Promise<void>((resolve, reject) => {
      joined = resolve;
      failed = reject;
    });
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      const partitions = event.payload.memberAssignment[topic] ?? [];
      this.#pinning = started
        .then(() => this.#pinStart(partitions))
        .catch((error: unknown) => {
          // The next consumer to join pins the start instead; deliveries go on meanwhile.
          this.#o.log(`could not fix the start offsets of group ${group} on ${topic}`, {
            error: (error as Error).message,
          });
        });
      void this.#pinning.then(joined);
    });
    consumer.on(consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload;
      this.#o.log(`the consumer of group ${group} on ${topic} crashed`, {
        error: error.message,
        restart,
      });
      if (!restart) failed(this.#o.convert(error, `consuming ${topic} in group ${group}`));
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: this.#o.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => this.#eachBatch(payload),
      });
    } catch (error) {
      throw this.#o.convert(error, `joining group ${group} on ${topic}`);
    }
    running();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        firstJoin,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                this.#o.convert(
                  Object.assign(new Error(`no group join within ${this.#o.joinTimeout} ms`), {
                    name: 'KafkaJSTimeout',
                  }),
                  `joining group ${group} on ${topic}`,
                ),
              ),
            this.#o.joinTimeout,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Leaves the group; a batch in flight is abandoned uncommitted. Safe to call twice. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true;
      this.#signalClosed();
      try {
        await this.#o.consumer.disconnect();
      } catch (error) {
        this.#o.log(`leaving group ${this.#o.group} failed`, { error: (error as Error).message });
      }
      this.#o.onClose();
    })();
    return this.#closed;
  }

  /**
   * kafkajs resolves "latest" for a group without committed offsets at its first fetch, and
   * again at every rebalance or restart until something is committed: a message published in
   * between would be skipped. Committing the current end of each such partition right after
   * the join fixes the start once, so `subscribe()` resolving is a promise for what follows.
   */
  async #pinStart(partitions: number[]): Promise<void> {
    const { consumer, topic, group } = this.#o;
    if (this.#o.fromBeginning || partitions.length === 0 || this.#closing) return;
    const admin = await this.#o.admin();
    const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const missing = (committed.find((entry) => entry.topic === topic)?.partitions ?? []).filter(
      (entry) => partitions.includes(entry.partition) && Number(entry.offset) < 0,
    );
    if (missing.length === 0) return;
    const ends = await admin.fetchTopicOffsets(topic);
    await consumer.commitOffsets(
      missing.map(({ partition }) => ({
        topic,
        partition,
        offset: ends.find((end) => end.partition === partition)?.high ?? '0',
      })),
    );
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } =
      payload;
    if (this.#closing || !isRunning() || isStale() || batch.messages.length === 0) return;
    await this.#pinning;
    const { topic, partition } = batch;
    const messages = batch.messages.map((message) => toDelivered(topic, partition, message));
    // A long handler must not look like a dead consumer to the group coordinator.
    const ticker = setInterval(() => {
      heartbeat().catch(() => {});
    }, this.#o.heartbeatInterval);
    try {
      const handled = Promise.resolve()
        .then(() => this.#o.handler(messages))
        .then(
          () => 'handled' as const,
          () => 'rejected' as const,
        );
      const outcome = await Promise.race([handled, this.#closedSignal]);
      if (outcome === 'closed') return;
      if (outcome === 'rejected') {
        const failures = (this.#failures.get(partition) ?? 0) + 1;
        this.#failures.set(partition, failures);
        const delay = Math.min(this.#o.retryAfterMs * 2 ** (failures - 1), MAX_RETRY_MS);
        await Promise.race([
          new Promise((resolve) => setTimeout(resolve, delay)),
          this.#closedSignal,
        ]);
        const first = batch.firstOffset();
        if (!this.#closing && isRunning() && first !== null) {
          this.#o.consumer.seek({ topic, partition, offset: first });
        }
        return;
      }
      this.#failures.delete(partition);
      const last = batch.lastOffset();
      resolveOffset(last);
      await commitOffsetsIfNecessary({
        topics: [{ topic, partitions: [{ partition, offset: (BigInt(last) + 1n).toString() }] }],
      });
    } finally {
      clearInterval(ticker);
    }
  }
}

/** A kafkajs message as the port delivers it. */
export function toDelivered(
  topic: string,
  partition: number,
  message: KafkaMessage,
): DeliveredMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value === undefined) continue;
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (last !== undefined) headers[name] = last.toString();
  }
  return {
    topic,
    key: message.key?.toString('utf8') ?? '',
    partition,
    offset: message.offset,
    // A copy: kafkajs hands out slices of the whole fetch response.
    value: message.value ? Uint8Array.from(message.value) : new Uint8Array(0),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  };
}
