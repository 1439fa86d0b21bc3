import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ApplyWorker,
  ConflictError,
  DEAD_LETTER_HEADERS,
  type DeadLetter,
  DeadLetterError,
  DeadLetters,
  type DeliveredMessage,
  isPermanentFailure,
  LocalLogQueue,
  MessageContentError,
  type MessageQueue,
  NamespacedQueue,
  NotFoundError,
  NotSupportedError,
  OfflineSyncWorker,
  ONLINE_APPLY_GROUP,
  ONLINE_INGEST_TOPIC,
  type OnlineStore,
  PermissionDeniedError,
  UnavailableError,
  ValidationError,
} from '../src/index.js';
import { MemoryOnlineStore } from '../src/online/memory-online-store.js';
import { PushedRowsWriter } from '../src/online/pushed-row-codec.js';

const folders: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'featurestore-dead-letters-'));
  folders.push(path);
  return path;
}

function openQueue(directory?: string): LocalLogQueue {
  const queue = new LocalLogQueue({
    ...(directory ? { directory } : {}),
    retryInitialMs: 10,
    retryMaxMs: 50,
  });
  cleanups.push(() => queue.close());
  return queue;
}

const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (message: { value: Uint8Array }) => Buffer.from(message.value).toString('utf8');

async function until(predicate: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Every message of `topic` so far, read by a group of its own from the beginning. */
async function readAll(queue: MessageQueue, topic: string, settleMs = 300) {
  const got: DeliveredMessage[] = [];
  const subscription = await queue.subscribe({
    topic,
    group: `inspect-${Math.random().toString(36).slice(2)}`,
    fromBeginning: true,
    handler: async (messages) => {
      got.push(...messages);
    },
  });
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  await subscription.close();
  return got;
}

describe('isPermanentFailure', () => {
  it('dead-letters what the message itself causes, and retries everything else', () => {
    expect(isPermanentFailure(new MessageContentError('bad bytes'))).toBe(true);
    expect(
      isPermanentFailure(new MessageContentError('no such version', { code: 'NOT_FOUND' })),
    ).toBe(true);
    // Failures of the environment, however permanent their codes look: every message would
    // meet them, and they go away once the environment is fixed (issue 11, item 13).
    expect(isPermanentFailure(new NotFoundError('the bucket does not exist'))).toBe(false);
    expect(isPermanentFailure(new ValidationError('the backend refused the request'))).toBe(false);
    expect(isPermanentFailure(new PermissionDeniedError('credentials denied'))).toBe(false);
    expect(isPermanentFailure(new UnavailableError('redis is down'))).toBe(false);
    expect(isPermanentFailure(new ConflictError('raced'))).toBe(false);
    expect(isPermanentFailure(new NotSupportedError('driver lacks it'))).toBe(false);
    expect(isPermanentFailure(new TypeError('a bug'))).toBe(false);
    expect(isPermanentFailure('thrown text')).toBe(false);
  });
});

describe('DeadLetters', () => {
  it('handles the good messages of a batch in order and dead-letters each bad one once, even when the batch comes again', async () => {
    const queue = openQueue();
    const handled: string[] = [];
    let calls = 0;
    let transientLeft = 1;
    const reported: DeadLetter[] = [];
    const letters = new DeadLetters({
      queue,
      group: 'g',
      onDeadLetter: (letter) => reported.push(letter),
    });
    await queue.subscribe({
      topic: 't',
      group: 'g',
      fromBeginning: true,
      handler: letters.wrap(async (messages) => {
        calls++;
        const values = messages.map(text);
        const bad = values.find((value) => value.startsWith('bad'));
        if (bad) throw new MessageContentError(`${bad} cannot be read`);
        // After the first bad message was dead-lettered: the batch must come again without
        // that message being published a second time.
        if (values.includes('g4') && transientLeft-- > 0) throw new UnavailableError('down');
        handled.push(...values);
      }),
    });
    const values = ['g1', 'bad1', 'g2', 'g3', 'bad2', 'g4'];
    await queue.publish(
      values.map((value, i) => ({
        topic: 't',
        key: 'one-key',
        value: utf8(value),
        headers: { origin: `h${i}` },
      })),
    );
    await until(() => handled.includes('g4'), 'g4');
    // The redelivery hands the good messages over again (at-least-once); none is lost.
    expect([...new Set(handled)]).toEqual(['g1', 'g2', 'g3', 'g4']);
    expect(handled.indexOf('g2')).toBeGreaterThan(handled.indexOf('g1'));
    expect(letters.count).toBe(2);
    expect(calls).toBeLessThan(20);

    const dead = await readAll(queue, 't.dead');
    expect(dead.map(text)).toEqual(['bad1', 'bad2']);
    expect(dead[0]!.key).toBe('one-key');
    expect(dead[0]!.headers).toMatchObject({
      origin: 'h1',
      [DEAD_LETTER_HEADERS.group]: 'g',
      [DEAD_LETTER_HEADERS.errorCode]: 'VALIDATION',
      [DEAD_LETTER_HEADERS.errorMessage]: 'bad1 cannot be read',
      [DEAD_LETTER_HEADERS.topic]: 't',
      [DEAD_LETTER_HEADERS.offset]: '1',
    });
    expect(Date.parse(dead[0]!.headers![DEAD_LETTER_HEADERS.failedAt]!)).toBeGreaterThan(
      Date.now() - 60_000,
    );
    expect(reported.map((letter) => [text(letter.message), letter.deadLetterTopic])).toEqual([
      ['bad1', 't.dead'],
      ['bad2', 't.dead'],
    ]);
  });

  it('cuts a long error message, and publishes under the consumer queue’s namespace', async () => {
    const inner = openQueue();
    const queue = new NamespacedQueue(inner, 'tenant');
    const letters = new DeadLetters({ queue, group: 'g' });
    await queue.subscribe({
      topic: 't',
      group: 'g',
      fromBeginning: true,
      handler: letters.wrap(async () => {
        throw new MessageContentError('x'.repeat(5000));
      }),
    });
    await queue.publish([{ topic: 't', key: 'k', value: utf8('bad') }]);
    await until(() => letters.count === 1, 'the dead letter');
    const [dead, ...more] = await readAll(inner, 'tenant.t.dead');
    expect(more).toEqual([]);
    expect(text(dead!)).toBe('bad');
    expect(dead!.headers![DEAD_LETTER_HEADERS.errorMessage]).toHaveLength(1000);
    // The consumer named the topic without the namespace, and so does the header.
    expect(dead!.headers![DEAD_LETTER_HEADERS.topic]).toBe('t');
  });
});

/** An apply worker alone (it needs only the queue and the online store), on `queue`. */
async function applyWorker(
  queue: MessageQueue,
  online: OnlineStore,
  letters: DeadLetter[] = [],
): Promise<ApplyWorker> {
  const worker = new ApplyWorker({ queue, online });
  await worker.start({ onDeadLetter: (letter) => letters.push(letter) });
  cleanups.push(() => worker.stop());
  return worker;
}

const ref = { featureSetId: 'fs_1', major: 1 };
/** A pushed-rows message for one customer, on the key every message of this test shares. */
function push(customer: string, amount: number) {
  const writer = new PushedRowsWriter();
  writer.begin({ pushId: `p-${customer}`, ...ref, names: ['amount'] });
  writer.add([customer], 1000, 1000, [amount]);
  return { topic: ONLINE_INGEST_TOPIC, key: 'fs_1/1/0', value: writer.end() };
}

describe('the apply worker', () => {
  it('dead-letters a message that does not decode, applies the pushes around it, and does not dead-letter it again after a restart', async () => {
    const directory = await folder();
    const online = new MemoryOnlineStore();
    const amounts = async (...customers: string[]) =>
      (
        await online.read({
          featureSet: ref,
          keys: customers.map((c) => [c]),
          features: ['amount'],
        })
      ).map((record) => record?.values.amount ?? null);

    let queue = openQueue(directory);
    // Between two good pushes, in their partition: bytes of no known format, and damaged
    // first-format JSON (a SyntaxError from the parser, not a ValidationError).
    await queue.publish([push('c1', 1)]);
    await queue.publish([
      { topic: ONLINE_INGEST_TOPIC, key: 'fs_1/1/0', value: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) },
      { topic: ONLINE_INGEST_TOPIC, key: 'fs_1/1/0', value: utf8('{"pushId": "trunc') },
    ]);
    await queue.publish([push('c2', 2)]);
    const letters: DeadLetter[] = [];
    const worker = await applyWorker(queue, online, letters);
    await until(async () => (await amounts('c2'))[0] === 2, 'the second push');
    expect(await amounts('c1', 'c2')).toEqual([1, 2]);
    expect(worker.deadLettered).toBe(2);
    expect(letters.map((letter) => letter.error.code)).toEqual(['VALIDATION', 'VALIDATION']);

    const dead = await readAll(queue, `${ONLINE_INGEST_TOPIC}.dead`);
    expect(dead.map((message) => Buffer.from(message.value).toString('hex'))).toEqual([
      'deadbeef',
      Buffer.from('{"pushId": "trunc').toString('hex'),
    ]);
    expect(dead[0]!.headers).toMatchObject({
      [DEAD_LETTER_HEADERS.group]: ONLINE_APPLY_GROUP,
      [DEAD_LETTER_HEADERS.errorCode]: 'VALIDATION',
      [DEAD_LETTER_HEADERS.topic]: ONLINE_INGEST_TOPIC,
      [DEAD_LETTER_HEADERS.partition]: String(dead[0]!.partition),
      [DEAD_LETTER_HEADERS.offset]: '1',
    });
    expect(dead[0]!.headers![DEAD_LETTER_HEADERS.errorMessage]).toMatch(
      /starts with byte 222, a format this version does not read/,
    );
    expect(dead[1]!.headers![DEAD_LETTER_HEADERS.errorMessage]).toMatch(
      /offset 2 is not valid pushed rows/,
    );

    // A restart on the same log: the dead letters were committed with their batch.
    await worker.stop();
    await queue.close();
    queue = openQueue(directory);
    const restarted = await applyWorker(queue, online);
    await queue.publish([push('c3', 3)]);
    await until(async () => (await amounts('c3'))[0] === 3, 'the push after the restart');
    expect(restarted.deadLettered).toBe(0);
    expect(await readAll(queue, `${ONLINE_INGEST_TOPIC}.dead`)).toHaveLength(2);
  });

  it('retries a batch the online store refuses for now, and dead-letters nothing', async () => {
    const memory = new MemoryOnlineStore();
    let failuresLeft = 2;
    let writes = 0;
    // The store is down for two writes (Redis restarting), then back.
    const online = new Proxy(memory, {
      get(target, property, receiver) {
        if (property === 'write') {
          return async (...args: Parameters<OnlineStore['write']>) => {
            writes++;
            if (failuresLeft-- > 0) throw new UnavailableError('the online store is down');
            return target.write(...args);
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const queue = openQueue();
    const worker = await applyWorker(queue, online);
    await queue.publish([push('c1', 7)]);
    const read = async () =>
      (await memory.read({ featureSet: ref, keys: [['c1']], features: ['amount'] }))[0]?.values
        .amount;
    await until(async () => (await read()) === 7, 'the push');
    expect(writes).toBe(3);
    expect(worker.deadLettered).toBe(0);
    expect(await readAll(queue, `${ONLINE_INGEST_TOPIC}.dead`)).toEqual([]);
  });
});

describe('the offline sync', () => {
  it('reports each dead letter to onError as a DeadLetterError naming where it was', async () => {
    const queue = openQueue();
    const errors: unknown[] = [];
    const letters: DeadLetter[] = [];
    // Only the offsets are read before the bytes are decoded: the rest is never called.
    const store = { getConsumerOffsets: async () => new Map<number, string>() } as never;
    const absent = undefined as never;
    const sync = new OfflineSyncWorker(
      { store, compute: absent, storage: absent, queue },
      { onError: (error) => errors.push(error), onDeadLetter: (letter) => letters.push(letter) },
    );
    await sync.start();
    cleanups.push(() => sync.stop());
    const [at] = await queue.publish([
      { topic: ONLINE_INGEST_TOPIC, key: 'k', value: Uint8Array.of(9, 9) },
    ]);
    await until(() => sync.deadLettered === 1, 'the dead letter');
    expect(letters).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(DeadLetterError);
    expect(errors[0]).toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(
        /^group featurestore\.online\.offline-sync moved the message at featurestore\.online\.ingest partition \d+ offset 0 to featurestore\.online\.ingest\.dead/,
      ),
      details: {
        partition: at!.partition,
        offset: '0',
        deadLetterTopic: `${ONLINE_INGEST_TOPIC}.dead`,
      },
    });
    expect((errors[0] as DeadLetterError).cause).toBe(letters[0]!.error);
  });
});
