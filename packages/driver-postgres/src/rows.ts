import type {
  AccessToken,
  DataFormat,
  FeatureSet,
  FeatureSetSchema,
  FeatureSetVersion,
  FeatureStatistics,
  Ingestion,
  IngestionState,
  Job,
  JobState,
  Permission,
  Project,
  Role,
  Tags,
  User,
} from '@featurestore/core/driver';
import type { SqlRow } from './sql-client.js';

// Both clients parse timestamptz into Date, jsonb into values and int4 into number; the
// conversions below only pin the types and drop NULLs, so optional fields are absent.
// int8 is the exception: `pg` returns it as a string (it may exceed 2^53), so bigint
// columns go through Number(); sequences and row counts stay far below 2^53.

function date(value: unknown): Date {
  return value instanceof Date ? value : new Date(value as string);
}

function optionalDate(value: unknown): Date | undefined {
  return value === null || value === undefined ? undefined : date(value);
}

function tags(value: unknown): Tags {
  return (value ?? {}) as Tags;
}

export function toProject(row: SqlRow): Project {
  return {
    id: row.id as string,
    name: row.name as string,
    description: row.description as string,
    ownerId: row.owner_id as string,
    tags: tags(row.tags),
    createdAt: date(row.created_at),
    updatedAt: date(row.updated_at),
    revision: row.revision as number,
  };
}

/** Columns `toFeatureSet` reads: the feature set `fs`, its project `p`, one version `v`. */
export const FEATURE_SET_COLUMNS = `fs.id, fs.project_id, p.name AS project_name, fs.name,
  fs.owner_id, fs.latest_major, fs.latest_minor, fs.created_at, fs.updated_at, fs.revision,
  v.major, v.minor, v.schema, v.description, v.tags, v.time_to_live, v.created_by, v.changes`;

export function toFeatureSet(row: SqlRow): FeatureSet {
  const featureSet: FeatureSet = {
    id: row.id as string,
    projectId: row.project_id as string,
    projectName: row.project_name as string,
    name: row.name as string,
    ownerId: row.owner_id as string,
    featureSetId: row.id as string,
    version: { major: row.major as number, minor: row.minor as number },
    latestVersion: { major: row.latest_major as number, minor: row.latest_minor as number },
    schema: row.schema as FeatureSetSchema,
    description: row.description as string,
    tags: tags(row.tags),
    createdAt: date(row.created_at),
    updatedAt: date(row.updated_at),
    createdBy: row.created_by as string,
    changes: (row.changes ?? []) as string[],
    revision: row.revision as number,
  };
  if (row.time_to_live !== null && row.time_to_live !== undefined) {
    featureSet.timeToLive = row.time_to_live as string;
  }
  return featureSet;
}

export function toFeatureSetVersion(row: SqlRow): FeatureSetVersion {
  const version: FeatureSetVersion = {
    featureSetId: row.feature_set_id as string,
    version: { major: row.major as number, minor: row.minor as number },
    schema: row.schema as FeatureSetSchema,
    description: row.description as string,
    tags: tags(row.tags),
    createdAt: date(row.created_at),
    createdBy: row.created_by as string,
    changes: (row.changes ?? []) as string[],
  };
  if (row.time_to_live !== null && row.time_to_live !== undefined) {
    version.timeToLive = row.time_to_live as string;
  }
  return version;
}

export function toUser(row: SqlRow): User {
  const user: User = {
    id: row.id as string,
    name: row.name as string,
    admin: row.admin as boolean,
    createdAt: date(row.created_at),
  };
  if (row.oidc_subject !== null) user.oidcSubject = row.oidc_subject as string;
  if (row.email !== null) user.email = row.email as string;
  return user;
}

export function toToken(row: SqlRow): AccessToken {
  const token: AccessToken = {
    id: row.id as string,
    userId: row.user_id as string,
    name: row.name as string,
    secretHash: row.secret_hash as string,
    createdAt: date(row.created_at),
  };
  const expiresAt = optionalDate(row.expires_at);
  const revokedAt = optionalDate(row.revoked_at);
  const lastUsedAt = optionalDate(row.last_used_at);
  if (expiresAt) token.expiresAt = expiresAt;
  if (revokedAt) token.revokedAt = revokedAt;
  if (lastUsedAt) token.lastUsedAt = lastUsedAt;
  return token;
}

export function toPermission(row: SqlRow): Permission {
  return {
    projectId: row.project_id as string,
    userId: row.user_id as string,
    role: row.role as Role,
    grantedAt: date(row.granted_at),
    grantedBy: row.granted_by as string,
  };
}

export function toIngestion(row: SqlRow): Ingestion {
  const ingestion: Ingestion = {
    id: row.id as string,
    featureSetId: row.feature_set_id as string,
    major: row.major as number,
    sequence: Number(row.sequence),
    source: row.source as string,
    format: row.format as DataFormat,
    rowCount: Number(row.row_count),
    files: (row.files ?? []) as string[],
    statistics: (row.statistics ?? {}) as Record<string, FeatureStatistics>,
    committedAt: date(row.committed_at),
    committedBy: row.committed_by as string,
    state: row.state as IngestionState,
  };
  if (row.idempotency_key !== null) ingestion.idempotencyKey = row.idempotency_key as string;
  if (row.job_id !== null) ingestion.jobId = row.job_id as string;
  const revertedAt = optionalDate(row.reverted_at);
  if (revertedAt) ingestion.revertedAt = revertedAt;
  if (row.reverted_by !== null) ingestion.revertedBy = row.reverted_by as string;
  return ingestion;
}

export function toJob(row: SqlRow): Job {
  const job: Job = {
    id: row.id as string,
    type: row.type as string,
    state: row.state as JobState,
    progress: Number(row.progress),
    request: (row.request ?? {}) as Record<string, unknown>,
    cancelRequested: row.cancel_requested as boolean,
    createdBy: row.created_by as string,
    createdAt: date(row.created_at),
  };
  if (row.message !== null) job.message = row.message as string;
  if (row.result !== null) job.result = row.result as Record<string, unknown>;
  if (row.error !== null) job.error = row.error as { code: string; message: string };
  if (row.project_id !== null) job.projectId = row.project_id as string;
  const startedAt = optionalDate(row.started_at);
  const finishedAt = optionalDate(row.finished_at);
  if (startedAt) job.startedAt = startedAt;
  if (finishedAt) job.finishedAt = finishedAt;
  return job;
}
