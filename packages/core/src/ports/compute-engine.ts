import type { StatisticsLevel } from '../model/feature-set-settings.js';
import type { FeatureType } from '../model/feature-types.js';
import type { JobPhaseProgress } from '../model/offline-records.js';
import type { FeatureSetSchema } from '../model/records.js';

/*
 * Job specs are plain, JSON-serializable data: inputs and outputs are storage URIs
 * (`file://…`, `s3://…`, `abfss://…`) and schemas, so the same spec runs on DuckDB on one
 * machine or on Spark in a cluster. Results (row counts, files, statistics) come back as data.
 */

export type DataFormat = 'csv' | 'parquet' | 'json';

/** One committed ingestion's data files, with the sequence that orders it among the others. */
export interface IngestionInput {
  /** Monotonic across the feature set: greater = committed later; breaks event-time ties. */
  sequence: number;
  /** The ingestion's parts, in part order (as the ingest job returned them). */
  uris: string[];
}

/**
 * Validate and coerce a source against a schema, then write Parquet parts with exactly the
 * schema's columns. The parts keep the source's order (files in the order given, rows in file
 * order) and the result lists them in that order, so a row's position in the ingestion (the
 * rows of the earlier parts plus its place in its part) is known without storing it: it
 * breaks ties between rows with equal keys and event times. (Parts written before this rule
 * carry the position in a `__row` column instead, and need not be in order.)
 */
export interface IngestJobSpec {
  type: 'ingest';
  /** Files to read, all of one format (a folder or prefix already expanded, in order). */
  sources: string[];
  format: DataFormat;
  schema: FeatureSetSchema;
  /** Columns in the source that the schema lacks are an error unless this is set. */
  ignoreExtraColumns?: boolean;
  /** The folder URI the parts are written under (`…/part-<n>.parquet`). */
  outputPrefix: string;
  /**
   * `basic`: only count, nulls, min and max per feature (no mean, stddev or approximate
   * distinct values). Default `full`.
   */
  statistics?: StatisticsLevel;
}

/** Numbers describe the finite values: NaN and ±infinity count as values but not in min…stddev. */
export interface FeatureStatistics {
  count: number;
  nulls: number;
  /** Numbers for numeric features; ISO strings for times; absent for lists and bytes. */
  min?: number | string | boolean;
  max?: number | string | boolean;
  mean?: number;
  stddev?: number;
  approxDistinct?: number;
}

export interface IngestJobResult {
  rowCount: number;
  /** URIs of the written parts. */
  files: string[];
  statistics: Record<string, FeatureStatistics>;
}

/** Read a feature set version's committed data: all rows, an event-time range, or the latest per key. */
export interface RetrieveJobSpec {
  type: 'retrieve';
  schema: FeatureSetSchema;
  inputs: IngestionInput[];
  /** Inclusive lower bound on event time (ISO 8601). */
  from?: string;
  /** Exclusive upper bound on event time (ISO 8601). */
  to?: string;
  /** Only the newest row per key (ties: greater sequence, then later row). */
  latest?: boolean;
  /** `json` writes JSON Lines (times ISO 8601, int64 and bytes as text) for code to stream. */
  output: { uri: string; format: DataFormat };
}

/** A retrieve whose rows come back to the caller in batches instead of going to a file. */
export type RetrieveStreamSpec = Omit<RetrieveJobSpec, 'type' | 'output'>;

/**
 * One batch of a streamed retrieve, column by column: `columns[i]` holds the values of
 * `schema.features[i]`, `rowCount` of them, each as `JSON.parse` gives it from the JSON Lines
 * output (times ISO 8601 text, int64 and bytes as text, lists as arrays, NULL as null).
 */
export interface ColumnBatch {
  rowCount: number;
  columns: readonly (readonly unknown[])[];
}

export interface HistoricalFeatureSetSpec {
  /** Output columns are `<name>__<feature>`. */
  name: string;
  schema: FeatureSetSchema;
  inputs: IngestionInput[];
  features: string[];
  /** Rows older than this (relative to the entity time) do not match. */
  timeToLiveMs?: number;
}

/**
 * The point-in-time join (docs/architecture.md, "The point-in-time contract"): one output row per
 * entity row, in input order, duplicates kept; the entity file's columns first, then
 * `<featureset>__<feature>` per requested feature.
 */
export interface HistoricalJobSpec {
  type: 'historical';
  entities: { uri: string; format: DataFormat; timeColumn: string };
  featureSets: HistoricalFeatureSetSpec[];
  output: { uri: string; format: Exclude<DataFormat, 'json'> };
}

export interface OutputJobResult {
  rowCount: number;
  uri: string;
}

/**
 * Infer feature types from a source, by the strict rules ingestion applies, so that ingesting
 * the very source with the inferred types succeeds. Every row is read. Per column, the first
 * type that holds every value:
 * - CSV (text): `int64` (integer literals without leading zeros), `float64` (numbers with a
 *   dot or exponent, without leading zeros), `bool` (`true`/`false` in any case), `date`
 *   (`YYYY-MM-DD`), `timestamp` (ISO 8601, dates included), `list<…>` when every value is a
 *   JSON array (element types as in JSON Lines), else `string`.
 * - JSON Lines: by the JSON value's own type: booleans `bool`; whole numbers `int64` (beyond
 *   its range `float64`); numbers `float64`; strings `date`, `timestamp` or `string` as in
 *   CSV; arrays `list<…>` of their elements' type; mixed kinds `string`. Objects (as values or
 *   list elements) and arrays mixed with single values have no type: a `ValidationError`.
 * - Parquet: by the column's type: booleans `bool`; integers `int64` (`float64` when a value
 *   is beyond int64); floats and decimals `float64`; strings `string`; binary `bytes`; dates
 *   `date`; timestamps `timestamp`; lists `list<…>` of those; other types a `ValidationError`.
 * A column without any value is `string` (with a note). Bad input that ingestion refuses
 * whatever the schema (an empty file, a header only, files with different columns, a JSON
 * line that is not an object, a CSV line with too few fields) fails as it would there.
 */
export interface InferSchemaJobSpec {
  type: 'infer-schema';
  /** Files to read, all of one format (a folder or prefix already expanded, in order). */
  sources: string[];
  format: DataFormat;
}

export interface InferredFeature {
  /** The column's name as in the source. */
  name: string;
  type: FeatureType;
  /** True when some row has no value there (an empty field, a JSON null or missing key). */
  nullable: boolean;
}

export interface InferSchemaJobResult {
  /** One per source column, in the first file's column order. */
  features: InferredFeature[];
  rowCount: number;
  /**
   * What a reviewer should know about the values behind a type, one sentence each: a column
   * without values, mixed kinds made `string`, a value that kept a column from a narrower
   * type (quoted), a lossy widening.
   */
  notes: string[];
}

export type JobSpec = IngestJobSpec | RetrieveJobSpec | HistoricalJobSpec | InferSchemaJobSpec;

export interface JobResultOf {
  ingest: IngestJobResult;
  retrieve: OutputJobResult;
  historical: OutputJobResult;
  'infer-schema': InferSchemaJobResult;
}

/**
 * A progress report of a job: the whole job's `fraction`, and optionally the phase running now
 * with its own figures (`JobPhaseProgress`). Engines name their phases (ingest: `validate and
 * write`, `statistics`; historical: `read entities`, `join <feature set>`, `write output`);
 * the offline engine adds `commit` and `online apply` and scales the engine's fraction into
 * its share of the job.
 */
export interface JobProgress extends JobPhaseProgress {
  /** 0…1, of the whole job (of the engine's part, from a compute engine). Never goes back. */
  fraction: number;
  message?: string;
}

export interface JobRunContext {
  /** Aborted when the job is cancelled: the engine stops and rejects with `CancelledError`. */
  signal: AbortSignal;
  reportProgress(progress: JobProgress): void;
}

export interface ComputeEngineCapabilities {
  /** Job types this engine can run. */
  jobTypes: readonly JobSpec['type'][];
}

/**
 * Runs job specs. Bad input (a value that doesn't parse, a missing column…) rejects with a
 * `ValidationError` naming the file, row, column and value, and leaves no output behind.
 */
export interface ComputeEngine {
  readonly driver: string;
  readonly capabilities: ComputeEngineCapabilities;
  run<S extends JobSpec>(spec: S, context: JobRunContext): Promise<JobResultOf[S['type']]>;
  /**
   * Optional: a retrieve's rows streamed in columnar batches, in the order `retrieve` writes
   * them, with no file in between (the online materializer reads it; engines without it are
   * read through a JSON Lines file). Bad input rejects like `run`; cancelling `context.signal`
   * or leaving the iteration early ends the query.
   */
  streamRetrieve?(spec: RetrieveStreamSpec, context: JobRunContext): AsyncIterable<ColumnBatch>;
  close(): Promise<void>;
}
