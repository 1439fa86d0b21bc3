import type { OnlineValue } from '../ports/online-store.js';

/** Rows pushed for online ingestion, keyed by feature set version and primary key. */
export const ONLINE_INGEST_TOPIC = 'featurestore.online.ingest';

/** One pushed row on the queue (JSON): validated at push, read by the apply and sync workers. */
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
