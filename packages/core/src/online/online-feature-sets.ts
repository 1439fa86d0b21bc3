import type { Authorizer } from '../auth/authorizer.js';
import { authorizedFeatureSet } from '../metadata/lookups.js';
import type { MetadataChanges } from '../metadata/metadata-changes.js';
import { ReadThroughCache } from '../metadata/read-through-cache.js';
import type { FeatureSet } from '../model/records.js';
import type { Principal } from '../ports/identity-provider.js';
import type { MetadataStore } from '../ports/metadata-store.js';

/** How long the online parts reuse a lookup and its authorization (`ReadThroughCache`). */
export interface OnlineLookupCache {
  /** 0: look up every time. */
  ttlMs: number;
  /** The access-changing writes of this process: they empty the cache at once. */
  changes?: MetadataChanges;
  /** The clock entries expire by, in epoch ms (default `Date.now`). */
  now?: () => number;
}

/**
 * The feature set lookups of pushes, reads and materializations: resolved and authorized per
 * principal, action and reference, and cached, so a model's every read does not pay the
 * metadata round trips again. One cache for every online part: a push and a read of the same
 * principal share it, as they did when they were one class.
 */
export class OnlineFeatureSets {
  readonly #store: MetadataStore;
  readonly #authorizer: Authorizer;
  readonly #resolved: ReadThroughCache<FeatureSet>;

  constructor(deps: {
    store: MetadataStore;
    authorizer: Authorizer;
    cache: OnlineLookupCache;
  }) {
    this.#store = deps.store;
    this.#authorizer = deps.authorizer;
    this.#resolved = new ReadThroughCache(deps.cache);
  }

  /**
   * The feature set `projectName/featureSetName[@version]` (default: its latest version),
   * once `principal` may do `action` on it: `NotFoundError` or `PermissionDeniedError`
   * otherwise (never cached).
   */
  resolve(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    action: 'data.read' | 'data.write',
    version?: string,
  ): Promise<FeatureSet> {
    const key = [principal.userId, principal.admin, action, projectName, featureSetName, version];
    return this.#resolved.get(key.join('\n'), async () => {
      const { featureSet } = await authorizedFeatureSet(
        this.#store,
        this.#authorizer,
        principal,
        action,
        { project: projectName, featureSet: featureSetName, version },
      );
      return featureSet;
    });
  }
}
