import type { FeatureSet } from '../model/records.js';
import type { QueueMessage } from '../ports/message-queue.js';
import { ONLINE_INGEST_TOPIC } from './pushed-row.js';
import { PushedRowsWriter } from './pushed-row-codec.js';
import { RowValidator, type ValidatedRow } from './row-validator.js';

/**
 * Key buckets per feature set version. The rows of one push that fall in one bucket travel as
 * one message keyed by the bucket: a key's rows always share a bucket, so they stay in push
 * order on one partition (what the offline sync's tie-break on equal event times relies on),
 * while the buckets spread a version over up to this many partitions and apply workers. One
 * message per row cost the queue client more than anything else in a push (partitioning,
 * checksums and framing are per message).
 */
export const PUSH_KEY_BUCKETS = 64;
/** A bucket's rows go into several messages past this size: brokers cap a message (1 MiB). */
const MAX_MESSAGE_BYTES = 256 * 1024;

export interface PushMessages {
  messages: QueueMessage[];
  /** For each row of the push, the index of the message that carries it. */
  messageOfRow: Uint32Array;
}

/**
 * Validates every row of a push against the feature set version (the first bad row throws,
 * before anything is encoded) and encodes them as ingest-topic messages, stamping each row
 * with a write sequence from `nextWriteSequence`, in row order.
 */
export function pushMessages(
  featureSet: FeatureSet,
  pushId: string,
  rows: readonly unknown[],
  nextWriteSequence: () => number,
): PushMessages {
  const validator = new RowValidator(featureSet);
  const validated: ValidatedRow[] = [];
  const sequences = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) validated.push(validator.validate(rows[i], i));
  for (let i = 0; i < rows.length; i++) sequences[i] = nextWriteSequence();

  // Rows of each bucket, in push order.
  const bucketRows = new Map<number, number[]>();
  for (let i = 0; i < validated.length; i++) {
    const bucket = keyBucket(validated[i]!.key);
    const list = bucketRows.get(bucket);
    if (list) list.push(i);
    else bucketRows.set(bucket, [i]);
  }

  const header = {
    pushId,
    featureSetId: featureSet.id,
    major: featureSet.version.major,
    names: validator.names,
  };
  const writer = new PushedRowsWriter(Math.min(64 * 1024 + rows.length * 128, 8 * 1024 * 1024));
  const messages: QueueMessage[] = [];
  const messageOfRow = new Uint32Array(rows.length);
  for (const [bucket, indexes] of bucketRows) {
    const key = `${featureSet.id}/${featureSet.version.major}/${bucket}`;
    writer.begin(header);
    for (const index of indexes) {
      if (writer.rows > 0 && writer.size >= MAX_MESSAGE_BYTES) {
        messages.push({ topic: ONLINE_INGEST_TOPIC, key, value: writer.end() });
        writer.begin(header);
      }
      const row = validated[index]!;
      writer.add(row.key, row.eventTime, sequences[index]!, row.values);
      messageOfRow[index] = messages.length;
    }
    messages.push({ topic: ONLINE_INGEST_TOPIC, key, value: writer.end() });
  }
  return { messages, messageOfRow };
}

/**
 * The bucket of a key: FNV-1a over its components, each preceded by its length (so
 * `['ab', 'c']` and `['a', 'bc']` differ). Part of the message format: every pushing process
 * must compute the same bucket for a key, so this never changes within format 1.
 */
export function keyBucket(key: readonly string[]): number {
  let hash = 0x811c9dc5;
  for (const component of key) {
    hash = Math.imul(hash ^ component.length, 0x01000193);
    for (let i = 0; i < component.length; i++) {
      hash = Math.imul(hash ^ component.charCodeAt(i), 0x01000193);
    }
  }
  return (hash >>> 0) % PUSH_KEY_BUCKETS;
}
