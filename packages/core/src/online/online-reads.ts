import type { Authorizer } from '../auth/authorizer.js';
import {
  authorizeSelection,
  type GuardedFeatureSet,
  guardFeatureSet,
  selectFeatures,
} from '../auth/feature-access.js';
import { ValidationError } from '../errors.js';
import { ReadThroughCache } from '../metadata/read-through-cache.js';
import { parseDuration } from '../model/duration.js';
import type { FeatureSet } from '../model/records.js';
import { type FeatureRef, parseFeatureRefs } from '../offline/feature-ref.js';
import type { Principal } from '../ports/identity-provider.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import type { OnlineReadRequest, OnlineStore } from '../ports/online-store.js';
import type { OnlineFeatureSets, OnlineLookupCache } from './online-feature-sets.js';
import { keyComponent, toOnlineValue } from './online-values.js';
import { resultRows } from './result-rows.js';

export interface OnlineFeaturesRequest {
  /** `project/featureset[@version]:feature` references, comma-separated or as a list. */
  features: string | readonly string[];
  /** One object per entity: the primary-key columns of every referenced feature set. */
  entities: readonly Record<string, unknown>[];
}

/**
 * The online reads: features of several feature sets for many keys in one round trip, with
 * the lookups and authorizations they need cached (see `OnlineFeatureSets`).
 */
export class OnlineReads {
  readonly #store: MetadataStore;
  readonly #authorizer: Authorizer;
  readonly #online: OnlineStore;
  readonly #featureSets: OnlineFeatureSets;
  /** Feature sets of data reads with their lineage's sensitive features. */
  readonly #guarded: ReadThroughCache<GuardedFeatureSet>;
  /** Principals allowed to read a project's sensitive features. */
  readonly #sensitive: ReadThroughCache<void>;

  constructor(deps: {
    /** For each feature set's lineage (its sensitive features). */
    store: MetadataStore;
    /** For the permission to read sensitive features. */
    authorizer: Authorizer;
    online: OnlineStore;
    featureSets: OnlineFeatureSets;
    cache: OnlineLookupCache;
  }) {
    this.#store = deps.store;
    this.#authorizer = deps.authorizer;
    this.#online = deps.online;
    this.#featureSets = deps.featureSets;
    this.#guarded = new ReadThroughCache(deps.cache);
    this.#sensitive = new ReadThroughCache(deps.cache);
  }

  /**
   * Features for many entities from several feature sets, in one online-store round trip.
   * Each result row is the entity's object plus `<featureset>__<feature>` values (null when
   * missing or past the time to live). Sensitive features need `sensitive_consumer`.
   */
  async getOnlineFeatures(
    principal: Principal,
    request: OnlineFeaturesRequest,
  ): Promise<Record<string, unknown>[]> {
    const refs = parseFeatureRefs(request.features);
    const groups = new Map<string, FeatureRef[]>();
    for (const ref of refs) {
      const id = `${ref.project}/${ref.featureSet}@${ref.version ?? ''}`;
      groups.set(id, [...(groups.get(id) ?? []), ref]);
    }
    const plans: { featureSet: FeatureSet; features: string[]; read: OnlineReadRequest }[] = [];
    const now = Date.now();
    for (const group of groups.values()) {
      const { project, featureSet: name, version } = group[0]!;
      const guarded = await this.#resolveGuarded(principal, project, name, version);
      const { featureSet } = guarded;
      const selection = selectFeatures(
        guarded,
        group.map((ref) => ref.feature),
      );
      if (selection.sensitive.length > 0) {
        await this.#sensitive.get(
          `${principal.userId}\n${principal.admin}\n${featureSet.projectId}`,
          () => authorizeSelection(this.#authorizer, principal, featureSet, selection),
        );
      }
      const { features } = selection;
      const keys = request.entities.map((entity, index) =>
        featureSet.schema.primaryKey.map((column) => {
          const spec = featureSet.schema.features.find((f) => f.name === column)!;
          if (entity[column] === undefined || entity[column] === null) {
            throw new ValidationError(
              `entity ${index + 1} has no "${column}", a primary key of ${project}/${featureSet.name}`,
              { details: { field: column, row: index + 1 } },
            );
          }
          return keyComponent(toOnlineValue(`entity ${index + 1}`, spec, entity[column]));
        }),
      );
      plans.push({
        featureSet,
        features,
        read: {
          featureSet: { featureSetId: featureSet.id, major: featureSet.version.major },
          keys,
          features,
          now,
          ...(featureSet.timeToLive === undefined
            ? {}
            : { ttlMs: parseDuration('timeToLive', featureSet.timeToLive) }),
        },
      });
    }
    const results = this.#online.readMany
      ? await this.#online.readMany(plans.map((plan) => plan.read))
      : await Promise.all(plans.map((plan) => this.#online.read(plan.read)));
    const columns = plans.flatMap((plan, read) =>
      plan.features.map((feature) => ({
        read,
        feature,
        name: `${plan.featureSet.name}__${feature}`,
      })),
    );
    return resultRows(request.entities, columns, results);
  }

  /** A data read's feature set with its lineage's access rules, cached like the lookup. */
  #resolveGuarded(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    version?: string,
  ): Promise<GuardedFeatureSet> {
    const key = [principal.userId, principal.admin, projectName, featureSetName, version];
    return this.#guarded.get(key.join('\n'), async () =>
      guardFeatureSet(
        this.#store,
        await this.#featureSets.resolve(
          principal,
          projectName,
          featureSetName,
          'data.read',
          version,
        ),
      ),
    );
  }
}
