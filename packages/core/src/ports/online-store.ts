/** Identifies the data lineage of one feature set major version. */
export interface FeatureSetVersionRef {
  featureSetId: string;
  major: number;
}

/** A feature value as stored online: JSON-compatible scalars, lists, or null. */
export type OnlineValue = string | number | boolean | null | OnlineValue[];

/**
 * One row to apply under the newest-wins rule: it replaces the stored record of its key only
 * when its event time is greater, or equal with a greater-or-equal write sequence.
 */
export interface OnlineRecord {
  /** The primary key values in schema order, encoded as strings. */
  key: readonly string[];
  /** Event time in epoch milliseconds. */
  eventTime: number;
  /** Breaks ties between equal event times: the greater (or equal) sequence wins. */
  writeSequence: number;
  values: Readonly<Record<string, OnlineValue>>;
}

/** A stored record's place in the newest-wins order, as a replacement expects to find it. */
export interface OnlineRecordVersion {
  eventTime: number;
  writeSequence: number;
}

/**
 * One key to set past the newest-wins rule (`OnlineStore.replace`), on the condition that its
 * stored record is still the one the caller based its decision on.
 */
export interface OnlineReplacement {
  /** The primary key values in schema order, encoded as strings. */
  key: readonly string[];
  /**
   * The event time and write sequence of the record the caller read for this key, or `null`
   * when the key had none: the replacement applies only while the store still holds exactly
   * that.
   */
  expected: OnlineRecordVersion | null;
  /** The record to store (whatever its event time), or `null` to remove the key. */
  record: Omit<OnlineRecord, 'key'> | null;
}

export interface OnlineReadRequest {
  featureSet: FeatureSetVersionRef;
  keys: readonly (readonly string[])[];
  /** Only these features (all when omitted). */
  features?: readonly string[];
  /** Records whose event time is at or before `now - ttlMs` read as missing. */
  ttlMs?: number;
  /** The reader's clock in epoch ms (default `Date.now()`), for TTL. */
  now?: number;
}

/**
 * Latest feature values per (feature set version, primary key) for inference. Writes are
 * atomic newest-wins: an older event time never replaces a newer one, even under concurrent
 * writers. Every driver runs `onlineStoreConformance` from `@featurestore/core/testing`.
 *
 * **Replacing past newest-wins.** A revert of an ingestion, and `materialize --rebuild`, must
 * put an *older* value back over one the store holds (the reverted ingestion's, which was
 * newer). They do it with `replace`, a compare-and-set per key: the caller reads the stored
 * record, decides from it (does it hold a reverted ingestion's value? does it differ from the
 * offline data?) and replaces it on the condition that the store still holds that record
 * (same event time and write sequence, or still no record). The rule, then:
 *
 * - `write` (pushes, materialization): newest wins, by (event time, write sequence).
 * - `replace`: whatever the event times, but only over the record it was decided on. A write
 *   that lands between the read and the replace (a concurrent push of a newer value) makes
 *   the replace fail for that key, and the caller decides again from what it finds: a newer
 *   push is never lost to a recomputation.
 * - After a replace, ordinary writes follow newest-wins against the replaced record.
 *
 * No record carries a generation or its origin: the (event time, write sequence) pair the
 * caller saw is the version it compares, so old records and formats need no change.
 */
export interface OnlineStore {
  readonly driver: string;
  /** Applies the records that are newer than what is stored; returns how many applied. */
  write(featureSet: FeatureSetVersionRef, records: readonly OnlineRecord[]): Promise<number>;
  /** One result per requested key, in order; `undefined` for a missing or expired key. */
  read(request: OnlineReadRequest): Promise<(OnlineRecord | undefined)[]>;
  /**
   * Several feature sets in one round trip; the engine uses it when present and otherwise
   * sends one `read` per feature set, together.
   */
  readMany?(requests: readonly OnlineReadRequest[]): Promise<(OnlineRecord | undefined)[][]>;
  /**
   * Compare-and-set past the newest-wins rule: each replacement applies, atomically per key,
   * only when the key's stored record still has the `expected` event time and write sequence
   * (or, with `expected: null`, the key still has no record); its `record` is then stored
   * whatever its event time, or the key removed when `record` is `null`. Returns, per
   * replacement in order, whether it applied. A key may appear once per call.
   */
  replace(
    featureSet: FeatureSetVersionRef,
    replacements: readonly OnlineReplacement[],
  ): Promise<boolean[]>;
  delete(featureSet: FeatureSetVersionRef, keys: readonly (readonly string[])[]): Promise<void>;
  /** Removes every record of a feature set version. */
  drop(featureSet: FeatureSetVersionRef): Promise<void>;
  /** Every record of a feature set version, in no particular order. */
  scan(featureSet: FeatureSetVersionRef): AsyncIterable<OnlineRecord>;
  close(): Promise<void>;
}
