/*
 * What the client's methods take and return: the engine's record shapes, as far as the wire
 * carries them, declared here so the client does not depend on `@featurestore/core`.
 */

/** Free-form labels on projects, feature sets and features. */
export type Tags = Record<string, string>;

export interface Project {
  id: string;
  name: string;
  description: string;
  /** The principal id of the owner who created it. */
  ownerId: string;
  tags: Tags;
  createdAt: Date;
  updatedAt: Date;
  /** Increases by one with every update; pass it back to update for optimistic concurrency. */
  revision: number;
}

export interface FeatureSpec {
  name: string;
  /** bool, int32, int64, float32, float64, string, bytes, date, timestamp, list<scalar> */
  type: string;
  description?: string;
  tags?: Tags;
  /** Readable only by `sensitive_consumer` and above. */
  sensitive?: boolean;
}

export interface FeatureSetSchema {
  primaryKey: string[];
  eventTime: string;
  features: FeatureSpec[];
}

/** A version number `major.minor`: minor for metadata, major for schema changes. */
export interface Version {
  major: number;
  minor: number;
}

/** One version of a feature set: its schema and metadata as of that version. */
export interface FeatureSetVersion {
  version: Version;
  schema: FeatureSetSchema;
  description: string;
  tags: Tags;
  /** ISO 8601 duration, or undefined for no expiry. */
  timeToLive?: string;
  createdAt: Date;
  /** What changed against the previous version. */
  changes: string[];
}

/** A feature set as read: one version of it (the latest by default). */
export interface FeatureSet extends FeatureSetVersion {
  id: string;
  projectName: string;
  name: string;
  /** The newest version; `version` is the one this object describes. */
  latestVersion: Version;
  updatedAt: Date;
  revision: number;
}

/**
 * What `featureSets.register` takes: the schema file format (key and event-time columns are
 * listed among the features).
 */
export interface FeatureSetDefinition extends FeatureSetSchema {
  description?: string;
  tags?: Tags;
  /** ISO 8601 duration (`P30D`). */
  timeToLive?: string;
}

export interface User {
  id: string;
  name: string;
  /** Set for users mapped from an OIDC identity provider on first sight. */
  oidcSubject?: string;
  email?: string;
  admin: boolean;
  createdAt: Date;
}

/** A personal access token; its secret is never returned after creation. */
export interface TokenInfo {
  id: string;
  name: string;
  createdAt: Date;
  expiresAt?: Date;
  revokedAt?: Date;
  lastUsedAt?: Date;
}

export interface CreatedToken {
  token: TokenInfo;
  /** Shown once: only its hash is stored. */
  secret: string;
}

/** owner, editor, sensitive_consumer, consumer, viewer */
export type Role = 'viewer' | 'consumer' | 'sensitive_consumer' | 'editor' | 'owner';

export interface Permission {
  projectName: string;
  userName: string;
  role: Role;
  grantedAt: Date;
}

/** One page of a listing; pass `nextPageToken` back for the next page. */
export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

export interface PageRequest {
  /** At most this many items (default 100, max 1000). */
  pageSize?: number;
  /** The `nextPageToken` of the previous page. */
  pageToken?: string;
}

export interface TagFilter {
  key: string;
  value?: string;
}

export interface ListProjectsInput extends PageRequest {
  namePrefix?: string;
  /** Name of the owning user. */
  owner?: string;
  tag?: TagFilter;
  /** Case-insensitive substring of the description. */
  text?: string;
}

export interface ListFeatureSetsInput extends PageRequest {
  project?: string;
  namePrefix?: string;
  tag?: TagFilter;
  /** Feature sets whose latest schema has a feature of this name. */
  feature?: string;
  /** Case-insensitive substring of the name, the description or a feature description. */
  text?: string;
}

export interface CreateProjectInput {
  name: string;
  description?: string;
  tags?: Tags;
}

export interface UpdateProjectInput {
  description?: string;
  /** Replaces all tags. */
  tags?: Tags;
  /** The revision the caller read; a newer one on the server means `ConflictError`. */
  expectedRevision?: number;
}

export interface UpdateFeatureSetInput {
  description?: string;
  /** Replaces all tags. */
  tags?: Tags;
  /** An ISO 8601 duration, or `null` to remove the time to live. */
  timeToLive?: string | null;
  /**
   * A new definition (the schema file format). A changed schema makes a new major version;
   * its description, tags and time to live apply unless given above.
   */
  schema?: unknown;
  expectedRevision?: number;
}

/** A read of online features: `project/featureset[@version]:feature` refs, one object per entity. */
export interface OnlineFeaturesRequest {
  /** `:*` for every feature the caller may read; several feature sets allowed. */
  features: readonly string[];
  /** The primary-key columns of every referenced feature set, per entity. */
  entities: readonly Record<string, unknown>[];
}

/** `readOnlineFeatures`: the rows, and which of their null values are past their time to live. */
export interface OnlineFeaturesResult {
  rows: Record<string, unknown>[];
  /** The rows (from 0, in request order) with values past their time to live, and those columns. */
  expired: { row: number; columns: string[] }[];
}

export interface PushOptions {
  /**
   * How long the server retries the feature set lookup while its database is unavailable,
   * and with `waitApplied` or `waitSynced` how long each wait may take (default 30 s).
   */
  timeoutMs?: number;
  /** Answer once every row is readable online. */
  waitApplied?: boolean;
  /** Answer once every row is committed offline too (by the server's offline-sync workers). */
  waitSynced?: boolean;
}

export interface PushResult {
  pushId: string;
  rows: number;
  /** `project/featureset` */
  featureSet: string;
  /** Where each row sits on the queue, in row order. */
  positions: { partition: number; offset: string }[];
}

export type JobState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** Every long operation is a job: ingest, revert, retrieve, historical, materialize. */
export interface Job {
  id: string;
  /** `ingest`, `retrieve`, `historical`, `revert`, `materialize`… */
  type: string;
  state: JobState;
  /** 0…1 */
  progress: number;
  message?: string;
  /** The request as the caller made it. */
  request: Record<string, unknown>;
  /** The result once succeeded (ingest: ingestionId, rowCount…; retrieve: rowCount, format…). */
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
  cancelRequested: boolean;
  /** The id of the user who started it. */
  createdBy: string;
  projectId?: string;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
}

export interface ListJobsInput extends PageRequest {
  state?: JobState;
  type?: string;
}

export type DataFormat = 'csv' | 'parquet' | 'json';
export type OutputFormat = 'csv' | 'parquet';

export interface FeatureStatistics {
  count: number;
  nulls: number;
  min?: unknown;
  max?: unknown;
  mean?: number;
  stddev?: number;
  approxDistinct?: number;
}

/** One committed batch of rows of a feature set's major version. */
export interface Ingestion {
  id: string;
  sequence: number;
  state: 'committed' | 'reverted';
  /** Where the rows came from (`upload:<file name>` for uploads). */
  source: string;
  format?: DataFormat;
  rowCount: number;
  idempotencyKey?: string;
  major: number;
  jobId?: string;
  committedBy: string;
  committedAt: Date;
  revertedAt?: Date;
  /** Per feature; features the caller may not read are left out and named in `statisticsWithheld`. */
  statistics: Record<string, FeatureStatistics>;
  statisticsWithheld: string[];
}

/** Time travel: the data as it was right after an ingestion, or at a time. */
export type AsOf = { ingestionId: string } | { time: Date };
