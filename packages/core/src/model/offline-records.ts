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

/**
 * The phase a job is in and its figures, each when it can be known: a source's bytes read of
 * its total and the rows per second while an ingestion parses it, the phase's own fraction,
 * and the seconds it has left at its current pace.
 */
export interface JobPhaseProgress {
  /** `validate and write`, `statistics`, `commit`, `online apply`, `join customers`… */
  phase?: string;
  /** 0…1, of this phase alone. */
  phaseFraction?: number;
  bytesRead?: number;
  bytesTotal?: number;
  /** Rows this phase handled so far (an estimate while a text file is parsed). */
  rows?: number;
  rowsPerSecond?: number;
  /** Seconds this phase has left at its pace so far. */
  etaSeconds?: number;
}

/** Every long operation is a job: get, list, wait, cancel. */
export interface Job {
  id: string;
  /** `ingest`, `retrieve`, `historical`, `revert`, … */
  type: string;
  state: JobState;
  /** 0…1 */
  progress: number;
  /** What the job does now, with the figures of `detail` in words (`validate and write 40% · …`). */
  message?: string;
  /**
   * The figures of the running phase, while the job runs in this process (`JobService.get`);
   * other processes read them in `message`.
   */
  detail?: JobPhaseProgress;
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
