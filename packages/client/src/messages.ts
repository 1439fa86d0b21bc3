import type {
  AccessToken as AccessTokenMessage,
  FeatureSet as FeatureSetMessage,
  FeatureSetSchema as FeatureSetSchemaMessage,
  FeatureSetVersion as FeatureSetVersionMessage,
  Permission as PermissionMessage,
  Project as ProjectMessage,
  TagFilter as TagFilterMessage,
  User as UserMessage,
} from '@featurestore/protocol/featurestore/v1/core';
import { ValidationError } from './errors.js';
import type {
  FeatureSet,
  FeatureSetSchema,
  FeatureSetVersion,
  Permission,
  Project,
  Role,
  Tags,
  TokenInfo,
  User,
  Version,
} from './records.js';

/*
 * Protobuf messages ↔ the client's records. Proto3 has no "unset" for scalars: an empty
 * string or zero on the wire means "not given", and the records leave such fields out.
 */

/** The value, or undefined when it is the proto3 default (empty string). */
function present(value: string): string | undefined {
  return value === '' ? undefined : value;
}

function versionOf(version: Version | undefined): Version {
  return { major: version?.major ?? 0, minor: version?.minor ?? 0 };
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) {
    throw new ValidationError(`the server's answer has no ${field}: is it a Featurestore server?`, {
      details: { field },
    });
  }
  return value;
}

export function projectOf(message: ProjectMessage): Project {
  return {
    id: message.id,
    name: message.name,
    description: message.description,
    ownerId: message.ownerId,
    tags: message.tags,
    createdAt: required(message.createdAt, 'createdAt'),
    updatedAt: required(message.updatedAt, 'updatedAt'),
    revision: message.revision,
  };
}

function schemaOf(message: FeatureSetSchemaMessage | undefined): FeatureSetSchema {
  return {
    primaryKey: message?.primaryKey ?? [],
    eventTime: message?.eventTime ?? '',
    features: (message?.features ?? []).map((feature) => ({
      name: feature.name,
      type: feature.type,
      ...(feature.description === '' ? {} : { description: feature.description }),
      ...(Object.keys(feature.tags).length === 0 ? {} : { tags: feature.tags }),
      ...(feature.sensitive ? { sensitive: true } : {}),
    })),
  };
}

export function featureSetVersionOf(message: FeatureSetVersionMessage): FeatureSetVersion {
  const timeToLive = present(message.timeToLive);
  return {
    version: versionOf(message.version),
    schema: schemaOf(message.schema),
    description: message.description,
    tags: message.tags,
    ...(timeToLive === undefined ? {} : { timeToLive }),
    createdAt: required(message.createdAt, 'createdAt'),
    changes: message.changes,
  };
}

export function featureSetOf(message: FeatureSetMessage): FeatureSet {
  const timeToLive = present(message.timeToLive);
  return {
    id: message.id,
    projectName: message.project,
    name: message.name,
    version: versionOf(message.version),
    latestVersion: versionOf(message.latestVersion),
    schema: schemaOf(message.schema),
    description: message.description,
    tags: message.tags,
    ...(timeToLive === undefined ? {} : { timeToLive }),
    changes: message.changes,
    revision: message.revision,
    createdAt: required(message.createdAt, 'createdAt'),
    updatedAt: required(message.updatedAt, 'updatedAt'),
  };
}

export function permissionOf(message: PermissionMessage): Permission {
  return {
    projectName: message.project,
    userName: message.user,
    role: message.role as Role,
    grantedAt: required(message.grantedAt, 'grantedAt'),
  };
}

export function tokenOf(message: AccessTokenMessage | undefined): TokenInfo {
  const token = required(message, 'token');
  return {
    id: token.id,
    name: token.name,
    createdAt: required(token.createdAt, 'createdAt'),
    ...(token.expiresAt ? { expiresAt: token.expiresAt } : {}),
    ...(token.revokedAt ? { revokedAt: token.revokedAt } : {}),
    ...(token.lastUsedAt ? { lastUsedAt: token.lastUsedAt } : {}),
  };
}

export function userOf(message: UserMessage): User {
  const email = present(message.email);
  const oidcSubject = present(message.oidcSubject);
  // In the order the engine's records have them, so output is the same remote and embedded.
  return {
    id: message.id,
    name: message.name,
    admin: message.admin,
    createdAt: required(message.createdAt, 'createdAt'),
    ...(oidcSubject === undefined ? {} : { oidcSubject }),
    ...(email === undefined ? {} : { email }),
  };
}

export function tagFilterMessage(
  filter: { key: string; value?: string } | undefined,
): TagFilterMessage | undefined {
  if (filter === undefined) return undefined;
  return filter.value === undefined
    ? { key: filter.key }
    : { key: filter.key, value: filter.value };
}

const DEFINITION_FIELDS = [
  'primaryKey',
  'eventTime',
  'features',
  'description',
  'tags',
  'timeToLive',
];
const FEATURE_FIELDS = ['name', 'type', 'description', 'tags', 'sensitive'];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(field: string, value: unknown, message: string): never {
  throw new ValidationError(`${field} ${message}`, {
    details: { field, value: typeof value === 'string' ? value : String(JSON.stringify(value)) },
  });
}

function rejectUnknown(prefix: string, value: Record<string, unknown>, known: string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      fail(`${prefix}${key}`, key, `is not a known field: use ${known.join(', ')}`);
    }
  }
}

function stringField(field: string, value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'string') fail(field, value, 'must be a string');
  return value;
}

function tagsField(field: string, value: unknown): Tags {
  if (value === undefined) return {};
  if (!isRecord(value) || Object.values(value).some((tag) => typeof tag !== 'string')) {
    fail(field, value, 'must be an object of string values, e.g. {"team": "fraud"}');
  }
  return value as Tags;
}

/**
 * A definition in the schema file format as the wire carries it: the schema message and the
 * description, tags and time to live beside it. Only what the wire cannot carry is checked
 * here (the shape); the server validates the rest and names the field of any problem.
 */
export function definitionMessage(definition: unknown): {
  schema: FeatureSetSchemaMessage;
  description: string;
  tags: Tags;
  timeToLive: string;
} {
  if (!isRecord(definition)) {
    fail('definition', definition, 'must be an object: the schema file format');
  }
  rejectUnknown('', definition, DEFINITION_FIELDS);
  const { primaryKey, features } = definition;
  if (!Array.isArray(primaryKey) || primaryKey.some((column) => typeof column !== 'string')) {
    fail('primaryKey', primaryKey, 'must be a list of column names, e.g. ["customer_id"]');
  }
  if (!Array.isArray(features)) {
    fail('features', features, 'must be a list of features, e.g. [{"name": "x", "type": "int64"}]');
  }
  return {
    schema: {
      primaryKey,
      eventTime: stringField('eventTime', definition.eventTime),
      features: features.map((feature: unknown, index) => {
        const field = `features[${index}]`;
        if (!isRecord(feature)) fail(field, feature, 'must be an object with a name and a type');
        rejectUnknown(`${field}.`, feature, FEATURE_FIELDS);
        if (feature.sensitive !== undefined && typeof feature.sensitive !== 'boolean') {
          fail(`${field}.sensitive`, feature.sensitive, 'must be true or false');
        }
        return {
          name: stringField(`${field}.name`, feature.name),
          type: stringField(`${field}.type`, feature.type),
          description: stringField(`${field}.description`, feature.description),
          tags: tagsField(`${field}.tags`, feature.tags),
          sensitive: feature.sensitive === true,
        };
      }),
    },
    description: stringField('description', definition.description),
    tags: tagsField('tags', definition.tags),
    timeToLive: stringField('timeToLive', definition.timeToLive),
  };
}
