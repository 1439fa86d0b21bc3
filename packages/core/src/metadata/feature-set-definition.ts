import { ValidationError } from '../errors.js';
import { validateName } from '../identifiers.js';
import { parseDuration } from '../model/duration.js';
import { checkFeatureSetSettings } from '../model/feature-set-settings.js';
import { parseFeatureType } from '../model/feature-types.js';
import type { FeatureSetSchema, FeatureSpec, Tags } from '../model/records.js';

/**
 * What a user registers: the schema file format (docs/concepts.md, schemas/feature-set.schema.json). Key and
 * event-time columns are listed among the features with their types.
 */
export interface FeatureSetDefinition {
  primaryKey: string[];
  eventTime: string;
  features: FeatureSpec[];
  description?: string;
  tags?: Tags;
  /** ISO 8601 duration (`P30D`). */
  timeToLive?: string;
}

const DEFINITION_FIELDS = new Set([
  'primaryKey',
  'eventTime',
  'features',
  'description',
  'tags',
  'timeToLive',
]);
const FEATURE_FIELDS = new Set(['name', 'type', 'description', 'tags', 'sensitive']);
/**
 * Names a feature can't have: DuckDB's Parquet reader numbers rows in a column
 * `file_row_number` (how the offline engine finds a row's position) and refuses files that
 * already have one.
 */
const RESERVED_FEATURE_NAMES = new Set(['file_row_number']);
const KEY_TYPES = new Set(['bool', 'int32', 'int64', 'string', 'bytes', 'date', 'timestamp']);

function fail(field: string, value: unknown, message: string): never {
  throw new ValidationError(`${field} ${message}`, { details: { field, value } });
}

function parseTags(field: string, value: unknown): Tags {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(field, value, 'must be an object of string values, e.g. {"team": "fraud"}');
  }
  for (const [key, tag] of Object.entries(value)) {
    if (typeof tag !== 'string') fail(`${field}.${key}`, tag, 'must be a string');
  }
  return value as Tags;
}

function parseOptionalString(field: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') fail(field, value, 'must be a string');
  return value;
}

function rejectUnknownFields(field: string, value: object, known: Set<string>): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      fail(`${field}${key}`, key, `is not a known field: use ${[...known].join(', ')}`);
    }
  }
}

/** Parses and validates a time-to-live, returning it unchanged. */
export function parseTimeToLive(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail('timeToLive', value, 'must be an ISO 8601 duration string');
  parseDuration('timeToLive', value);
  return value;
}

/**
 * Validates a definition from untrusted JSON, naming the field and value of the first
 * problem: unknown types, invalid or duplicate names, a key or event time that is not a
 * feature or has the wrong type.
 */
export function parseFeatureSetDefinition(input: unknown): FeatureSetDefinition {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    fail('schema', input, 'must be a JSON object with primaryKey, eventTime and features');
  }
  const raw = input as Record<string, unknown>;
  rejectUnknownFields('schema.', raw, DEFINITION_FIELDS);

  if (!Array.isArray(raw.features) || raw.features.length === 0) {
    fail('features', raw.features, 'must be a non-empty array of {name, type}');
  }
  const seen = new Set<string>();
  const features: FeatureSpec[] = raw.features.map((item: unknown, index: number) => {
    const field = `features[${index}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      fail(field, item, 'must be an object {name, type}');
    }
    const feature = item as Record<string, unknown>;
    rejectUnknownFields(`${field}.`, feature, FEATURE_FIELDS);
    const name = validateName(`${field}.name: feature`, feature.name);
    if (RESERVED_FEATURE_NAMES.has(name)) {
      fail(
        `${field}.name`,
        name,
        `"${name}" is reserved: Parquet readers add a column of that name to number the rows of data files; rename the feature`,
      );
    }
    if (seen.has(name)) fail(`${field}.name`, name, `"${name}" is a duplicate feature name`);
    seen.add(name);
    const spec: FeatureSpec = { name, type: parseFeatureType(`${field}.type`, feature.type) };
    const description = parseOptionalString(`${field}.description`, feature.description);
    if (description !== undefined) spec.description = description;
    if (feature.tags !== undefined) spec.tags = parseTags(`${field}.tags`, feature.tags);
    if (feature.sensitive !== undefined) {
      if (typeof feature.sensitive !== 'boolean') {
        fail(`${field}.sensitive`, feature.sensitive, 'must be true or false');
      }
      spec.sensitive = feature.sensitive;
    }
    return spec;
  });
  const byName = new Map(features.map((feature) => [feature.name, feature]));

  if (!Array.isArray(raw.primaryKey) || raw.primaryKey.length === 0) {
    fail('primaryKey', raw.primaryKey, 'must be a non-empty array of feature names');
  }
  const primaryKey = raw.primaryKey.map((column: unknown, index: number) => {
    const feature = byName.get(column as string);
    if (!feature) {
      fail(`primaryKey[${index}]`, column, `${JSON.stringify(column)} is not one of the features`);
    }
    if (!KEY_TYPES.has(feature.type)) {
      fail(
        `primaryKey[${index}]`,
        column,
        `"${feature.name}" has type ${feature.type}, which cannot be a key: use ${[...KEY_TYPES].join(', ')}`,
      );
    }
    return feature.name;
  });
  if (new Set(primaryKey).size !== primaryKey.length) {
    fail('primaryKey', raw.primaryKey, 'lists a column twice');
  }

  const eventTimeFeature = byName.get(raw.eventTime as string);
  if (!eventTimeFeature) {
    fail('eventTime', raw.eventTime, `${JSON.stringify(raw.eventTime)} is not one of the features`);
  }
  if (eventTimeFeature.type !== 'timestamp' && eventTimeFeature.type !== 'date') {
    fail(
      'eventTime',
      raw.eventTime,
      `"${eventTimeFeature.name}" has type ${eventTimeFeature.type}: it must be timestamp or date`,
    );
  }
  if (primaryKey.includes(eventTimeFeature.name)) {
    fail('eventTime', raw.eventTime, 'cannot also be a primary key column');
  }

  const definition: FeatureSetDefinition = {
    primaryKey,
    eventTime: eventTimeFeature.name,
    features,
    tags: parseTags('tags', raw.tags),
  };
  checkFeatureSetSettings('tags', definition.tags ?? {});
  const description = parseOptionalString('description', raw.description);
  if (description !== undefined) definition.description = description;
  const timeToLive = parseTimeToLive(raw.timeToLive);
  if (timeToLive !== undefined) definition.timeToLive = timeToLive;
  return definition;
}

export function schemaOf(definition: FeatureSetDefinition): FeatureSetSchema {
  return {
    primaryKey: definition.primaryKey,
    eventTime: definition.eventTime,
    features: definition.features,
  };
}
