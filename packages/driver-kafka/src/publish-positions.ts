import { FeatureStoreError, type MessagePosition } from '@featurestore/core/driver';
import type { ICustomPartitioner, Message, RecordMetadata, TopicMessages } from 'kafkajs';

/**
 * Tells which partition and offset each published message got. A produce response only says,
 * per topic-partition, where the request's messages for it start (`baseOffset`), not which
 * messages went there: that is the partitioner's choice. So the producer's partitioner is
 * kafkajs' own, wrapped to remember what it chose for each message object (kafkajs passes our
 * objects through unchanged), instead of a second partitioner that could disagree with it.
 *
 * Within one produce request the messages of one partition form one record batch and get
 * consecutive offsets from `baseOffset`, in the order kafkajs grouped them, which is the order
 * given. A `sendBatch` sends one request per partition leader, so each topic-partition of a
 * `sendBatch` has exactly one record in its answer.
 */
export class PartitionTracker {
  readonly #chosen = new WeakMap<Message, number>();

  /** `create` wrapped so that every partition it picks is remembered for its message. */
  wrap(create: ICustomPartitioner): ICustomPartitioner {
    return () => {
      const choose = create();
      return (args) => {
        const partition = choose(args);
        this.#chosen.set(args.message, partition);
        return partition;
      };
    };
  }

  /**
   * The position of every message of one `sendBatch`, in the order of `batch`, from what
   * kafkajs answered. A message kafkajs never partitioned, or an answer that does not cover
   * exactly the partitions the messages went to, is refused rather than guessed at: kafkajs
   * regroups messages when it retries after a metadata refresh, so a partition count changed
   * in the middle of a send could leave the answer about an earlier grouping.
   */
  positions(batch: readonly TopicMessages[], answer: readonly RecordMetadata[]): MessagePosition[] {
    const starts = new Map<string, bigint>();
    for (const record of answer) {
      const id = partitionId(record.topicName, record.partition);
      if (record.baseOffset === undefined || starts.has(id)) {
        throw mismatch(`${starts.has(id) ? 'two answers' : 'no base offset'} for ${id}`);
      }
      starts.set(id, BigInt(record.baseOffset));
    }
    const next = new Map<string, bigint>();
    const positions: MessagePosition[] = [];
    for (const { topic, messages } of batch) {
      for (const message of messages) {
        const partition = this.#chosen.get(message);
        if (partition === undefined) throw mismatch(`a message to ${topic} was not partitioned`);
        const id = partitionId(topic, partition);
        const offset = next.get(id) ?? starts.get(id);
        if (offset === undefined) throw mismatch(`no answer for ${id}`);
        positions.push({ partition, offset: offset.toString() });
        next.set(id, offset + 1n);
      }
    }
    const unused = [...starts.keys()].filter((id) => !next.has(id));
    if (unused.length > 0) throw mismatch(`an answer for ${unused.join(', ')}, which got nothing`);
    return positions;
  }
}

function partitionId(topic: string, partition: number): string {
  return `${topic}[${partition}]`;
}

function mismatch(what: string): FeatureStoreError {
  return new FeatureStoreError(
    'INTERNAL',
    `Kafka accepted the messages, but its answer does not match the partitions kafkajs chose (${what}), so their positions are unknown; if the topic's partition count changed during the publish, publish again (the messages may then be delivered twice)`,
    { details: { reason: what } },
  );
}
