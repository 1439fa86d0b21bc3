import type { OnlineValue } from '../ports/online-store.js';

/** Rows pushed for online ingestion, keyed by feature set version and key bucket (`keyBucket`). */
export const ONLINE_INGEST_TOPIC = 'featurestore.online.ingest';

/**
 * One pushed row, validated at push, as the apply and sync workers read it from the queue
 * (`decodePushedRows`: a message holds one or more of them).
 */
export interface PushedRow {
  pushId: string;
  featureSetId: string;
  major: number;
  /** Key components as the online store keys them (`keyComponent`). */
  key: string[];
  /** Epoch milliseconds. */
  eventTime: number;
  writeSequence: number;
  values: Record<string, OnlineValue>;
}
