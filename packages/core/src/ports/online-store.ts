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

export interface OnlineStoreCapabilities {
  /** Reads of several feature sets travel in one round trip (`readMany`). */
  multiFeatureSetRead: boolean;
}

/**
 * Latest feature values per (feature set version, primary key) for inference. Writes are
 * atomic newest-wins: an older event time never replaces a newer one, even under concurrent
 * writers. Every driver runs `onlineStoreConformance` from `@featurestore/core/testing`.
 */
export interface OnlineStore {
  readonly driver: string;
  readonly capabilities: OnlineStoreCapabilities;
  /** Applies the records that are newer than what is stored; returns how many applied. */
  write(featureSet: FeatureSetVersionRef, records: readonly OnlineRecord[]): Promise<number>;
  /** One result per requested key, in order; `undefined` for a missing or expired key. */
  read(request: OnlineReadRequest): Promise<(OnlineRecord | undefined)[]>;
  /** Several feature sets in one round trip, when `capabilities.multiFeatureSetRead`. */
  readMany?(requests: readonly OnlineReadRequest[]): Promise<(OnlineRecord | undefined)[][]>;
  delete(featureSet: FeatureSetVersionRef, keys: readonly (readonly string[])[]): Promise<void>;
  /** Removes every record of a feature set version. */
  drop(featureSet: FeatureSetVersionRef): Promise<void>;
  /** Every record of a feature set version, in no particular order. */
  scan(featureSet: FeatureSetVersionRef): AsyncIterable<OnlineRecord>;
  close(): Promise<void>;
}
