import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UnavailableError, ValidationError } from '../errors.js';
import type {
  DeliveredMessage,
  MessagePosition,
  MessageQueue,
  QueueMessage,
  ReadOptions,
  SubscribeOptions,
  Subscription,
} from '../ports/message-queue.js';
import {
  ConsumerGroup,
  type ConsumerTuning,
  type GroupMember,
  type LocalTopic,
  type OffsetStore,
} from './consumer-group.js';
import { makeFolder, writeFileAtomic } from './durable-files.js';
import { FilePartitionLog } from './file-partition-log.js';
import { MemoryPartitionLog, type NewLogEntry, type PartitionLog } from './partition-log.js';
import { partitionOf, validateQueueMessage, validateQueueName } from './queue-names.js';

export interface LocalLogQueueOptions {
  /**
   * The folder holding the log and the groups' offsets, created when missing. Without it the
   * queue lives in memory and forgets everything on close (for tests).
   */
  directory?: string;
  /**
   * Partitions of a new topic (default 4): the most consumers of one group that work at once.
   * Fixed when the topic is created; an existing topic keeps its count.
   */
  partitions?: number;
  /**
   * Flush every publish and commit to disk before it resolves (default true). Off, a power
   * loss can drop the last publishes; a process crash cannot.
   */
  fsync?: boolean;
  /** Size at which a log segment is closed and a new one started (default 16 MiB). */
  segmentBytes?: number;
  /** Closed segments older than this are deleted, consumed or not (default 7 days). */
  retentionMs?: number;
  /**
   * The clock of publish times and of the retention (epoch milliseconds, default
   * `Date.now`): a test moves it instead of waiting for the retention to pass.
   */
  now?: () => number;
  /** Most messages in one handler call (default 500). */
  maxBatchSize?: number;
  /** First wait before a rejected batch comes again, doubling up to `retryMaxMs` (100 ms). */
  retryInitialMs?: number;
  /** Longest wait between redeliveries of a failing batch (default 5 s). */
  retryMaxMs?: number;
}

const DAY = 24 * 60 * 60 * 1000;

/**
 * The embedded `MessageQueue`: an append-only log per topic partition in a folder, consumer
 * groups inside this process. Publishes are on disk (flushed) when they resolve; a group's
 * committed offsets live in a small file replaced atomically, so after a crash or a restart
 * every message a group had not committed is delivered again.
 *
 * Layout of `directory`:
 * - `topics/<topic>/topic.json`: the partition count;
 * - `topics/<topic>/<partition>/<first offset>.jsonl`: log segments, one JSON line per
 *   message (`{"o":offset,"t":time,"k":key,"v":base64 value,"h":headers}`);
 * - `groups/<group>/<topic>.json`: the group's next offset per partition.
 *
 * A key always maps to the same partition (FNV-1a of its bytes), so its messages stay in
 * order. One process owns a folder: consumer groups are coordinated in memory, not across
 * processes (a Kafka queue is the multi-process choice).
 *
 * @example
 * const queue = new LocalLogQueue({ directory: './.featurestore/queue' });
 * await queue.subscribe({
 *   topic: 'featurestore.online.ingest',
 *   group: 'online-workers',
 *   handler: async (messages) => apply(messages),
 * });
 * await queue.publish([{ topic: 'featurestore.online.ingest', key: 'fs1/42', value: bytes }]);
 *
 * @example
 * // In memory, for tests
 * const queue = new LocalLogQueue();
 */
export class LocalLogQueue implements MessageQueue {
  readonly driver = 'local';
  readonly #directory: string | undefined;
  readonly #partitions: number;
  readonly #fsync: boolean;
  readonly #segmentBytes: number;
  readonly #retentionMs: number;
  readonly #now: () => number;
  readonly #tuning: ConsumerTuning;
  readonly #topics = new Map<string, Promise<LocalTopic>>();
  readonly #groups = new Map<string, Promise<ConsumerGroup>>();
  readonly #members = new Set<GroupMember>();
  #closed = false;

  constructor(options: LocalLogQueueOptions = {}) {
    this.#directory = options.directory;
    this.#partitions = positive('partitions', options.partitions ?? 4);
    this.#fsync = options.fsync ?? true;
    this.#segmentBytes = positive('segmentBytes', options.segmentBytes ?? 16 * 1024 * 1024);
    this.#retentionMs = positive('retentionMs', options.retentionMs ?? 7 * DAY);
    this.#now = options.now ?? Date.now;
    this.#tuning = {
      maxBatchSize: positive('maxBatchSize', options.maxBatchSize ?? 500),
      retryInitialMs: positive('retryInitialMs', options.retryInitialMs ?? 100),
      retryMaxMs: positive('retryMaxMs', options.retryMaxMs ?? 5000),
    };
  }

  /** The folder of the log, or undefined in memory. */
  get directory(): string | undefined {
    return this.#directory;
  }

  async publish(messages: readonly QueueMessage[]): Promise<MessagePosition[]> {
    this.#assertOpen();
    messages.forEach(validateQueueMessage);
    if (messages.length === 0) return [];
    const timestamp = this.#now();
    const topics = new Map<string, LocalTopic>();
    for (const name of new Set(messages.map((message) => message.topic))) {
      topics.set(name, await this.#topic(name));
    }
    this.#assertOpen();
    const batches = new Map<PartitionLog, NewLogEntry[]>();
    /** Per message: its partition, its log, and its index in that log's batch. */
    const placed: { partition: number; log: PartitionLog; index: number }[] = [];
    for (const message of messages) {
      const topic = topics.get(message.topic)!;
      const partition = partitionOf(message.key, topic.partitions.length);
      const log = topic.partitions[partition]!;
      const batch = batches.get(log) ?? [];
      placed.push({ partition, log, index: batch.length });
      batch.push({
        timestamp,
        key: message.key,
        value: message.value,
        ...(message.headers ? { headers: message.headers } : {}),
      });
      batches.set(log, batch);
    }
    const firsts = new Map<PartitionLog, number>();
    await Promise.all(
      [...batches].map(async ([log, entries]) => firsts.set(log, await log.append(entries))),
    );
    for (const topic of topics.values()) for (const listener of topic.listeners) listener();
    return placed.map(({ partition, log, index }) => ({
      partition,
      offset: String(firsts.get(log)! + index),
    }));
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.#assertOpen();
    const topicName = validateQueueName('topic', options.topic);
    const groupName = validateQueueName('group', options.group);
    if (typeof options.handler !== 'function') {
      throw new ValidationError('subscribe needs a handler function', {
        details: { field: 'handler' },
      });
    }
    const group = await this.#group(topicName, groupName, options.fromBeginning ?? false);
    this.#assertOpen();
    const member = group.join(options.handler);
    this.#members.add(member);
    return {
      close: async () => {
        this.#members.delete(member);
        await member.close();
      },
    };
  }

  /** See `MessageQueue.read`: straight from the partition logs, up to their ends now. */
  async read(topic: string, options: ReadOptions = {}): Promise<DeliveredMessage[]> {
    this.#assertOpen();
    const name = validateQueueName('topic', topic);
    const limit = readLimit(options.limit);
    const log = await this.#topic(name);
    const messages: DeliveredMessage[] = [];
    for (const [partition, entries] of log.partitions.entries()) {
      const after = options.after?.get(partition);
      let from = after === undefined ? entries.start : Number(after) + 1;
      const end = entries.end;
      while (from < end && messages.length < limit) {
        const read = await entries.read(from, Math.min(end - from, limit - messages.length));
        if (read.length === 0) break;
        for (const entry of read) {
          messages.push({
            topic: name,
            key: entry.key,
            value: entry.value,
            ...(entry.headers ? { headers: entry.headers } : {}),
            partition,
            offset: String(entry.offset),
          });
        }
        from = read.at(-1)!.offset + 1;
      }
    }
    return messages;
  }

  /** Stops every subscription (abandoning batches in flight) and closes the log files. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#members].map((member) => member.close()));
    this.#members.clear();
    const topics = await Promise.allSettled(this.#topics.values());
    for (const topic of topics) {
      if (topic.status === 'fulfilled') {
        await Promise.all(topic.value.partitions.map((log) => log.close()));
      }
    }
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new UnavailableError(
        `the local queue ${this.#directory ? `in ${this.#directory}` : '(in memory)'} is closed: create a new LocalLogQueue`,
        { retryable: false },
      );
    }
  }

  #topic(name: string): Promise<LocalTopic> {
    let topic = this.#topics.get(name);
    if (!topic) {
      topic = this.#openTopic(name);
      this.#topics.set(name, topic);
      // A failed open (a disk error) is retried by the next call instead of cached.
      topic.catch(() => this.#topics.delete(name));
    }
    return topic;
  }

  async #openTopic(name: string): Promise<LocalTopic> {
    if (this.#directory === undefined) {
      const partitions = Array.from({ length: this.#partitions }, () => new MemoryPartitionLog());
      return { name, partitions, listeners: new Set() };
    }
    const folder = join(this.#directory, 'topics', name);
    const descriptor = join(folder, 'topic.json');
    let count: number;
    try {
      count = (JSON.parse(await readFile(descriptor, 'utf8')) as { partitions: number }).partitions;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      count = this.#partitions;
      await makeFolder(folder, this.#fsync);
      await writeFileAtomic(descriptor, `${JSON.stringify({ partitions: count })}\n`, this.#fsync);
    }
    const options = {
      fsync: this.#fsync,
      segmentBytes: this.#segmentBytes,
      retentionMs: this.#retentionMs,
      now: this.#now,
    };
    const partitions = await Promise.all(
      Array.from({ length: count }, (_, p) =>
        FilePartitionLog.open(join(folder, String(p)), options),
      ),
    );
    return { name, partitions, listeners: new Set() };
  }

  #group(topicName: string, groupName: string, fromBeginning: boolean): Promise<ConsumerGroup> {
    const id = `${groupName}\n${topicName}`;
    let group = this.#groups.get(id);
    if (!group) {
      group = this.#topic(topicName).then((topic) =>
        ConsumerGroup.open(
          topic,
          this.#offsetStore(topicName, groupName),
          this.#tuning,
          fromBeginning,
        ),
      );
      this.#groups.set(id, group);
      group.catch(() => this.#groups.delete(id));
    }
    return group;
  }

  #offsetStore(topic: string, group: string): OffsetStore {
    if (this.#directory === undefined) {
      return { load: async () => undefined, save: async () => {} };
    }
    const folder = join(this.#directory, 'groups', group);
    const path = join(folder, `${topic}.json`);
    const fsync = this.#fsync;
    return {
      async load() {
        try {
          return (JSON.parse(await readFile(path, 'utf8')) as { offsets: number[] }).offsets;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw error;
        }
      },
      async save(offsets) {
        await makeFolder(folder, fsync);
        await writeFileAtomic(path, `${JSON.stringify({ offsets })}\n`, fsync);
      },
    };
  }
}

/** `ReadOptions.limit`, checked: a positive integer, 10,000 by default. */
function readLimit(limit: number | undefined): number {
  return positive('limit', limit ?? 10_000);
}

function positive(field: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new ValidationError(`${field} must be a positive integer, got ${value}`, {
      details: { field, value },
    });
  }
  return value;
}
