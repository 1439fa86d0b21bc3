import {
  type FeatureSetSchema,
  type FeatureSpec,
  ValidationError,
} from '@featurestore/core/driver';

/** Fails unless the key and event-time columns are features and names are unique. */
export function checkSchema(schema: FeatureSetSchema, field = 'schema'): void {
  const names = new Set<string>();
  for (const feature of schema.features) {
    if (names.has(feature.name)) {
      throw new ValidationError(`${field} lists feature "${feature.name}" twice`, {
        details: { field, feature: feature.name },
      });
    }
    names.add(feature.name);
  }
  for (const column of [...schema.primaryKey, schema.eventTime]) {
    if (!names.has(column)) {
      throw new ValidationError(
        `${field}: key or event-time column "${column}" is not one of the features`,
        { details: { field, column } },
      );
    }
  }
  if (schema.primaryKey.length === 0) {
    throw new ValidationError(`${field} has no primary key: name at least one key column`, {
      details: { field },
    });
  }
}

export function featureNamed(schema: FeatureSetSchema, name: string): FeatureSpec | undefined {
  return schema.features.find((feature) => feature.name === name);
}
