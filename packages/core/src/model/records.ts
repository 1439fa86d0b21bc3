import type { FeatureType } from './feature-types.js';

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
  type: FeatureType;
  description?: string;
  tags?: Tags;
  /** Readable only by `sensitive_consumer` and above. */
  sensitive?: boolean;
}

/** What decides the data layout; changing it makes a new major version. */
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

/** One version of a feature set: a full snapshot of its schema and metadata. */
export interface FeatureSetVersion {
  featureSetId: string;
  version: Version;
  schema: FeatureSetSchema;
  description: string;
  tags: Tags;
  /** ISO 8601 duration, or undefined for no expiry. */
  timeToLive?: string;
  createdAt: Date;
  createdBy: string;
  /** Human-readable summary of what changed against the previous version. */
  changes: string[];
}

/** A feature set as read: its identity plus the snapshot of one version (the latest by default). */
export interface FeatureSet extends FeatureSetVersion {
  id: string;
  projectId: string;
  projectName: string;
  name: string;
  ownerId: string;
  /** The newest version; `version` is the one this object describes. */
  latestVersion: Version;
  createdAt: Date;
  updatedAt: Date;
  revision: number;
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

/** A personal access token as stored: the secret itself is never stored, only its hash. */
export interface AccessToken {
  id: string;
  userId: string;
  name: string;
  /** SHA-256 of the secret, hex. */
  secretHash: string;
  createdAt: Date;
  expiresAt?: Date;
  revokedAt?: Date;
  lastUsedAt?: Date;
}

export const ROLES = ['viewer', 'consumer', 'sensitive_consumer', 'editor', 'owner'] as const;
export type Role = (typeof ROLES)[number];

export interface Permission {
  projectId: string;
  userId: string;
  role: Role;
  grantedAt: Date;
  grantedBy: string;
}

/** One page of a listing; pass `nextPageToken` back for the next page. */
export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}
