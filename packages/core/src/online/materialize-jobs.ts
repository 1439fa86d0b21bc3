import type { JobService, RunningJob } from '../jobs/job-service.js';
import { visibleIngestions } from '../offline/time-travel.js';
import type { Principal } from '../ports/identity-provider.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import type { MaterializeResult, OnlineMaterializer } from './materializer.js';
import type { OnlineFeatureSets } from './online-feature-sets.js';

/**
 * Materializations as jobs: the caller's permission checked and the ingestions listed for
 * the `OnlineMaterializer`, which writes the offline data to the online store.
 */
export class MaterializeJobs {
  readonly #store: MetadataStore;
  readonly #featureSets: OnlineFeatureSets;
  readonly #jobs: JobService;
  readonly #materializer: OnlineMaterializer;

  constructor(deps: {
    /** For the ingestions to materialize. */
    store: MetadataStore;
    featureSets: OnlineFeatureSets;
    jobs: JobService;
    materializer: OnlineMaterializer;
  }) {
    this.#store = deps.store;
    this.#featureSets = deps.featureSets;
    this.#jobs = deps.jobs;
    this.#materializer = deps.materializer;
  }

  /**
   * Applies the newest row per key of every visible ingestion of a feature set version to
   * the online store (newest wins: newer pushed values stay), as a job. With `rebuild`, resets
   * the version's online records to the offline data instead: every key's latest committed row
   * replaces what is stored, newer or not, and keys without a committed row are removed (pushed
   * rows not synced offline yet among them). The result counts keys by what happened to them.
   */
  async materialize(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    options: { version?: string; rebuild?: boolean } = {},
  ): Promise<RunningJob<MaterializeResult>> {
    const featureSet = await this.#featureSets.resolve(
      principal,
      projectName,
      featureSetName,
      'data.write',
      options.version,
    );
    return this.#jobs.start(
      principal,
      {
        type: 'materialize',
        projectId: featureSet.projectId,
        request: { project: projectName, featureSet: featureSetName, ...options },
      },
      async (context) => {
        // Listed when the job runs: a revert committed while it waited is not undone.
        const ingestions = visibleIngestions(
          await this.#store.listIngestions(featureSet.id, featureSet.version.major),
        );
        return options.rebuild
          ? this.#materializer.rebuild(featureSet, ingestions, context)
          : this.#materializer.apply(featureSet, ingestions, context);
      },
    );
  }
}
