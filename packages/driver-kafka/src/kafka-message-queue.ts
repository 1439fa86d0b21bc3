import {
  type DeliveredMessage,
  loadModule,
  type MessagePosition,
  type MessageQueue,
  type QueueMessage,
  type ReadOptions,
  type SubscribeOptions,
  type Subscription,
  UnavailableError,
  ValidationError,
  validateQueueMessage,
  validateQueueName,
} from '@featurestore/core/driver';
import type {
  Admin,
  Consumer,
  Kafka,
  KafkaConfig,
  LogEntry,
  Message,
  Producer,
  RecordMetadata,
  RetryOptions,
  TopicMessages,
} from 'kafkajs';
import { convertKafkaError } from './errors.js';
import { KafkaSubscription } from './kafka-subscription.js';
import { parseKafkaUrl } from './kafka-url.js';
import { PartitionTracker } from './publish-positions.js';
import { readKafkaTopic } from './topic-reader.js';

type KafkaJs = typeof import('kafkajs');

/** The part of a kafkajs `Kafka` instance the queue uses: a `Kafka` fits as it is. */
export type KafkaLike = Pick<Kafka, 'producer' | 'consumer' | 'admin'>;

/** One line of kafkajs' log, as handed to `log`. */
export interface KafkaLogRecord {
  level: 'error' | 'warn' | 'info' | 'debug';
  /** The kafkajs component: `Consumer`, `Producer`, `Connection`… */
  namespace: string;
  message: string;
  details: Record<string, unknown>;
}

/** Consumer settings; the defaults suit production, tests lower them for quick rebalances. */
export interface KafkaConsumerTuning {
  /**
   * A consumer silent this long is dropped from its group and its partitions reassigned
   * (default 10 000 ms; the broker's `group.min.session.timeout.ms`, 6 s by default, bounds it).
   * Heartbeats go on while a handler runs, so a long batch does not count as silence; a killed
   * process's partitions wait this long, well within a push's default 30 s wait.
   */
  sessionTimeout?: number;
  /** How long a rebalance waits for members to rejoin (default 60 000 ms). */
  rebalanceTimeout?: number;
  /** Heartbeat period, also while a handler runs (default 3000 ms; under a third of the session). */
  heartbeatInterval?: number;
  /** Longest a fetch waits for new messages; also bounds how long `close()` takes (1000 ms). */
  maxWaitTimeInMs?: number;
  /** Bytes fetched per partition and request, which bounds a batch (default 1 MiB). */
  maxBytesPerPartition?: number;
}

export interface KafkaMessageQueueOptions {
  /** `host:port` of one or more brokers; or pass `kafka`. */
  brokers?: readonly string[];
  /** Your own kafkajs instance (its connection settings are yours; `brokers` is then unused). */
  kafka?: KafkaLike;
  /** Identifies the client in broker logs and quotas (default `featurestore`). */
  clientId?: string;
  /** Partitions of the topics the queue creates (default 6). Existing topics are left alone. */
  partitions?: number;
  /** Replicas of the topics the queue creates (default: the broker's `default.replication.factor`). */
  replicationFactor?: number;
  /** Topic-level configuration of created topics, e.g. `{ 'retention.ms': '604800000' }`. */
  topicConfig?: Readonly<Record<string, string>>;
  ssl?: KafkaConfig['ssl'];
  sasl?: KafkaConfig['sasl'];
  /** Time to open a connection to a broker (default 3000 ms). */
  connectionTimeout?: number;
  /** Time for a broker to answer a request (default 30 000 ms). */
  requestTimeout?: number;
  /**
   * Retries of failed requests and connections: kafkajs' exponential backoff (default 5
   * retries from 200 ms up to 5 s, so an unreachable cluster fails in about 6 s).
   */
  retry?: Pick<RetryOptions, 'retries' | 'initialRetryTime' | 'maxRetryTime'>;
  consumer?: KafkaConsumerTuning;
  /** How long `subscribe` waits to join its group (default 60 s). */
  joinTimeout?: number;
  /** First wait before a rejected batch is delivered again, doubling up to 30 s (200 ms). */
  retryHandlerAfterMs?: number;
  /** Largest request `publish` sends at once; bigger publishes go in several (512 KiB). */
  maxBatchBytes?: number;
  /** Receives kafkajs' log from `logLevel` up (default: no log at all). */
  log?: (record: KafkaLogRecord) => void;
  /** The least severe level passed to `log` (default `warn`). */
  logLevel?: KafkaLogRecord['level'];
}

/** Options of `KafkaMessageQueue.fromUrl`: everything but the brokers and security. */
export type KafkaUrlOptions = Omit<KafkaMessageQueueOptions, 'brokers' | 'kafka'>;

/**
 * Default session timeout of the queue's consumers: kafkajs' 30 s equals a push's default
 * wait, so rows pushed while a worker was killed waited out the whole push; 10 s (with a
 * heartbeat every 3 s) hands its partitions over in a third of that.
 */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;

const LEVELS = { error: 1, warn: 2, info: 4, debug: 5 } as const;
const LEVEL_NAMES: Record<number, KafkaLogRecord['level']> = {
  1: 'error',
  2: 'warn',
  4: 'info',
  5: 'debug',
};

/**
 * `MessageQueue` on Apache Kafka with kafkajs (loaded on first use). Topics are created on
 * first use with the configured partitions and replication (an existing topic is used as it
 * is). Publishing goes through one idempotent producer (`acks=all`, one request in flight,
 * Java-compatible key partitioning), so a retried send never duplicates or reorders a key's
 * messages; `publish` resolves once every message is acknowledged by the in-sync replicas,
 * with the partition and offset of each.
 * Each subscription is its own kafkajs consumer in the group, consuming batch by batch with
 * auto-commit off: offsets are committed only after the handler resolves; a rejection seeks
 * back and redelivers the batch after a backoff; closing mid-batch abandons it uncommitted.
 *
 * @example
 * const queue = KafkaMessageQueue.fromUrl('kafka://kafka-1:9092,kafka-2:9092', {
 *   clientId: 'featurestore-online',
 *   partitions: 12,
 * });
 * await queue.subscribe({ topic: 'featurestore.online.ingest', group: 'online', handler });
 * const [{ partition, offset }] = await queue.publish([
 *   { topic: 'featurestore.online.ingest', key: 'fs1/42', value: bytes },
 * ]);
 *
 * @example
 * // Your own kafkajs instance
 * const queue = new KafkaMessageQueue({ kafka: new Kafka({ brokers, ssl: true, sasl }) });
 */
export class KafkaMessageQueue implements MessageQueue {
  readonly driver = 'kafka';
  readonly #options: KafkaMessageQueueOptions;
  readonly #brokers: readonly string[];
  #kafka: Promise<{ kafka: KafkaLike; sdk: KafkaJs }> | undefined;
  #producer: Promise<Producer> | undefined;
  #admin: Promise<Admin> | undefined;
  readonly #topics = new Map<string, Promise<void>>();
  readonly #subscriptions = new Set<KafkaSubscription>();
  readonly #partitions = new PartitionTracker();
  #closed = false;

  constructor(options: KafkaMessageQueueOptions) {
    if (!options.kafka && !options.brokers?.length) {
      throw new ValidationError(
        'KafkaMessageQueue needs brokers (host:port…) or a kafka instance',
        {
          details: { field: 'brokers' },
        },
      );
    }
    const partitions = options.partitions ?? 6;
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new ValidationError(`partitions must be a positive integer, got ${partitions}`, {
        details: { field: 'partitions', value: partitions },
      });
    }
    this.#options = options;
    this.#brokers = options.brokers ?? [];
  }

  /**
   * A queue on the brokers of a `kafka://host1:9092,host2:9092` URL (`kafkas://` for TLS,
   * `user:password@` for SASL PLAIN, `?mechanism=scram-sha-512` for SCRAM).
   *
   * @example
   * KafkaMessageQueue.fromUrl('kafkas://app:secret@broker:9093?mechanism=scram-sha-512');
   */
  static fromUrl(url: string, options: KafkaUrlOptions = {}): KafkaMessageQueue {
    const location = parseKafkaUrl(url);
    return new KafkaMessageQueue({
      ...options,
      brokers: location.brokers,
      ...(location.ssl && options.ssl === undefined ? { ssl: true } : {}),
      ...(location.sasl && options.sasl === undefined
        ? { sasl: location.sasl as NonNullable<KafkaConfig['sasl']> }
        : {}),
    });
  }

  /** The brokers the queue was given (empty for an injected kafkajs instance). */
  get brokers(): readonly string[] {
    return this.#brokers;
  }

  /**
   * Resolves once every message is acknowledged by the in-sync replicas, with the partition
   * and offset of each message in the order given: the partitions kafkajs' partitioner chose
   * and the offsets from the produce answers (`PartitionTracker`).
   */
  async publish(messages: readonly QueueMessage[]): Promise<MessagePosition[]> {
    this.#assertOpen();
    messages.forEach(validateQueueMessage);
    if (messages.length === 0) return [];
    const topics = [...new Set(messages.map((message) => message.topic))];
    await Promise.all(topics.map((topic) => this.#ensureTopic(topic)));
    const producer = await this.#producerReady();
    this.#assertOpen();
    const positions: MessagePosition[] = new Array(messages.length);
    for (const { topicMessages, indices } of chunks(
      messages,
      this.#options.maxBatchBytes ?? 512 * 1024,
    )) {
      let answer: RecordMetadata[];
      try {
        answer = await producer.sendBatch({ topicMessages, acks: -1 });
      } catch (error) {
        throw this.#convert(error, `publishing to ${topics.join(', ')}`);
      }
      this.#partitions.positions(topicMessages, answer).forEach((position, i) => {
        positions[indices[i]!] = position;
      });
    }
    return positions;
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.#assertOpen();
    const topic = validateQueueName('topic', options.topic);
    if (typeof options.group !== 'string' || options.group === '') {
      throw new ValidationError('group must be a non-empty string', {
        details: { field: 'group', value: options.group },
      });
    }
    if (typeof options.handler !== 'function') {
      throw new ValidationError('subscribe needs a handler function', {
        details: { field: 'handler' },
      });
    }
    await this.#ensureTopic(topic);
    const { kafka } = await this.#client();
    this.#assertOpen();
    const tuning = this.#options.consumer ?? {};
    const heartbeatInterval = tuning.heartbeatInterval ?? 3000;
    const consumer: Consumer = kafka.consumer({
      groupId: options.group,
      sessionTimeout: tuning.sessionTimeout ?? DEFAULT_SESSION_TIMEOUT_MS,
      rebalanceTimeout: tuning.rebalanceTimeout ?? 60_000,
      heartbeatInterval,
      maxWaitTimeInMs: tuning.maxWaitTimeInMs ?? 1000,
      maxBytesPerPartition: tuning.maxBytesPerPartition ?? 1024 * 1024,
      allowAutoTopicCreation: false,
      retry: this.#retry(),
    });
    const subscription = new KafkaSubscription({
      consumer,
      topic,
      group: options.group,
      handler: options.handler,
      fromBeginning: options.fromBeginning ?? false,
      heartbeatInterval,
      joinTimeout: this.#options.joinTimeout ?? 60_000,
      retryAfterMs: this.#options.retryHandlerAfterMs ?? 200,
      admin: () => this.#adminReady(),
      convert: (error, action) => this.#convert(error, action),
      log: (message, details) => this.#log('error', 'Subscription', message, details),
      onClose: () => this.#subscriptions.delete(subscription),
    });
    this.#subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      await subscription.close();
      throw error;
    }
    return subscription;
  }

  /** See `MessageQueue.read` and `readKafkaTopic`: a look at a topic, committing nothing. */
  async read(topic: string, options: ReadOptions = {}): Promise<DeliveredMessage[]> {
    this.#assertOpen();
    const name = validateQueueName('topic', topic);
    const limit = options.limit ?? 10_000;
    if (!Number.isInteger(limit) || limit <= 0) {
      throw new ValidationError(`limit must be a positive integer, got ${limit}`, {
        details: { field: 'limit', value: limit },
      });
    }
    const { kafka } = await this.#client();
    return readKafkaTopic({
      kafka,
      admin: await this.#adminReady(),
      topic: name,
      ...(options.after ? { after: options.after } : {}),
      limit,
      retry: this.#retry(),
      timeoutMs: this.#options.joinTimeout ?? 60_000,
      convert: (error, action) => this.#convert(error, action),
    });
  }

  /** Closes every subscription (abandoning batches in flight), the producer and the admin. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
    const [producer, admin] = await Promise.allSettled([this.#producer, this.#admin]);
    if (producer.status === 'fulfilled') await producer.value?.disconnect().catch(() => {});
    if (admin.status === 'fulfilled') await admin.value?.disconnect().catch(() => {});
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new UnavailableError(
        `the Kafka message queue on ${this.#target()} is closed: create a new KafkaMessageQueue`,
        { retryable: false },
      );
    }
  }

  #target(): string {
    return this.#brokers.length > 0 ? this.#brokers.join(',') : 'the injected Kafka client';
  }

  #convert(error: unknown, action: string) {
    return convertKafkaError(error, { brokers: this.#brokers, action });
  }

  #retry(): RetryOptions {
    const retry = this.#options.retry ?? {};
    return {
      retries: retry.retries ?? 5,
      initialRetryTime: retry.initialRetryTime ?? 200,
      maxRetryTime: retry.maxRetryTime ?? 5000,
    };
  }

  #client(): Promise<{ kafka: KafkaLike; sdk: KafkaJs }> {
    this.#kafka ??= (async () => {
      const module = await loadModule('kafka message queue', 'kafkajs', () => import('kafkajs'));
      // kafkajs is CommonJS: Node exposes it as the default export.
      const sdk = ((module as { default?: KafkaJs }).default ?? module) as KafkaJs;
      if (this.#options.kafka) return { kafka: this.#options.kafka, sdk };
      const options = this.#options;
      const kafka = new sdk.Kafka({
        clientId: options.clientId ?? 'featurestore',
        brokers: [...this.#brokers],
        connectionTimeout: options.connectionTimeout ?? 3000,
        requestTimeout: options.requestTimeout ?? 30_000,
        retry: this.#retry(),
        logLevel: options.log ? LEVELS[options.logLevel ?? 'warn'] : sdk.logLevel.NOTHING,
        logCreator: () => (entry: LogEntry) => {
          const { message, timestamp: _timestamp, logger: _logger, ...details } = entry.log;
          this.#log(LEVEL_NAMES[entry.level] ?? 'info', entry.namespace, message, details);
        },
        ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
        ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
      });
      return { kafka, sdk };
    })();
    return this.#kafka;
  }

  #log(
    level: KafkaLogRecord['level'],
    namespace: string,
    message: string,
    details: Record<string, unknown>,
  ): void {
    const log = this.#options.log;
    if (!log || LEVELS[level] > LEVELS[this.#options.logLevel ?? 'warn']) return;
    try {
      log({ level, namespace, message, details });
    } catch {
      // A failing logger must not break the queue.
    }
  }

  #producerReady(): Promise<Producer> {
    if (!this.#producer) {
      const producer = this.#connect('connecting the producer', async ({ kafka, sdk }) => {
        const created = kafka.producer({
          idempotent: true,
          // kafkajs requires a single request in flight for idempotence; it also keeps order:
          // requests to a broker go one after the other, so a publish's chunks land in order,
          // and a retried request keeps its sequence numbers, so the broker neither reorders
          // nor duplicates it (it answers a duplicate with the original offsets), which is
          // what lets `publish` give each message the offset it was delivered with.
          maxInFlightRequests: 1,
          allowAutoTopicCreation: false,
          createPartitioner: this.#partitions.wrap(sdk.Partitioners.DefaultPartitioner),
          retry: this.#retry(),
        });
        await created.connect();
        return created;
      });
      this.#producer = producer;
      // A failed connection is not kept: the next call tries again.
      producer.catch(() => {
        if (this.#producer === producer) this.#producer = undefined;
      });
    }
    return this.#producer;
  }

  #adminReady(): Promise<Admin> {
    if (!this.#admin) {
      const admin = this.#connect('connecting the admin client', async ({ kafka }) => {
        const created = kafka.admin({ retry: this.#retry() });
        await created.connect();
        return created;
      });
      this.#admin = admin;
      admin.catch(() => {
        if (this.#admin === admin) this.#admin = undefined;
      });
    }
    return this.#admin;
  }

  async #connect<T>(
    action: string,
    connect: (client: { kafka: KafkaLike; sdk: KafkaJs }) => Promise<T>,
  ): Promise<T> {
    const client = await this.#client();
    try {
      return await connect(client);
    } catch (error) {
      throw this.#convert(error, action);
    }
  }

  /** Creates the topic once per queue; an existing topic (any partition count) is fine. */
  #ensureTopic(topic: string): Promise<void> {
    let ready = this.#topics.get(topic);
    if (!ready) {
      ready = (async () => {
        const admin = await this.#adminReady();
        try {
          await admin.createTopics({
            topics: [
              {
                topic,
                numPartitions: this.#options.partitions ?? 6,
                replicationFactor: this.#options.replicationFactor ?? -1,
                configEntries: Object.entries(this.#options.topicConfig ?? {}).map(
                  ([name, value]) => ({ name, value }),
                ),
              },
            ],
            waitForLeaders: true,
          });
        } catch (error) {
          const errors = (error as { errors?: { type?: string }[] }).errors;
          if (errors?.every((entry) => entry.type === 'TOPIC_ALREADY_EXISTS')) return;
          throw this.#convert(error, `creating topic ${topic}`);
        }
      })();
      this.#topics.set(topic, ready);
      ready.catch(() => this.#topics.delete(topic));
    }
    return ready;
  }
}

/** One `sendBatch` of a publish: its messages by topic, and where each came in the publish. */
interface Chunk {
  topicMessages: TopicMessages[];
  /** Index in the publish of each message of `topicMessages`, flattened in order. */
  indices: number[];
}

/**
 * Splits a publish into requests of at most `maxBytes` (roughly: keys, values and headers),
 * each grouped by topic. Order within a topic is kept, and with one request in flight the
 * requests land in order too.
 */
function* chunks(messages: readonly QueueMessage[], maxBytes: number): Generator<Chunk> {
  let batch = new Map<string, { message: Message; index: number }[]>();
  let bytes = 0;
  for (const [index, message] of messages.entries()) {
    const size =
      message.key.length * 3 +
      message.value.byteLength +
      Object.entries(message.headers ?? {}).reduce(
        (sum, [name, value]) => sum + (name.length + value.length) * 3,
        0,
      ) +
      64;
    if (bytes > 0 && bytes + size > maxBytes) {
      yield toChunk(batch);
      batch = new Map();
      bytes = 0;
    }
    const list = batch.get(message.topic) ?? [];
    // A new object per message: `PartitionTracker` knows messages by identity.
    list.push({
      message: {
        key: message.key,
        value: Buffer.from(
          message.value.buffer,
          message.value.byteOffset,
          message.value.byteLength,
        ),
        ...(message.headers ? { headers: { ...message.headers } } : {}),
      },
      index,
    });
    batch.set(message.topic, list);
    bytes += size;
  }
  if (bytes > 0) yield toChunk(batch);
}

function toChunk(batch: Map<string, { message: Message; index: number }[]>): Chunk {
  const entries = [...batch];
  return {
    topicMessages: entries.map(([topic, list]) => ({
      topic,
      messages: list.map((entry) => entry.message),
    })),
    indices: entries.flatMap(([, list]) => list.map((entry) => entry.index)),
  };
}
