import { ValidationError } from '../errors.js';
import type { FeatureSet } from '../model/records.js';
import { formatVersion } from '../model/version.js';
import type { FeatureStatistics } from '../ports/compute-engine.js';
import type { Principal } from '../ports/identity-provider.js';
import type { MetadataOperations } from '../ports/metadata-store.js';
import type { Authorizer } from './authorizer.js';

/*
 * The one rule for reading feature data, used by every data path (retrieve, historical, online
 * reads, ingestion statistics): which features a reference selects, which of them are
 * sensitive, and whether the caller may read them.
 *
 * Sensitivity belongs to the data, not to one version's schema: the minor versions of a major
 * lineage share their data, so a feature marked sensitive in any of them is sensitive when read
 * through every one of them. Otherwise naming the older, unmarked version (`@1.0`) would read
 * values ingested after the feature was marked.
 */

/** A feature set version with the access rules of its whole lineage applied. */
export interface GuardedFeatureSet {
  featureSet: FeatureSet;
  /** Features sensitive in at least one version of `featureSet`'s major lineage. */
  sensitive: ReadonlySet<string>;
}

/** What a reference selects in one feature set. */
export interface FeatureSelection {
  /** Value features (never the key or event time), in request order, without duplicates. */
  features: string[];
  /** The selected features that need `data.read_sensitive`. */
  sensitive: string[];
}

/**
 * Loads the lineage's sensitive features: one metadata read per feature set version, which the
 * online engine caches together with the feature set lookup.
 */
export async function guardFeatureSet(
  store: Pick<MetadataOperations, 'listFeatureSetVersions'>,
  featureSet: FeatureSet,
): Promise<GuardedFeatureSet> {
  const sensitive = new Set(
    featureSet.schema.features.filter((feature) => feature.sensitive).map((f) => f.name),
  );
  for (const version of await store.listFeatureSetVersions(featureSet.id)) {
    if (version.version.major !== featureSet.version.major) continue;
    for (const feature of version.schema.features) {
      if (feature.sensitive) sensitive.add(feature.name);
    }
  }
  return { featureSet, sensitive };
}

/** The value features of a version: every feature but the primary key and the event time. */
export function valueFeatures(featureSet: FeatureSet): string[] {
  const { schema } = featureSet;
  return schema.features
    .map((feature) => feature.name)
    .filter((name) => name !== schema.eventTime && !schema.primaryKey.includes(name));
}

/**
 * Resolves requested feature names (`*`: every value feature) against the version's schema;
 * an unknown name is a `ValidationError` listing the features there are.
 */
export function selectFeatures(
  { featureSet, sensitive }: GuardedFeatureSet,
  requested: readonly string[],
): FeatureSelection {
  const names = requested.includes('*') ? valueFeatures(featureSet) : [...new Set(requested)];
  for (const name of names) {
    if (!featureSet.schema.features.some((feature) => feature.name === name)) {
      throw new ValidationError(
        `feature "${name}" does not exist in ${featureSet.projectName}/${featureSet.name} ${formatVersion(featureSet.version)}: its features are ${featureSet.schema.features.map((f) => f.name).join(', ')}`,
        {
          details: {
            field: 'features',
            value: `${featureSet.projectName}/${featureSet.name}:${name}`,
          },
        },
      );
    }
  }
  return { features: names, sensitive: names.filter((name) => sensitive.has(name)) };
}

/** Every column of the version (what `retrieve` returns), with its sensitive ones. */
export function selectAllColumns({ featureSet, sensitive }: GuardedFeatureSet): FeatureSelection {
  const features = featureSet.schema.features.map((feature) => feature.name);
  return { features, sensitive: features.filter((name) => sensitive.has(name)) };
}

/**
 * Requires `data.read_sensitive` in the feature set's project when the selection holds a
 * sensitive feature (the caller checked `data.read` already), naming those features.
 */
export async function authorizeSelection(
  authorizer: Authorizer,
  principal: Principal,
  featureSet: FeatureSet,
  selection: FeatureSelection,
): Promise<void> {
  if (selection.sensitive.length === 0) return;
  await authorizer.require(
    principal,
    'data.read_sensitive',
    { projectId: featureSet.projectId, projectName: featureSet.projectName },
    `read the sensitive feature${selection.sensitive.length > 1 ? 's' : ''} ${selection.sensitive.join(', ')} of ${featureSet.name}`,
  );
}

/**
 * Statistics are data: the caller sees those of a feature only with the right to read it
 * (`consumer`; `sensitive_consumer` for sensitive ones). Returns what the caller may see and
 * the names of the features whose statistics were withheld.
 */
export async function readableStatistics(
  authorizer: Authorizer,
  principal: Principal,
  guarded: GuardedFeatureSet,
  statistics: Record<string, FeatureStatistics>,
): Promise<{ statistics: Record<string, FeatureStatistics>; withheld: string[] }> {
  const target = {
    projectId: guarded.featureSet.projectId,
    projectName: guarded.featureSet.projectName,
  };
  const mayRead = await authorizer.allowed(principal, 'data.read', target);
  const mayReadSensitive =
    mayRead && (await authorizer.allowed(principal, 'data.read_sensitive', target));
  const visible: Record<string, FeatureStatistics> = {};
  const withheld: string[] = [];
  for (const [name, value] of Object.entries(statistics)) {
    if (mayRead && (mayReadSensitive || !guarded.sensitive.has(name))) visible[name] = value;
    else withheld.push(name);
  }
  return { statistics: visible, withheld };
}
