import assert from 'node:assert/strict';
import type {
  DeliveredMessage,
  MessagePosition,
  MessageQueue,
  QueueMessage,
  Subscription,
} from '../ports/message-queue.js';
import { type SuiteApi, uniqueName } from './suite-api.js';

/** The groups of `messageQueueConformance`, one per capability of the port. */
export type MessageQueueCapability =
  | 'delivery'
  | 'ordering'
  | 'groups'
  | 'atLeastOnce'
  | 'fromBeginning'
  | 'positions'
  | 'read'
  | 'close';

export interface MessageQueueConformanceOptions {
  /** Groups to leave out, e.g. while a driver is being written. A finished driver skips none. */
  skip?: readonly MessageQueueCapability[];
  /**
   * How long a case waits for an expected delivery, in milliseconds (default 10 s). Brokers
   * whose group rebalances take seconds need more.
   */
  deliveryTimeout?: number;
  /** Timeout of each case in milliseconds (default 60 s). */
  caseTimeout?: number;
}

/**
 * The contract every `MessageQueue` driver meets, one group per capability. Every case uses
 * its own topics and groups (`uniqueName`), so suites can share a broker. `factory` is called
 * once per suite, and once more by the close case, which closes the queue it gets.
 *
 * What the suite pins down, beyond the port's types:
 * - values are bytes, delivered exactly as published (binary, empty); headers are strings;
 * - messages with one key arrive in publish order, also across several `publish` calls;
 * - consumers of one group share the topic without duplicates in the steady state, a key
 *   staying with one consumer; every group gets every message;
 * - a rejected batch is delivered again; a consumer closed while its handler is stuck
 *   (as good as a crash: its handler never resolved) leaves its messages to the next
 *   consumer of the group, and a late resolution of that handler commits nothing;
 * - a new group starts at the end of the topic, or at the beginning with `fromBeginning`,
 *   and that position is fixed when `subscribe` resolves: every message published after it
 *   is delivered, even to a consumer that joins later; a group with committed offsets
 *   resumes from them whatever `fromBeginning` says;
 * - every delivered message carries its partition and offset: offsets increase within a
 *   partition, a redelivered message comes with the same position; `publish` returns one
 *   position per message, in the order given, and it is the one the message is delivered
 *   with (also across topics in one call, and for concurrent calls);
 * - `read` returns a topic's messages up to its end, as published (positions included), in
 *   partition and offset order, after given offsets and up to a limit, without a group: it
 *   commits nothing and subscribers still get every message; a topic never published to
 *   reads as empty;
 * - after `close()`, `publish` and `subscribe` fail with an `UNAVAILABLE` error.
 *
 * @example
 * // packages/driver-x/test/suite.test.ts
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * import { messageQueueConformance } from '@featurestore/core/testing';
 * messageQueueConformance({ describe, it, beforeAll, afterAll }, async () => new XQueue(…));
 */
export function messageQueueConformance(
  t: SuiteApi,
  factory: () => Promise<MessageQueue>,
  options: MessageQueueConformanceOptions = {},
): void {
  const skip = new Set(options.skip ?? []);
  const deliveryTimeout = options.deliveryTimeout ?? 10_000;
  const caseTimeout = options.caseTimeout ?? 60_000;
  let queue: MessageQueue;
  const open: Subscription[] = [];

  /** Subscribes and remembers the subscription, so a failing case still closes it. */
  const subscribe = async (
    topic: string,
    group: string,
    inbox: Inbox,
    extra: { fromBeginning?: boolean; handler?: (batch: QueueMessage[]) => Promise<void> } = {},
  ) => {
    const subscription = await queue.subscribe({
      topic,
      group,
      handler: extra.handler ?? (async (batch) => inbox.push(batch)),
      ...(extra.fromBeginning === undefined ? {} : { fromBeginning: extra.fromBeginning }),
    });
    open.push(subscription);
    return subscription;
  };
  const until = (predicate: () => boolean, what: () => string) =>
    waitUntil(predicate, what, deliveryTimeout);
  /**
   * Shows that nothing more arrives (a duplicate, a redelivery) without watching for a fixed
   * time, which a busy machine can outlast: publishes a marker after the messages of each of
   * `keys` and waits until each group (the inboxes of its consumers) has every marker. A
   * key's messages are delivered in publish order, so whatever a group was still going to get
   * of those keys arrived before their markers.
   */
  const settle = async (topic: string, keys: readonly string[], ...groups: Inbox[][]) => {
    const marker = uniqueName('marker');
    await queue.publish(
      keys.map((key) => ({
        topic,
        key,
        value: utf8(marker),
        headers: { [MARKER_HEADER]: marker },
      })),
    );
    const missing = (inboxes: Inbox[]) =>
      keys.filter((key) => !inboxes.some((inbox) => inbox.markers.has(`${marker}/${key}`)));
    await until(
      () => groups.every((inboxes) => missing(inboxes).length === 0),
      () =>
        `the markers published after the messages; missing for keys ${groups
          .map((inboxes) => missing(inboxes).join(', ') || '(none)')
          .join(' | ')}`,
    );
  };
  const group = (name: string, body: () => void) => {
    if (!skip.has(name as MessageQueueCapability)) t.describe(name, body);
  };

  t.describe('MessageQueue conformance', () => {
    t.beforeAll(async () => {
      queue = await factory();
    });
    t.afterAll(async () => {
      for (const subscription of open) await subscription.close().catch(() => {});
      await queue?.close();
    }, caseTimeout);

    group('delivery', () => {
      t.it(
        'round-trips keys, binary and empty values, and headers',
        async () => {
          const topic = uniqueName('mq_roundtrip');
          const inbox = new Inbox();
          await subscribe(topic, uniqueName('g'), inbox);
          const sent: QueueMessage[] = [
            {
              topic,
              key: 'binary',
              value: new Uint8Array([0, 1, 2, 127, 128, 254, 255]),
              headers: { 'content-type': 'application/octet-stream', 'x-ünïcode': 'välue ✓' },
            },
            { topic, key: 'empty', value: new Uint8Array(0) },
            { topic, key: 'clé 🔑', value: utf8('héllo wörld') },
          ];
          await queue.publish(sent);
          await until(
            () => inbox.messages.length >= sent.length,
            () => `${sent.length} messages, got ${inbox.messages.length}`,
          );
          const byKey = new Map(inbox.messages.map((message) => [message.key, message]));
          assert.equal(inbox.messages.length, sent.length, 'each message once');
          for (const expected of sent) {
            const got = byKey.get(expected.key);
            assert.ok(got, `message with key ${expected.key} delivered`);
            assert.equal(got.topic, topic);
            assert.ok(got.value instanceof Uint8Array, 'the value is a Uint8Array');
            assert.deepEqual([...got.value], [...expected.value], `value of ${expected.key}`);
            assert.deepEqual(
              got.headers ?? {},
              expected.headers ?? {},
              `headers of ${expected.key}`,
            );
          }
        },
        caseTimeout,
      );

      t.it('publishing nothing resolves', async () => {
        await queue.publish([]);
      });

      t.it(
        'one publish call can address several topics',
        async () => {
          const [a, b] = [uniqueName('mq_multi_a'), uniqueName('mq_multi_b')];
          const [inboxA, inboxB] = [new Inbox(), new Inbox()];
          await subscribe(a, uniqueName('g'), inboxA);
          await subscribe(b, uniqueName('g'), inboxB);
          await queue.publish([
            { topic: a, key: 'k', value: utf8('to a') },
            { topic: b, key: 'k', value: utf8('to b') },
            { topic: a, key: 'k2', value: utf8('to a again') },
          ]);
          await until(
            () => inboxA.messages.length >= 2 && inboxB.messages.length >= 1,
            () => `2 + 1 messages, got ${inboxA.messages.length} + ${inboxB.messages.length}`,
          );
          assert.deepEqual(inboxA.texts().sort(), ['to a', 'to a again']);
          assert.deepEqual(inboxB.texts(), ['to b']);
        },
        caseTimeout,
      );
    });

    group('ordering', () => {
      t.it(
        'keeps publish order per key across many keys, messages and publish calls',
        async () => {
          const topic = uniqueName('mq_order');
          const inbox = new Inbox();
          await subscribe(topic, uniqueName('g'), inbox);
          const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
          const perKey = 25;
          // Five calls, each carrying the next five of every key's sequence, keys interleaved.
          for (let call = 0; call < 5; call++) {
            const batch: QueueMessage[] = [];
            for (let seq = call * 5; seq < (call + 1) * 5; seq++) {
              for (const key of keys) batch.push({ topic, key, value: utf8(`${key}#${seq}`) });
            }
            await queue.publish(batch);
          }
          const total = keys.length * perKey;
          await until(
            () => inbox.messages.length >= total,
            () => `${total} messages, got ${inbox.messages.length}`,
          );
          const sequences = sequencesByKey(inbox.messages);
          for (const key of keys) {
            assert.deepEqual(
              sequences.get(key),
              Array.from({ length: perKey }, (_, i) => i),
              `messages of ${key} in publish order, each once`,
            );
          }
        },
        caseTimeout,
      );
    });

    group('groups', () => {
      t.it(
        'consumers of one group share the messages without duplicates, a key staying with one',
        async () => {
          const topic = uniqueName('mq_share');
          const name = uniqueName('g');
          const [first, second] = [new Inbox(), new Inbox()];
          await subscribe(topic, name, first);
          await subscribe(topic, name, second);
          const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
          const perKey = 5;
          for (let seq = 0; seq < perKey; seq++) {
            await queue.publish(keys.map((key) => ({ topic, key, value: utf8(`${key}#${seq}`) })));
          }
          const total = keys.length * perKey;
          const count = () => first.messages.length + second.messages.length;
          await until(
            () => count() >= total,
            () => `${total} messages over two consumers, got ${count()}`,
          );
          await settle(topic, keys, [first, second]);
          assert.equal(count(), total, 'no message delivered twice');
          assert.ok(first.messages.length > 0, 'the first consumer got a share');
          assert.ok(second.messages.length > 0, 'the second consumer got a share');
          const firstKeys = new Set(first.messages.map((message) => message.key));
          for (const message of second.messages) {
            assert.ok(!firstKeys.has(message.key), `key ${message.key} went to one consumer`);
          }
          const sequences = sequencesByKey([...first.messages, ...second.messages]);
          for (const key of keys) {
            assert.deepEqual(sequences.get(key), [0, 1, 2, 3, 4], `order of ${key}`);
          }
        },
        caseTimeout,
      );

      t.it(
        'every group gets every message',
        async () => {
          const topic = uniqueName('mq_groups');
          const [one, two] = [new Inbox(), new Inbox()];
          await subscribe(topic, uniqueName('g1'), one);
          await subscribe(topic, uniqueName('g2'), two);
          const sent = Array.from({ length: 30 }, (_, i) => ({
            topic,
            key: `k${i % 7}`,
            value: utf8(`m${i}`),
          }));
          await queue.publish(sent);
          await until(
            () => one.messages.length >= sent.length && two.messages.length >= sent.length,
            () =>
              `${sent.length} messages in each group, got ${one.messages.length} and ${two.messages.length}`,
          );
          const expected = sent.map((message) => text(message.value)).sort();
          assert.deepEqual(one.texts().sort(), expected);
          assert.deepEqual(two.texts().sort(), expected);
        },
        caseTimeout,
      );
    });

    group('atLeastOnce', () => {
      t.it(
        'a rejected batch is delivered again, and nothing after it is committed first',
        async () => {
          const topic = uniqueName('mq_reject');
          const accepted = new Inbox();
          let rejections = 0;
          let deliveriesOfThree = 0;
          await subscribe(topic, uniqueName('g'), accepted, {
            handler: async (batch) => {
              if (batch.some((message) => text(message.value) === 'k#3')) {
                deliveriesOfThree++;
                if (rejections === 0) {
                  rejections++;
                  throw new Error('the handler failed (on purpose)');
                }
              }
              accepted.push(batch);
            },
          });
          const sent = Array.from({ length: 10 }, (_, i) => ({
            topic,
            key: 'k',
            value: utf8(`k#${i}`),
          }));
          await queue.publish(sent.slice(0, 5));
          await queue.publish(sent.slice(5));
          await until(
            () => accepted.messages.length >= sent.length,
            () => `${sent.length} accepted messages, got ${accepted.messages.length}`,
          );
          await settle(topic, ['k'], [accepted]);
          assert.equal(rejections, 1);
          assert.ok(deliveriesOfThree >= 2, 'the rejected message came again');
          assert.deepEqual(
            accepted.texts(),
            sent.map((message) => text(message.value)),
            'accepted batches hold every message once, in order',
          );
        },
        caseTimeout,
      );

      t.it(
        'a consumer closed with its handler stuck leaves its messages to the next one',
        async () => {
          const topic = uniqueName('mq_crash');
          const name = uniqueName('g');
          const stuck = new Inbox();
          const release = deferred();
          let handling = 0;
          const dying = await subscribe(topic, name, stuck, {
            handler: async (batch) => {
              handling++;
              try {
                stuck.push(batch);
                await release.promise; // never resolves while the consumer lives
              } finally {
                handling--;
              }
            },
          });
          const sent = Array.from({ length: 20 }, (_, i) => ({
            topic,
            key: `k${i % 4}`,
            value: utf8(`k${i % 4}#${Math.floor(i / 4)}`),
          }));
          await queue.publish(sent);
          await until(
            () => stuck.messages.length > 0,
            () => 'a first batch for the consumer that will die',
          );
          await withTimeout(dying.close(), deliveryTimeout, 'close() with a stuck handler');
          // The handler finishing late must not commit for a consumer that is gone. A driver
          // that does commits as the handler returns: the heir joins only after that.
          release.resolve();
          await until(
            () => handling === 0,
            () => 'the stuck handler to return once released',
          );
          const heir = new Inbox();
          await subscribe(topic, name, heir);
          await until(
            () => heir.messages.length >= sent.length,
            () => `the ${sent.length} uncommitted messages, got ${heir.messages.length}`,
          );
          const sequences = sequencesByKey(heir.messages);
          for (const key of ['k0', 'k1', 'k2', 'k3']) {
            assert.deepEqual(sequences.get(key), [0, 1, 2, 3, 4], `redelivery of ${key}`);
          }
        },
        caseTimeout,
      );

      t.it(
        'committed messages are not delivered again to the group',
        async () => {
          const topic = uniqueName('mq_commit');
          const name = uniqueName('g');
          const first = new Inbox();
          const subscription = await subscribe(topic, name, first);
          await queue.publish(
            Array.from({ length: 10 }, (_, i) => ({
              topic,
              key: `k${i % 3}`,
              value: utf8(`a${i}`),
            })),
          );
          await until(
            () => first.messages.length >= 10,
            () => `10 messages, got ${first.messages.length}`,
          );
          await subscription.close();
          const second = new Inbox();
          await subscribe(topic, name, second, { fromBeginning: true });
          await queue.publish([{ topic, key: 'k0', value: utf8('after') }]);
          await until(
            () => second.messages.length >= 1,
            () => 'the message published after the restart',
          );
          await settle(topic, ['k0', 'k1', 'k2'], [second]);
          assert.deepEqual(second.texts(), ['after'], 'only what the group had not committed');
        },
        caseTimeout,
      );
    });

    group('fromBeginning', () => {
      t.it(
        'a new group starts at the end, or at the beginning with fromBeginning',
        async () => {
          const topic = uniqueName('mq_start');
          // No group listens yet: the topic retains them all the same.
          const before = ['b0', 'b1', 'b2'];
          await queue.publish(before.map((value) => ({ topic, key: 'k', value: utf8(value) })));
          const [early, late] = [new Inbox(), new Inbox()];
          await subscribe(topic, uniqueName('g_early'), early, { fromBeginning: true });
          await subscribe(topic, uniqueName('g_late'), late, { fromBeginning: false });
          // Published right after subscribe() resolved: must reach both groups.
          await queue.publish([{ topic, key: 'k', value: utf8('a0') }]);
          await until(
            () => early.messages.length >= 4 && late.messages.length >= 1,
            () => `4 and 1 messages, got ${early.messages.length} and ${late.messages.length}`,
          );
          await settle(topic, ['k'], [early], [late]);
          assert.deepEqual(early.texts(), ['b0', 'b1', 'b2', 'a0']);
          assert.deepEqual(late.texts(), ['a0']);
        },
        caseTimeout,
      );

      t.it(
        'the start position of a new group holds for a consumer that joins later',
        async () => {
          const topic = uniqueName('mq_pinned');
          const name = uniqueName('g');
          const subscription = await subscribe(topic, name, new Inbox());
          await subscription.close();
          await queue.publish([{ topic, key: 'k', value: utf8('while nobody listened') }]);
          const second = new Inbox();
          await subscribe(topic, name, second);
          await until(
            () => second.messages.length >= 1,
            () => 'the message published between the two consumers',
          );
          assert.deepEqual(second.texts(), ['while nobody listened']);
        },
        caseTimeout,
      );
    });

    group('positions', () => {
      t.it(
        'delivered messages carry positions: increasing per partition, stable on redelivery',
        async () => {
          const topic = uniqueName('mq_positions');
          const seen: DeliveredMessage[][] = [];
          let rejected = false;
          await subscribe(topic, uniqueName('g'), new Inbox(), {
            handler: async (batch) => {
              seen.push(batch as DeliveredMessage[]);
              if (!rejected && batch.some((message) => text(message.value) === 'k1#3')) {
                rejected = true;
                throw new Error('the handler failed (on purpose)');
              }
            },
          });
          const sent = Array.from({ length: 24 }, (_, i) => ({
            topic,
            key: `k${i % 3}`,
            value: utf8(`k${i % 3}#${Math.floor(i / 3)}`),
          }));
          const positions = await queue.publish(sent);
          const accepted = () => seen.flat().filter((m) => text(m.value) === 'k1#3').length;
          await until(
            () => accepted() >= 2 && new Set(seen.flat().map((m) => text(m.value))).size >= 24,
            () => `every message and a redelivery, got ${seen.flat().length} deliveries`,
          );
          const byValue = new Map<string, { partition: number; offset: string }>();
          for (const message of seen.flat()) {
            assert.ok(Number.isInteger(message.partition) && message.partition >= 0);
            assert.match(message.offset, /^\d+$/, 'the offset is decimal integer text');
            const earlier = byValue.get(text(message.value));
            if (earlier) {
              assert.deepEqual(
                { partition: message.partition, offset: message.offset },
                earlier,
                `a redelivery of ${text(message.value)} has the same position`,
              );
            }
            byValue.set(text(message.value), {
              partition: message.partition,
              offset: message.offset,
            });
          }
          for (const batch of seen) {
            const partitions = new Set(batch.map((message) => message.partition));
            assert.equal(partitions.size, 1, 'a batch holds messages of one partition');
            for (let i = 1; i < batch.length; i++) {
              assert.ok(BigInt(batch[i]!.offset) > BigInt(batch[i - 1]!.offset), 'offset order');
            }
          }
          for (const key of ['k0', 'k1', 'k2']) {
            const own = sent
              .map((message) => text(message.value))
              .filter((value) => value.startsWith(`${key}#`))
              .map((value) => byValue.get(value)!);
            assert.equal(new Set(own.map((p) => p.partition)).size, 1, `${key} in one partition`);
            for (let i = 1; i < own.length; i++) {
              assert.ok(BigInt(own[i]!.offset) > BigInt(own[i - 1]!.offset), `${key} offsets`);
            }
          }
          assert.equal(positions.length, sent.length, 'one position per published message');
          sent.forEach((message, i) => {
            assert.deepEqual(positions[i], byValue.get(text(message.value)), 'publish position');
          });
        },
        caseTimeout,
      );

      t.it(
        "publish returns each message's delivery position, in the order given, across topics, partitions and keys",
        async () => {
          const [a, b] = [uniqueName('mq_published_a'), uniqueName('mq_published_b')];
          const [inboxA, inboxB] = [new Inbox(), new Inbox()];
          await subscribe(a, uniqueName('g'), inboxA);
          await subscribe(b, uniqueName('g'), inboxB);
          // Keys and topics interleaved, so that positions come back in another order than
          // a driver groups them in (by topic, by partition).
          const sent: QueueMessage[] = Array.from({ length: 60 }, (_, i) => ({
            topic: i % 3 === 0 ? b : a,
            key: `k${i % 12}`,
            value: utf8(`m${i}`),
            headers: { 'x-id': String(i) },
          }));
          const positions = await queue.publish(sent);
          assert.equal(positions.length, sent.length, 'one position per published message');
          const countA = sent.filter((message) => message.topic === a).length;
          await until(
            () =>
              ids(inboxA.messages).size >= countA &&
              ids(inboxB.messages).size >= sent.length - countA,
            () =>
              `${sent.length} messages, got ${ids([...inboxA.messages, ...inboxB.messages]).size}`,
          );
          expectPublishedPositions([...inboxA.messages, ...inboxB.messages], sent, positions);
          for (const topic of [a, b]) {
            const partitions = new Set(
              positions.filter((_, i) => sent[i]!.topic === topic).map((p) => p.partition),
            );
            assert.ok(partitions.size > 1, `the keys of ${topic} spread over several partitions`);
          }
        },
        caseTimeout,
      );

      t.it(
        'concurrent publish calls each get the positions of their own messages',
        async () => {
          const topic = uniqueName('mq_published_concurrent');
          const inbox = new Inbox();
          await subscribe(topic, uniqueName('g'), inbox);
          const calls = Array.from({ length: 5 }, (_, call) =>
            Array.from({ length: 12 }, (_, i) => ({
              topic,
              key: `k${i % 4}`,
              value: utf8(`c${call}m${i}`),
              headers: { 'x-id': String(call * 12 + i) },
            })),
          );
          const positions = await Promise.all(calls.map((messages) => queue.publish(messages)));
          const sent = calls.flat();
          await until(
            () => ids(inbox.messages).size >= sent.length,
            () => `${sent.length} messages, got ${ids(inbox.messages).size}`,
          );
          expectPublishedPositions(inbox.messages, sent, positions.flat());
        },
        caseTimeout,
      );
    });

    group('read', () => {
      t.it(
        'reads a topic up to its end, after given offsets and up to a limit, committing nothing',
        async () => {
          const topic = uniqueName('mq_read');
          assert.deepEqual(await queue.read(uniqueName('mq_never')), []);
          const sent: QueueMessage[] = Array.from({ length: 12 }, (_, i) => ({
            topic,
            key: `k${i % 5}`,
            value: utf8(`m${i}`),
            headers: { 'x-id': String(i) },
          }));
          const positions = await queue.publish(sent);
          const all = await queue.read(topic);
          assert.equal(all.length, sent.length);
          for (const message of all) {
            const i = Number(message.headers?.['x-id']);
            assert.equal(message.topic, topic);
            assert.equal(message.key, sent[i]!.key);
            assert.equal(text(message.value), `m${i}`);
            assert.deepEqual(
              { partition: message.partition, offset: message.offset },
              positions[i],
              `message ${i} is read where publish put it`,
            );
          }
          const order = all.map((m) => [m.partition, BigInt(m.offset)] as const);
          const sorted = [...order].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
          assert.deepEqual(order, sorted, 'partition, then offset order');

          const first = all[0]!;
          const after = new Map([[first.partition, first.offset]]);
          const rest = await queue.read(topic, { after });
          assert.equal(rest.length, sent.length - 1);
          assert.ok(
            !rest.some((m) => m.partition === first.partition && m.offset === first.offset),
          );
          assert.deepEqual(
            (await queue.read(topic, { limit: 3 })).map((m) => m.headers?.['x-id']),
            all.slice(0, 3).map((m) => m.headers?.['x-id']),
          );

          // Nothing was committed: a group reading from the beginning gets every message.
          const inbox = new Inbox();
          await subscribe(topic, uniqueName('g'), inbox, { fromBeginning: true });
          await until(
            () => inbox.messages.length >= sent.length,
            () => `every message after read (${inbox.messages.length} of ${sent.length})`,
          );
        },
        caseTimeout,
      );
    });

    group('close', () => {
      t.it(
        'a closed subscription gets nothing more; the group keeps the messages',
        async () => {
          const topic = uniqueName('mq_close');
          const name = uniqueName('g');
          const inbox = new Inbox();
          const subscription = await subscribe(topic, name, inbox);
          await queue.publish([{ topic, key: 'k', value: utf8('one') }]);
          await until(
            () => inbox.messages.length >= 1,
            () => 'the first message',
          );
          await subscription.close();
          await subscription.close(); // twice is harmless
          await queue.publish([{ topic, key: 'k', value: utf8('two') }]);
          const next = new Inbox();
          await subscribe(topic, name, next);
          await until(
            () => next.messages.length >= 1,
            () => 'the message published after close',
          );
          // The group has handed the message on: the closed subscription, its only consumer
          // when it was published, would have had it by now.
          assert.deepEqual(inbox.texts(), ['one'], 'nothing for the closed subscription');
          assert.deepEqual(next.texts(), ['two']);
        },
        caseTimeout,
      );

      t.it(
        'a closed queue refuses publish and subscribe with UNAVAILABLE',
        async () => {
          const own = await factory();
          const topic = uniqueName('mq_closed');
          await own.publish([{ topic, key: 'k', value: utf8('x') }]);
          await own.close();
          await own.close(); // twice is harmless
          await assert.rejects(own.publish([{ topic, key: 'k', value: utf8('y') }]), {
            code: 'UNAVAILABLE',
          });
          await assert.rejects(
            own.subscribe({ topic, group: uniqueName('g'), handler: async () => {} }),
            { code: 'UNAVAILABLE' },
          );
        },
        caseTimeout,
      );
    });
  });
}

/** The header of the markers `settle` publishes. */
const MARKER_HEADER = 'x-conformance-marker';

/** What a consumer received, batch by batch, markers of `settle` apart. */
class Inbox {
  readonly batches: QueueMessage[][] = [];
  /** The markers received, as `marker/key`. */
  readonly markers = new Set<string>();

  push(batch: QueueMessage[]): void {
    const messages = batch.filter((message) => {
      const marker = message.headers?.[MARKER_HEADER];
      if (marker !== undefined) this.markers.add(`${marker}/${message.key}`);
      return marker === undefined;
    });
    if (messages.length > 0) this.batches.push(messages);
  }

  get messages(): QueueMessage[] {
    return this.batches.flat();
  }

  texts(): string[] {
    return this.messages.map((message) => text(message.value));
  }
}

/** The `x-id` headers of delivered messages. */
function ids(messages: readonly QueueMessage[]): Set<string> {
  return new Set(messages.map((message) => message.headers?.['x-id'] ?? ''));
}

/**
 * Every message of `sent` (told apart by its `x-id` header, its index in `sent`) was
 * delivered, and always with the position `publish` returned for it.
 */
function expectPublishedPositions(
  delivered: readonly QueueMessage[],
  sent: readonly QueueMessage[],
  positions: readonly MessagePosition[],
): void {
  assert.equal(positions.length, sent.length, 'one position per published message');
  for (const message of delivered as DeliveredMessage[]) {
    const id = Number(message.headers?.['x-id']);
    assert.ok(Number.isInteger(id) && sent[id], `a delivered message with an x-id: ${id}`);
    assert.equal(text(message.value), text(sent[id]!.value), `the value of message ${id}`);
    assert.deepEqual(
      { partition: message.partition, offset: message.offset },
      positions[id],
      `message ${id} (key ${message.key}) is delivered where publish said`,
    );
  }
  assert.equal(ids(delivered).size, sent.length, 'every message delivered');
}

/** `key#n` values → the `n`s of each key, in delivery order. */
function sequencesByKey(messages: readonly QueueMessage[]): Map<string, number[]> {
  const sequences = new Map<string, number[]>();
  for (const message of messages) {
    const [key, seq] = text(message.value).split('#');
    assert.equal(key, message.key, 'the value belongs to the key it was published with');
    const list = sequences.get(message.key) ?? [];
    list.push(Number(seq));
    sequences.set(message.key, list);
  }
  return sequences;
}

function utf8(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

function text(value: Uint8Array): string {
  return new TextDecoder().decode(value);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` until it holds; fails after `timeout` ms saying what was awaited. */
async function waitUntil(
  predicate: () => boolean,
  what: () => string,
  timeout: number,
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) {
      assert.fail(`timed out after ${timeout} ms waiting for ${what()}`);
    }
    await sleep(20);
  }
}

async function withTimeout<T>(promise: Promise<T>, timeout: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new assert.AssertionError({ message: `${what} took more than ${timeout} ms` })),
      timeout,
    );
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
