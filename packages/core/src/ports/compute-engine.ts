/**
 * A job spec is plain data: inputs and outputs are storage URIs, so the same spec runs on
 * DuckDB on one machine or on Spark in a cluster.
 */
export interface JobSpec {
  /** The kind of work: `ingest`, `retrieve`, `historical`, `materialize`, `statistics`… */
  type: string;
  /** Kind-specific parameters (URIs, schema, filters); JSON-serializable. */
  parameters: Record<string, unknown>;
}

export interface JobProgress {
  /** 0…1 */
  fraction: number;
  message?: string;
}

export interface JobRunContext {
  signal: AbortSignal;
  reportProgress(progress: JobProgress): void;
}

export interface ComputeEngineCapabilities {
  /** Job types this engine can run. */
  jobTypes: readonly string[];
}

/** Runs job specs; results (row counts, statistics, output URIs) come back as data. */
export interface ComputeEngine {
  readonly driver: string;
  readonly capabilities: ComputeEngineCapabilities;
  run(spec: JobSpec, context: JobRunContext): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}
