import type {
  FeatureSet as EngineFeatureSet,
  FeatureSetSchema as EngineFeatureSetSchema,
  FeatureSetVersion as EngineFeatureSetVersion,
  Permission as EnginePermission,
  Project as EngineProject,
  User as EngineUser,
  Tags,
  TokenInfo,
} from '@featurestore/core';
import type {
  AccessToken,
  FeatureSet,
  FeatureSetSchema,
  FeatureSetVersion,
  Permission,
  Project,
  TagFilter,
  User,
} from '@featurestore/protocol/featurestore/v1/core';

/*
 * Engine records ↔ protobuf messages. Proto3 has no "unset" for scalars: an empty string or
 * zero on the wire means "not given" wherever the engine takes an optional value.
 */

/** The value, or undefined when it is the proto3 default (empty string, zero). */
export function given<T extends string | number>(value: T): T | undefined {
  return value === '' || value === 0 ? undefined : value;
}

/** A tag filter from a request; none when its key is empty. */
export function tagFilterOf(
  filter: TagFilter | undefined,
): { key: string; value?: string } | undefined {
  if (!filter || filter.key === '') return undefined;
  return filter.value === undefined
    ? { key: filter.key }
    : { key: filter.key, value: filter.value };
}

export function projectMessage(project: EngineProject): Project {
  return {
    id: project.id,
    name: project.name,
    description: project.description,
    ownerId: project.ownerId,
    tags: project.tags,
    createdAt: project.createdAt,
    updatedAt: project.updatedAt,
    revision: project.revision,
  };
}

function schemaMessage(schema: EngineFeatureSetSchema): FeatureSetSchema {
  return {
    primaryKey: schema.primaryKey,
    eventTime: schema.eventTime,
    features: schema.features.map((feature) => ({
      name: feature.name,
      type: feature.type,
      description: feature.description ?? '',
      tags: feature.tags ?? {},
      sensitive: feature.sensitive ?? false,
    })),
  };
}

/**
 * A schema message as the engine's definition format (what `register` and `update` parse and
 * validate): empty descriptions and tags and false flags are left out, as a schema file would.
 */
export function schemaDefinitionOf(schema: FeatureSetSchema): Record<string, unknown> {
  return {
    primaryKey: schema.primaryKey,
    eventTime: schema.eventTime,
    features: schema.features.map((feature) => ({
      name: feature.name,
      type: feature.type,
      ...(feature.description === '' ? {} : { description: feature.description }),
      ...(Object.keys(feature.tags).length === 0 ? {} : { tags: feature.tags }),
      ...(feature.sensitive ? { sensitive: true } : {}),
    })),
  };
}

export function featureSetVersionMessage(version: EngineFeatureSetVersion): FeatureSetVersion {
  return {
    version: version.version,
    schema: schemaMessage(version.schema),
    description: version.description,
    tags: version.tags,
    timeToLive: version.timeToLive ?? '',
    changes: version.changes,
    createdAt: version.createdAt,
  };
}

export function featureSetMessage(featureSet: EngineFeatureSet): FeatureSet {
  return {
    id: featureSet.id,
    project: featureSet.projectName,
    name: featureSet.name,
    version: featureSet.version,
    latestVersion: featureSet.latestVersion,
    schema: schemaMessage(featureSet.schema),
    description: featureSet.description,
    tags: featureSet.tags,
    timeToLive: featureSet.timeToLive ?? '',
    changes: featureSet.changes,
    revision: featureSet.revision,
    createdAt: featureSet.createdAt,
    updatedAt: featureSet.updatedAt,
  };
}

export function permissionMessage(
  permission: EnginePermission,
  project: string,
  user: string,
): Permission {
  return { project, user, role: permission.role, grantedAt: permission.grantedAt };
}

export function accessTokenMessage(token: TokenInfo): AccessToken {
  return {
    id: token.id,
    name: token.name,
    createdAt: token.createdAt,
    expiresAt: token.expiresAt,
    revokedAt: token.revokedAt,
    lastUsedAt: token.lastUsedAt,
  };
}

export function userMessage(user: EngineUser): User {
  return {
    id: user.id,
    name: user.name,
    email: user.email ?? '',
    admin: user.admin,
    oidcSubject: user.oidcSubject ?? '',
    createdAt: user.createdAt,
  };
}

/** Tags after an update: the given ones replace all when `replace`, else merge over `current`. */
export function updatedTags(current: Tags, given: Tags, replace: boolean): Tags | undefined {
  if (replace) return given;
  return Object.keys(given).length === 0 ? undefined : { ...current, ...given };
}
