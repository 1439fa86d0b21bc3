import type {
  DeliveredMessage,
  MessageQueue,
  QueueMessage,
  ReadOptions,
  SubscribeOptions,
  Subscription,
} from '../ports/message-queue.js';
import { validateQueueName } from './queue-names.js';

/**
 * Gives one store's topics and consumer groups names of their own (`<namespace>.<name>`), so
 * several stores can share a Kafka cluster: without it, one store's sync worker would consume
 * and commit another store's rows. Delivered messages carry the names the store uses.
 */
export class NamespacedQueue implements MessageQueue {
  readonly driver: string;
  readonly #inner: MessageQueue;
  readonly #prefix: string;

  constructor(inner: MessageQueue, namespace: string) {
    this.#inner = inner;
    this.#prefix = `${validateQueueName('topic', namespace)}.`;
    this.driver = inner.driver;
  }

  publish(messages: readonly QueueMessage[]): ReturnType<MessageQueue['publish']> {
    return this.#inner.publish(
      messages.map((message) => ({ ...message, topic: this.#prefix + message.topic })),
    );
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return this.#inner.subscribe({
      ...options,
      topic: this.#prefix + options.topic,
      group: this.#prefix + options.group,
      handler: (messages) =>
        options.handler(messages.map((message) => ({ ...message, topic: options.topic }))),
    });
  }

  async read(topic: string, options?: ReadOptions): Promise<DeliveredMessage[]> {
    const messages = await this.#inner.read(this.#prefix + topic, options);
    return messages.map((message) => ({ ...message, topic }));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
