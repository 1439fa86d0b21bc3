import type { Authorizer } from '../auth/authorizer.js';
import {
  authorizeSelection,
  type GuardedFeatureSet,
  guardFeatureSet,
  selectFeatures,
} from '../auth/feature-access.js';
import { ValidationError } from '../errors.js';
import type { LastKnownLookups } from '../metadata/last-known-lookups.js';
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

/** The rows of an online read, and which of their values are past their time to live. */
export interface OnlineFeaturesResult {
  /** As `getOnlineFeatures` returns them: an expired value is `null` there. */
  rows: Record<string, unknown>[];
  /**
   * The rows (0-based, in request order) that have values past their feature set's time to
   * live, with those columns; rows without any are not listed. A key with no record at all is
   * missing, not expired; so is one a store dropped after its time to live.
   */
  expired: { row: number; columns: string[] }[];
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
  /** What the lookups above answered last, served while the metadata store is down. */
  readonly #lastKnown: LastKnownLookups | undefined;

  constructor(deps: {
    /** For each feature set's lineage (its sensitive features). */
    store: MetadataStore;
    /** For the permission to read sensitive features. */
    authorizer: Authorizer;
    online: OnlineStore;
    featureSets: OnlineFeatureSets;
    cache: OnlineLookupCache;
    /** Serves the last known lookups through a metadata outage (default: no fallback). */
    lastKnown?: LastKnownLookups;
  }) {
    this.#store = deps.store;
    this.#authorizer = deps.authorizer;
    this.#online = deps.online;
    this.#featureSets = deps.featureSets;
    this.#guarded = new ReadThroughCache(deps.cache);
    this.#sensitive = new ReadThroughCache(deps.cache);
    this.#lastKnown = deps.lastKnown;
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
    return (await this.readOnlineFeatures(principal, request)).rows;
  }

  /**
   * `getOnlineFeatures`, saying also which values are `null` because they are past their time
   * to live (a client can then tell "expired" from "never written").
   */
  async readOnlineFeatures(
    principal: Principal,
    request: OnlineFeaturesRequest,
  ): Promise<OnlineFeaturesResult> {
    const refs = parseFeatureRefs(request.features);
    const groups = new Map<string, FeatureRef[]>();
    for (const ref of refs) {
      const id = `${ref.project}/${ref.featureSet}@${ref.version ?? ''}`;
      groups.set(id, [...(groups.get(id) ?? []), ref]);
    }
    const plans: {
      featureSet: FeatureSet;
      features: string[];
      read: OnlineReadRequest;
      ttlMs?: number;
    }[] = [];
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
        const key = `${principal.userId}\n${principal.admin}\n${featureSet.projectId}`;
        await this.#sensitive.get(key, () =>
          this.#orLastKnown(
            `sensitive\n${key}`,
            `the permission of user "${principal.name}" to read sensitive features of project "${project}"`,
            () => authorizeSelection(this.#authorizer, principal, featureSet, selection),
          ),
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
      // The store is asked without the time to live, which is applied below: the same rule
      // (expired at or before now - ttl), and the engine then knows which values expired.
      plans.push({
        featureSet,
        features,
        read: {
          featureSet: { featureSetId: featureSet.id, major: featureSet.version.major },
          keys,
          features,
          now,
        },
        ...(featureSet.timeToLive === undefined
          ? {}
          : { ttlMs: parseDuration('timeToLive', featureSet.timeToLive) }),
      });
    }
    const stored = this.#online.readMany
      ? await this.#online.readMany(plans.map((plan) => plan.read))
      : await Promise.all(plans.map((plan) => this.#online.read(plan.read)));
    const expiredColumns = new Map<number, string[]>();
    const results = stored.map((records, read) => {
      const { ttlMs, featureSet, features } = plans[read]!;
      if (ttlMs === undefined) return records;
      const oldestLive = now - ttlMs;
      return records.map((record, row) => {
        if (record === undefined || record.eventTime > oldestLive) return record;
        const names = expiredColumns.get(row) ?? [];
        for (const feature of features) names.push(`${featureSet.name}__${feature}`);
        expiredColumns.set(row, names);
        return undefined;
      });
    });
    const columns = plans.flatMap((plan, read) =>
      plan.features.map((feature) => ({
        read,
        feature,
        name: `${plan.featureSet.name}__${feature}`,
      })),
    );
    return {
      rows: resultRows(request.entities, columns, results),
      expired: [...expiredColumns]
        .sort(([a], [b]) => a - b)
        .map(([row, names]) => ({ row, columns: names })),
    };
  }

  /** A data read's feature set with its lineage's access rules, cached like the lookup. */
  #resolveGuarded(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    version?: string,
  ): Promise<GuardedFeatureSet> {
    const key = [principal.userId, principal.admin, projectName, featureSetName, version];
    const shown = `${projectName}/${featureSetName}${version === undefined ? '' : `@${version}`}`;
    return this.#guarded.get(key.join('\n'), () =>
      this.#orLastKnown(
        `read\n${key.join('\n')}`,
        `feature set ${shown} for user "${principal.name}"`,
        async () =>
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
      ),
    );
  }

  /** `load`, or its last known answer while the metadata store does not answer. */
  #orLastKnown<T>(key: string, what: string, load: () => Promise<T>): Promise<T> {
    return this.#lastKnown ? this.#lastKnown.get(key, what, load) : load();
  }
}
