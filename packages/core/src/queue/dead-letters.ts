import { type ErrorOptions, FeatureStoreError } from '../errors.js';
import type { DeliveredMessage, MessageQueue, SubscribeOptions } from '../ports/message-queue.js';

/** Appended to a topic's name to name its dead-letter topic (`<topic>.dead`). */
export const DEAD_LETTER_SUFFIX = '.dead';

/** Headers a dead letter carries besides the original message's own. */
export const DEAD_LETTER_HEADERS = {
  /** The consumer group that refused the message. */
  group: 'featurestore.dead-letter.group',
  /** The stable code of the failure (`VALIDATION`, `NOT_FOUND`…). */
  errorCode: 'featurestore.dead-letter.error-code',
  /** The failure's message, cut to `MAX_ERROR_MESSAGE` characters. */
  errorMessage: 'featurestore.dead-letter.error-message',
  /** When the message was refused, ISO 8601. */
  failedAt: 'featurestore.dead-letter.failed-at',
  /** Where the original sits: topic (as the consumer named it), partition and offset. */
  topic: 'featurestore.dead-letter.topic',
  partition: 'featurestore.dead-letter.partition',
  offset: 'featurestore.dead-letter.offset',
} as const;

/** Longest error message kept in a header: a header is no place for a whole stack of causes. */
const MAX_ERROR_MESSAGE = 1000;

/** The dead-letter topic of `topic`. */
export function deadLetterTopic(topic: string): string {
  return `${topic}${DEAD_LETTER_SUFFIX}`;
}

/**
 * A failure of a message's own content, which every delivery of it meets: bytes that do not
 * decode, a feature set version that does not exist. A handler throws it for what it finds in
 * the message itself; it is the only failure `DeadLetters` moves to the dead-letter topic.
 * Its code is `VALIDATION` (default) or `NOT_FOUND`.
 *
 * @example
 * throw new MessageContentError(`the message at offset ${offset} does not decode: …`);
 */
export class MessageContentError extends FeatureStoreError {
  constructor(message: string, options: ErrorOptions & { code?: 'VALIDATION' | 'NOT_FOUND' } = {}) {
    const { code = 'VALIDATION', ...rest } = options;
    super(code, message, { ...rest, retryable: false });
  }
}

/**
 * True only for a `MessageContentError`: a failure the message itself causes. Everything else
 * is retried, however permanent its code looks: a `NotFoundError` for a missing bucket, a
 * `PermissionDeniedError` for denied credentials, a `ValidationError` from a misconfigured
 * backend, a full disk, a store down, a bug. Those are failures of the environment, which
 * every message would meet: dead-lettering them would empty the topic into the dead-letter
 * topic and lose good rows, while retrying delivers them once the environment is fixed.
 */
export function isPermanentFailure(error: unknown): error is MessageContentError {
  return error instanceof MessageContentError && !error.retryable;
}

/** A message moved to the dead-letter topic, as `onDeadLetter` reports it. */
export interface DeadLetter {
  /** The message as the consumer received it. */
  message: DeliveredMessage;
  group: string;
  deadLetterTopic: string;
  /** The permanent failure. */
  error: FeatureStoreError;
  failedAt: Date;
}

export interface DeadLettersOptions {
  /** Where dead letters are published: the queue the consumer reads, so namespaces carry over. */
  queue: MessageQueue;
  /** The consumer group, named in each dead letter's headers. */
  group: string;
  /** Called once a dead letter is published, before the batch is committed. */
  onDeadLetter?: (letter: DeadLetter) => void;
}

/**
 * Keeps a message that can never be handled from blocking its partition, as Kafka Connect's
 * `errors.deadletterqueue` and Spring Kafka's dead-letter topics do. `wrap(handler)` returns a
 * queue handler that passes each batch on; when the handler fails because of a message's
 * content (`isPermanentFailure`: a `MessageContentError`), the batch is split in halves and each half handled in order, down to
 * single messages: the ones that still fail alone are published to `<topic>.dead` with headers
 * saying which group refused them, why, when, and where they came from, and the batch is then
 * committed. Any other failure rejects the batch as before (redelivered after a backoff).
 *
 * Dead letters are published before the handler resolves, so before the commit: a crash in
 * between publishes them again (at-least-once, like everything on the queue). Halving finds a
 * bad message among `n` in about `2·log2(n)` handler calls while the good ones are still
 * handled in batches (one offline ingestion per half, not per row).
 *
 * @example
 * const letters = new DeadLetters({ queue, group: 'featurestore.online.apply' });
 * await queue.subscribe({ topic, group, handler: letters.wrap((messages) => apply(messages)) });
 * letters.count; // messages dead-lettered so far by this consumer
 */
export class DeadLetters {
  readonly #queue: MessageQueue;
  readonly #group: string;
  readonly #onDeadLetter: ((letter: DeadLetter) => void) | undefined;
  /**
   * Positions dead-lettered in a batch not committed yet: when a transient failure later in
   * the batch sends it again, they are left out instead of published a second time.
   */
  readonly #pending = new Set<string>();
  #count = 0;

  constructor(options: DeadLettersOptions) {
    this.#queue = options.queue;
    this.#group = options.group;
    this.#onDeadLetter = options.onDeadLetter;
  }

  /** Messages this consumer has published to a dead-letter topic since it was created. */
  get count(): number {
    return this.#count;
  }

  /** The handler to subscribe with: `handler` behind the dead-letter rule. */
  wrap(handler: SubscribeOptions['handler']): SubscribeOptions['handler'] {
    return async (messages) => {
      const keys = messages.map(positionKey);
      await this.#handle(
        messages.filter((_, i) => !this.#pending.has(keys[i]!)),
        handler,
      );
      // Resolving commits the batch: what it dead-lettered will not come again.
      for (const key of keys) this.#pending.delete(key);
    };
  }

  async #handle(messages: DeliveredMessage[], handler: SubscribeOptions['handler']): Promise<void> {
    if (messages.length === 0) return;
    try {
      await handler(messages);
      return;
    } catch (error) {
      if (!isPermanentFailure(error)) throw error;
      if (messages.length === 1) {
        await this.#deadLetter(messages[0]!, error);
        return;
      }
    }
    // In order: a key's messages sit in one partition, and the first half holds the earlier.
    const half = Math.ceil(messages.length / 2);
    await this.#handle(messages.slice(0, half), handler);
    await this.#handle(messages.slice(half), handler);
  }

  async #deadLetter(message: DeliveredMessage, error: FeatureStoreError): Promise<void> {
    const failedAt = new Date();
    const topic = deadLetterTopic(message.topic);
    await this.#queue.publish([
      {
        topic,
        key: message.key,
        value: message.value,
        headers: {
          ...message.headers,
          [DEAD_LETTER_HEADERS.group]: this.#group,
          [DEAD_LETTER_HEADERS.errorCode]: error.code,
          [DEAD_LETTER_HEADERS.errorMessage]: error.message.slice(0, MAX_ERROR_MESSAGE),
          [DEAD_LETTER_HEADERS.failedAt]: failedAt.toISOString(),
          [DEAD_LETTER_HEADERS.topic]: message.topic,
          [DEAD_LETTER_HEADERS.partition]: String(message.partition),
          [DEAD_LETTER_HEADERS.offset]: message.offset,
        },
      },
    ]);
    this.#pending.add(positionKey(message));
    this.#count++;
    try {
      this.#onDeadLetter?.({
        message,
        group: this.#group,
        deadLetterTopic: topic,
        error,
        failedAt,
      });
    } catch {
      // A failing report must not send the batch again: the dead letter is published.
    }
  }
}

/**
 * A message moved to a dead-letter topic, as an error-report hook (`OfflineSyncOptions.onError`)
 * receives it: the code is the failure's, `cause` the failure, `details` where it was.
 */
export class DeadLetterError extends FeatureStoreError {
  constructor(letter: DeadLetter) {
    const { message, group, deadLetterTopic, error } = letter;
    super(
      error.code,
      `group ${group} moved the message at ${message.topic} partition ${message.partition} offset ${message.offset} to ${deadLetterTopic}, as it can never be handled: ${error.message}`,
      {
        cause: error,
        details: {
          group,
          topic: message.topic,
          partition: message.partition,
          offset: message.offset,
          deadLetterTopic,
        },
      },
    );
  }
}

function positionKey(message: DeliveredMessage): string {
  return `${message.topic}\n${message.partition}\n${message.offset}`;
}
