import { randomUUID } from 'node:crypto';
import type { DeliveredMessage, FeatureStoreError } from '@featurestore/core/driver';
import type { Admin, Consumer, RetryOptions } from 'kafkajs';
import type { KafkaLike } from './kafka-message-queue.js';
import { toDelivered } from './kafka-subscription.js';

export interface TopicReadOptions {
  kafka: KafkaLike;
  admin: Admin;
  topic: string;
  after?: ReadonlyMap<number, string>;
  limit: number;
  retry: RetryOptions;
  /** How long joining the throwaway group and fetching may take. */
  timeoutMs: number;
  convert: (error: unknown, action: string) => FeatureStoreError;
}

/**
 * `MessageQueue.read` on Kafka: the high watermarks fix where the topic ends now, then a
 * consumer of a throwaway group (kafkajs has no consumer without one) fetches each partition
 * from its start to that end, committing nothing; the group is deleted afterwards, so no
 * empty group is left behind on the cluster.
 */
export async function readKafkaTopic(options: TopicReadOptions): Promise<DeliveredMessage[]> {
  const { admin, topic, convert } = options;
  let ends: { partition: number; from: bigint; end: bigint }[];
  try {
    if (!(await admin.listTopics()).includes(topic)) return [];
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = offsets.map(({ partition, low, high }) => {
      const after = options.after?.get(partition);
      const from = after === undefined ? BigInt(low) : BigInt(after) + 1n;
      return { partition, from: from > BigInt(low) ? from : BigInt(low), end: BigInt(high) };
    });
  } catch (error) {
    throw convert(error, `reading the end offsets of ${topic}`);
  }
  const pending = new Map(
    ends.filter(({ from, end }) => from < end).map((range) => [range.partition, range]),
  );
  if (pending.size === 0) return [];
  const groupId = `featurestore.read.${randomUUID()}`;
  const consumer: Consumer = options.kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 3000,
    maxWaitTimeInMs: 200,
    retry: options.retry,
  });
  const messages: DeliveredMessage[] = [];
  let finished!: () => void;
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const range = pending.get(batch.partition);
        if (!range) return;
        for (const message of batch.messages) {
          const offset = BigInt(message.offset);
          if (offset >= range.from && offset < range.end) {
            messages.push(toDelivered(topic, batch.partition, message));
          }
        }
        const last = batch.lastOffset();
        if (last !== null && BigInt(last) >= range.end - 1n) {
          pending.delete(batch.partition);
          if (pending.size === 0) finished();
        }
      },
    });
    for (const { partition, from } of pending.values()) {
      consumer.seek({ topic, partition, offset: from.toString() });
    }
    await Promise.race([
      done,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              Object.assign(
                new Error(`${topic} was not read to its end within ${options.timeoutMs} ms`),
                {
                  name: 'KafkaJSTimeout',
                },
              ),
            ),
          options.timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    throw convert(error, `reading ${topic}`);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => {});
    await admin.deleteGroups([groupId]).catch(() => {});
  }
  messages.sort(
    (a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1),
  );
  return messages.slice(0, options.limit);
}
