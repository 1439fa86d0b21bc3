import type { DataFormat, FeatureStatistics } from '../ports/compute-engine.js';

export type IngestionState = 'committed' | 'reverted';

/** One committed batch of rows for one feature set major version (docs/concepts.md, "Ingestions"). */
export interface Ingestion {
  id: string;
  featureSetId: string;
  /** The major version (data lineage) the rows belong to. */
  major: number;
  /**
   * Assigned by the store at commit, increasing across the whole store: a later commit has
   * a greater sequence. Breaks event-time ties in point-in-time joins.
   */
  sequence: number;
  /** A retry with the same key returns this ingestion instead of ingesting again. */
  idempotencyKey?: string;
  /** Where the rows came from, as the user named it. */
  source: string;
  format: DataFormat;
  rowCount: number;
  /** Storage keys of the Parquet parts. */
  files: string[];
  statistics: Record<string, FeatureStatistics>;
  committedAt: Date;
  committedBy: string;
  jobId?: string;
  state: IngestionState;
  revertedAt?: Date;
  revertedBy?: string;
}

export const JOB_STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_JOB_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

/** Every long operation is a job: get, list, wait, cancel. */
export interface Job {
  id: string;
  /** `ingest`, `retrieve`, `historical`, `revert`, … */
  type: string;
  state: JobState;
  /** 0…1 */
  progress: number;
  message?: string;
  /** The request as the caller made it (JSON). */
  request: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
  /** Set by `cancel`; the runner stops the job at its next check. */
  cancelRequested: boolean;
  createdBy: string;
  projectId?: string;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
}
