import { ValidationError } from '../errors.js';
import type { QueueMessage } from '../ports/message-queue.js';

/** Kafka's rule for topic names, which also keeps names safe as file names. */
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;

/**
 * Returns `name` when it is a valid topic or group name: letters, digits, `.`, `_` and `-`,
 * at most 249 characters (Kafka's rule), and not `.` or `..`.
 */
export function validateQueueName(kind: 'topic' | 'group', name: unknown): string {
  if (typeof name === 'string' && NAME_PATTERN.test(name) && name !== '.' && name !== '..') {
    return name;
  }
  throw new ValidationError(
    `${kind} name ${JSON.stringify(name)} is invalid: use letters, digits, ".", "_" and "-", at most 249 characters`,
    { details: { field: kind, value: name } },
  );
}

/** Checks the shape of a message before anything is written. */
export function validateQueueMessage(message: QueueMessage, index: number): void {
  validateQueueName('topic', message.topic);
  const fail = (field: string, what: string) => {
    throw new ValidationError(`message ${index} to ${message.topic}: ${field} ${what}`, {
      details: { field, index },
    });
  };
  if (typeof message.key !== 'string') fail('key', 'must be a string');
  if (!(message.value instanceof Uint8Array)) fail('value', 'must be a Uint8Array');
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (typeof value !== 'string') fail(`header ${JSON.stringify(name)}`, 'must be a string');
  }
}

/**
 * The partition of a key: FNV-1a (32 bits) of its UTF-8 bytes, modulo the partition count.
 * The mapping is persisted implicitly by the log (a key's messages live in one partition), so
 * it must never change between versions.
 */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}
