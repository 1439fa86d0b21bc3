/** A message as published and delivered. */
export interface QueueMessage {
  topic: string;
  /** Messages with one key are delivered in publish order. */
  key: string;
  value: Uint8Array;
  headers?: Record<string, string>;
}

/** Where a message sits in its topic: a partition, and its offset there. */
export interface MessagePosition {
  partition: number;
  /**
   * Decimal integer text (Kafka offsets are 64-bit), increasing within the partition: compare
   * them as `BigInt`s. A redelivered message has the same position.
   */
  offset: string;
}

/** A message as a handler receives it: with its position, stable across redeliveries. */
export interface DeliveredMessage extends QueueMessage, MessagePosition {}

export interface Subscription {
  /** Stops consuming; uncommitted messages will be redelivered to the group. */
  close(): Promise<void>;
}

export interface SubscribeOptions {
  topic: string;
  /** Consumers in one group share the topic's messages; each message goes to one of them. */
  group: string;
  /**
   * Handles a batch (messages of one partition, in offset order); the batch is committed only
   * after the promise resolves, so a crash or a rejection means redelivery (at-least-once).
   * Positions let a handler that stores its results elsewhere skip what it already stored
   * (exactly-once effects): see `OfflineSyncWorker`.
   */
  handler: (messages: DeliveredMessage[]) => Promise<void>;
  /** Start from the earliest retained message when the group has no committed offset. */
  fromBeginning?: boolean;
}

export interface ReadOptions {
  /**
   * Per partition, the offset to read after (exclusive); partitions not named are read from
   * their earliest retained message.
   */
  after?: ReadonlyMap<number, string>;
  /** The most messages returned (default 10,000): the first ones in partition, offset order. */
  limit?: number;
}

/**
 * Keyed messages between the services: online ingestion, job events. Every driver runs
 * `messageQueueConformance` from `@featurestore/core/testing`.
 */
export interface MessageQueue {
  readonly driver: string;
  /**
   * Resolves once the messages are durably accepted by the queue, with the position of each
   * message in the order given: the partition and offset it is delivered with. A caller can
   * wait for a consumer group to get past them (`OnlineEngine.waitSynced`).
   *
   * @example
   * const [position] = await queue.publish([{ topic: 'featurestore.jobs', key: id, value }]);
   */
  publish(messages: readonly QueueMessage[]): Promise<readonly MessagePosition[]>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /**
   * The messages of `topic` up to its end as it is when called, in partition and offset
   * order, without a consumer group and without committing anything: a look at a topic for
   * tools (the dead-letter commands), not a way to consume. A topic that does not exist yet
   * has no messages.
   *
   * @example
   * const letters = await queue.read('featurestore.online.ingest.dead', { limit: 100 });
   */
  read(topic: string, options?: ReadOptions): Promise<DeliveredMessage[]>;
  close(): Promise<void>;
}
