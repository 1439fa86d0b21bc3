import type { FeatureSetSchema, FeatureSpec, Tags } from '../model/records.js';

export interface VersionedState {
  schema: FeatureSetSchema;
  description: string;
  tags: Tags;
  timeToLive?: string;
}

export interface VersionChanges {
  /** A change to the data layout (features added, removed or retyped; key or event time). */
  major: boolean;
  /** What changed, one readable line each; empty when nothing did. */
  changes: string[];
}

function tagChanges(label: string, before: Tags, after: Tags): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(after)) {
    if (before[key] !== value) lines.push(`${label}tag ${key} set to ${JSON.stringify(value)}`);
  }
  for (const key of Object.keys(before)) {
    if (!(key in after)) lines.push(`${label}tag ${key} removed`);
  }
  return lines;
}

function featureMetadataChanges(before: FeatureSpec, after: FeatureSpec): string[] {
  const label = `feature ${after.name}: `;
  const lines: string[] = [];
  if ((before.description ?? '') !== (after.description ?? ''))
    lines.push(`${label}description changed`);
  if ((before.sensitive ?? false) !== (after.sensitive ?? false)) {
    lines.push(`${label}${after.sensitive ? 'marked sensitive' : 'no longer sensitive'}`);
  }
  return [...lines, ...tagChanges(label, before.tags ?? {}, after.tags ?? {})];
}

/**
 * Compares two states of a feature set: schema changes make a new major version (a new data
 * lineage), everything else a minor one.
 */
export function compareVersions(before: VersionedState, after: VersionedState): VersionChanges {
  const schemaLines: string[] = [];
  const metadataLines: string[] = [];
  const oldKey = before.schema.primaryKey.join(', ');
  const newKey = after.schema.primaryKey.join(', ');
  if (oldKey !== newKey) schemaLines.push(`primary key (${oldKey}) → (${newKey})`);
  if (before.schema.eventTime !== after.schema.eventTime) {
    schemaLines.push(`event time ${before.schema.eventTime} → ${after.schema.eventTime}`);
  }
  const oldFeatures = new Map(before.schema.features.map((feature) => [feature.name, feature]));
  const newFeatures = new Map(after.schema.features.map((feature) => [feature.name, feature]));
  for (const [name, feature] of newFeatures) {
    const old = oldFeatures.get(name);
    if (!old) schemaLines.push(`feature ${name} added (${feature.type})`);
    else if (old.type !== feature.type)
      schemaLines.push(`feature ${name} retyped ${old.type} → ${feature.type}`);
    else metadataLines.push(...featureMetadataChanges(old, feature));
  }
  for (const name of oldFeatures.keys()) {
    if (!newFeatures.has(name)) schemaLines.push(`feature ${name} removed`);
  }
  if (before.description !== after.description) metadataLines.push('description changed');
  metadataLines.push(...tagChanges('', before.tags, after.tags));
  if (before.timeToLive !== after.timeToLive) {
    metadataLines.push(
      `time to live ${before.timeToLive ?? 'none'} → ${after.timeToLive ?? 'none'}`,
    );
  }
  return { major: schemaLines.length > 0, changes: [...schemaLines, ...metadataLines] };
}
