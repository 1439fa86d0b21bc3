import { ConflictError } from '../errors.js';
import type { DeliveredMessage, MessageQueue, QueueMessage } from '../ports/message-queue.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import { DEAD_LETTER_HEADERS, deadLetterTopic } from './dead-letters.js';

/** Headers of a dead letter that are the dead-letter topic's own, not the original's. */
const DEAD_LETTER_HEADER_PREFIX = 'featurestore.dead-letter.';
/** Added to a replayed message: the dead letter it came from (`<partition>:<offset>`). */
export const REPLAYED_FROM_HEADER = 'featurestore.replayed-from';
/** Stored offsets meaning "nothing handled in this partition" (the store keeps no deletes). */
const NOTHING = '-1';

/** One dead letter as the dead-letter commands show it. */
export interface DeadLetterEntry {
  /** Where the letter sits in the dead-letter topic. */
  partition: number;
  offset: string;
  key: string;
  /** The consumer group that refused the message, and why. */
  group: string;
  errorCode: string;
  errorMessage: string;
  failedAt: string;
  /** Where the original message was. */
  topic: string;
  originalPartition: number;
  originalOffset: string;
  /** `pending` until replayed or dropped. */
  state: 'pending' | 'handled';
}

export interface DeadLetterSelection {
  /** At most this many letters, the first ones in partition and offset order. */
  limit?: number;
}

/**
 * The dead letters of one topic (`<topic>.dead`), to look at, replay or drop. Letters are
 * handled in order per partition of the dead-letter topic: the metadata store keeps, per
 * partition, the offset of the last letter replayed or dropped (consumer
 * `featurestore.dead-letters/<dead topic>`), with a compare-and-set, so two commands cannot
 * both replay a letter, and a replayed letter is never replayed again.
 *
 * Replay publishes each original message (its key, bytes and own headers) to its original
 * topic once, also when both consumer groups dead-lettered it; its consumers then handle it
 * as any message (the online apply is newest-wins). Letters are marked handled before they
 * are published, and unmarked if publishing fails: a process killed in between leaves them
 * handled but not replayed (`list --all` shows them), never replayed twice.
 *
 * @example
 * const box = new DeadLetterBox({ queue, store, topic: ONLINE_INGEST_TOPIC });
 * await box.list(); // pending letters
 * await box.replay({ limit: 10 });
 */
export class DeadLetterBox {
  readonly #queue: MessageQueue;
  readonly #store: MetadataStore;
  readonly #topic: string;
  readonly #consumer: string;

  constructor(deps: { queue: MessageQueue; store: MetadataStore; topic: string }) {
    this.#queue = deps.queue;
    this.#store = deps.store;
    this.#topic = deadLetterTopic(deps.topic);
    this.#consumer = `featurestore.dead-letters/${this.#topic}`;
  }

  /** The dead-letter topic. */
  get topic(): string {
    return this.#topic;
  }

  /** Pending letters; with `all`, the handled ones too (as long as the topic retains them). */
  async list(options: DeadLetterSelection & { all?: boolean } = {}): Promise<DeadLetterEntry[]> {
    const handled = await this.#handled();
    const messages = await this.#queue.read(this.#topic, {
      ...(options.all ? {} : { after: handled }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
    });
    return messages.map((message) => entry(message, handled));
  }

  /**
   * Publishes the pending letters' original messages to their topics, once each, and marks
   * the letters handled. Resolves with how many letters and messages that was.
   */
  async replay(options: DeadLetterSelection = {}): Promise<{ letters: number; replayed: number }> {
    const { letters, before } = await this.#claim(options);
    if (letters.length === 0) return { letters: 0, replayed: 0 };
    const originals = new Map<string, QueueMessage>();
    for (const letter of letters) {
      const headers = letter.headers ?? {};
      const topic = headers[DEAD_LETTER_HEADERS.topic];
      const position = `${topic}\n${headers[DEAD_LETTER_HEADERS.partition]}\n${headers[DEAD_LETTER_HEADERS.offset]}`;
      if (topic === undefined || originals.has(position)) continue;
      const own = Object.fromEntries(
        Object.entries(headers).filter(([name]) => !name.startsWith(DEAD_LETTER_HEADER_PREFIX)),
      );
      originals.set(position, {
        topic,
        key: letter.key,
        value: letter.value,
        headers: { ...own, [REPLAYED_FROM_HEADER]: `${letter.partition}:${letter.offset}` },
      });
    }
    try {
      await this.#queue.publish([...originals.values()]);
    } catch (error) {
      await this.#unclaim(letters, before).catch(() => undefined);
      throw error;
    }
    return { letters: letters.length, replayed: originals.size };
  }

  /** Marks the pending letters handled without replaying them. */
  async drop(options: DeadLetterSelection = {}): Promise<{ letters: number }> {
    const { letters } = await this.#claim(options);
    return { letters: letters.length };
  }

  async #handled(): Promise<Map<number, string>> {
    const stored = await this.#store.getConsumerOffsets(this.#consumer);
    return new Map([...stored].filter(([, offset]) => offset !== NOTHING));
  }

  /** Reads the pending letters and marks them handled, unless another command did first. */
  async #claim(
    options: DeadLetterSelection,
  ): Promise<{ letters: DeliveredMessage[]; before: Map<number, string> }> {
    const before = await this.#store.getConsumerOffsets(this.#consumer);
    const after = new Map([...before].filter(([, offset]) => offset !== NOTHING));
    const letters = await this.#queue.read(this.#topic, {
      after,
      ...(options.limit === undefined ? {} : { limit: options.limit }),
    });
    if (letters.length === 0) return { letters, before };
    const next = new Map<number, string>();
    for (const letter of letters) next.set(letter.partition, letter.offset);
    try {
      await this.#store.putConsumerOffsets(this.#consumer, next, expectedOf(next, before));
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      throw new ConflictError(
        `another dead-letters command handled letters of ${this.#topic} meanwhile: list them again, then retry`,
        { cause: error, details: { topic: this.#topic } },
      );
    }
    return { letters, before };
  }

  /** Puts the marks back where they were (a failed replay). */
  async #unclaim(letters: DeliveredMessage[], before: Map<number, string>): Promise<void> {
    const claimed = new Map<number, string>();
    for (const letter of letters) claimed.set(letter.partition, letter.offset);
    const restore = new Map([...claimed.keys()].map((p) => [p, before.get(p) ?? NOTHING]));
    await this.#store.putConsumerOffsets(this.#consumer, restore, claimed);
  }
}

/** The stored offsets a compare-and-set of `next` expects: those of its partitions, if any. */
function expectedOf(
  next: ReadonlyMap<number, string>,
  before: ReadonlyMap<number, string>,
): Map<number, string> {
  const expected = new Map<number, string>();
  for (const partition of next.keys()) {
    const was = before.get(partition);
    if (was !== undefined) expected.set(partition, was);
  }
  return expected;
}

function entry(message: DeliveredMessage, handled: ReadonlyMap<number, string>): DeadLetterEntry {
  const headers = message.headers ?? {};
  const mark = handled.get(message.partition);
  return {
    partition: message.partition,
    offset: message.offset,
    key: message.key,
    group: headers[DEAD_LETTER_HEADERS.group] ?? '',
    errorCode: headers[DEAD_LETTER_HEADERS.errorCode] ?? '',
    errorMessage: headers[DEAD_LETTER_HEADERS.errorMessage] ?? '',
    failedAt: headers[DEAD_LETTER_HEADERS.failedAt] ?? '',
    topic: headers[DEAD_LETTER_HEADERS.topic] ?? '',
    originalPartition: Number(headers[DEAD_LETTER_HEADERS.partition] ?? -1),
    originalOffset: headers[DEAD_LETTER_HEADERS.offset] ?? '',
    state: mark !== undefined && BigInt(message.offset) <= BigInt(mark) ? 'handled' : 'pending',
  };
}
