import kafkajs, { type Message, type PartitionMetadata, type TopicMessages } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { PartitionTracker } from '../src/publish-positions.js';

// The answers here are plain data shaped like kafkajs' `sendBatch` results: the real broker's
// answers are checked end to end by the conformance suite (test/suite.test.ts).
const partitionMetadata: PartitionMetadata[] = Array.from({ length: 4 }, (_, partitionId) => ({
  partitionId,
  leader: 0,
  partitionErrorCode: 0,
  replicas: [0],
  isr: [0],
}));

/** Messages of `topic` with keys k0…k{n-1}, partitioned the way the producer does it. */
function partitioned(tracker: PartitionTracker, topic: string, n: number): TopicMessages {
  const choose = tracker.wrap(kafkajs.Partitioners.DefaultPartitioner)();
  const messages: Message[] = Array.from({ length: n }, (_, i) => ({
    key: `k${i}`,
    value: Buffer.from(`m${i}`),
  }));
  for (const message of messages) choose({ topic, partitionMetadata, message });
  return { topic, messages };
}

/** What kafkajs' own partitioner picks for a key (a fresh one: keyed picks are stateless). */
function partitionOf(topic: string, key: string): number {
  return kafkajs.Partitioners.DefaultPartitioner()({
    topic,
    partitionMetadata,
    message: { key, value: null },
  });
}

const answer = (topicName: string, partition: number, baseOffset: string) => ({
  topicName,
  partition,
  errorCode: 0,
  baseOffset,
});

describe('PartitionTracker', () => {
  it("numbers each partition's messages from its base offset, in the order given", () => {
    const tracker = new PartitionTracker();
    const batch = [partitioned(tracker, 'a', 12), partitioned(tracker, 'b', 5)];
    const used = new Map<string, Set<number>>();
    for (const { topic, messages } of batch) {
      used.set(topic, new Set(messages.map((m) => partitionOf(topic, String(m.key)))));
    }
    expect(used.get('a')!.size).toBeGreaterThan(1);
    // 64-bit offsets, past what a double holds exactly.
    const base = (topic: string, partition: number) =>
      (2n ** 60n + BigInt(partition * 1000 + (topic === 'b' ? 500 : 0))).toString();
    const answers = [...used].flatMap(([topic, partitions]) =>
      [...partitions].map((partition) => answer(topic, partition, base(topic, partition))),
    );
    const positions = tracker.positions(batch, answers.reverse());

    const next = new Map<string, bigint>();
    const expected = batch.flatMap(({ topic, messages }) =>
      messages.map((message) => {
        const partition = partitionOf(topic, String(message.key));
        const id = `${topic}/${partition}`;
        const offset = next.get(id) ?? BigInt(base(topic, partition));
        next.set(id, offset + 1n);
        return { partition, offset: offset.toString() };
      }),
    );
    expect(positions).toEqual(expected);
  });

  it('refuses an answer that does not cover exactly the partitions the messages went to', () => {
    const tracker = new PartitionTracker();
    const batch = [partitioned(tracker, 'a', 12)];
    const partitions = [...new Set(batch[0]!.messages.map((m) => partitionOf('a', String(m.key))))];
    const full = partitions.map((partition) => answer('a', partition, '0'));
    expect(() => tracker.positions(batch, full)).not.toThrow();

    const fail = (answers: ReturnType<typeof answer>[]) => {
      try {
        tracker.positions(batch, answers);
      } catch (error) {
        return error as { code: string; message: string };
      }
      throw new Error('expected the answer to be refused');
    };
    expect(fail(full.slice(1))).toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/no answer for a\[\d\].*publish again/),
    });
    expect(fail([...full, answer('a', 7, '0')]).message).toMatch(/a\[7\], which got nothing/);
    expect(fail([...full, full[0]!]).message).toMatch(/two answers for a\[/);
    expect(fail([{ ...full[0]!, baseOffset: undefined as unknown as string }]).message).toMatch(
      /no base offset/,
    );
    const stranger = { topic: 'a', messages: [{ key: 'k0', value: Buffer.from('x') }] };
    expect(() => tracker.positions([stranger], full)).toThrow(/a message to a was not partitioned/);
  });
});
