/** A message as published and delivered. */
export interface QueueMessage {
  topic: string;
  /** Messages with one key are delivered in publish order. */
  key: string;
  value: Uint8Array;
  headers?: Record<string, string>;
}

export interface Subscription {
  /** Stops consuming; uncommitted messages will be redelivered to the group. */
  close(): Promise<void>;
}

export interface SubscribeOptions {
  topic: string;
  /** Consumers in one group share the topic's messages; each message goes to one of them. */
  group: string;
  /**
   * Handles a batch; the batch is committed only after the promise resolves, so a crash or a
   * rejection means redelivery (at-least-once).
   */
  handler: (messages: QueueMessage[]) => Promise<void>;
  /** Start from the earliest retained message when the group has no committed offset. */
  fromBeginning?: boolean;
}

/**
 * Keyed messages between the services: online ingestion, job events. Every driver runs
 * `messageQueueConformance` from `@featurestore/core/testing`.
 */
export interface MessageQueue {
  readonly driver: string;
  /** Resolves once the messages are durably accepted by the queue. */
  publish(messages: readonly QueueMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  close(): Promise<void>;
}
