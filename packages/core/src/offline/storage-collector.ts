import type { Authorizer } from '../auth/authorizer.js';
import type { Principal } from '../ports/identity-provider.js';
import type { ObjectStorage } from '../ports/object-storage.js';
import { listAll } from '../storage/object-keys.js';
import type { DeletedFeatureSetData } from './deleted-feature-set-data.js';
import type { JobOutputs } from './job-outputs.js';
import type { OfflineEngine } from './offline-engine.js';
import { TEMPORARY_PREFIX } from './storage-layout.js';

/** Files younger than this are left alone: another process may be writing or committing them. */
export const DEFAULT_COLLECT_GRACE_MS = 60 * 60 * 1000;

/** How many of what, and how many bytes. */
export interface CollectedCount {
  count: number;
  bytes: number;
}

/** What `collect` removed (or, with `dryRun`, would remove), by kind of leftover. */
export interface CollectReport extends Record<string, unknown> {
  dryRun: boolean;
  /** Data files of failed or killed ingestions, and of feature sets deleted without a record. */
  unreferencedFiles: CollectedCount;
  /** Feature sets whose deletion committed but whose data was not yet purged (count = sets). */
  deletedFeatureSets: CollectedCount & { files: number };
  /** Job outputs past the retention, or whose job is gone (count = outputs). */
  expiredOutputs: CollectedCount & { files: number };
  /** Scratch objects (`tmp/`) their writer did not remove (a killed materialize or sync). */
  temporaryObjects: CollectedCount;
}

/**
 * `featurestore gc`: finds and removes what the store no longer needs — files no ingestion
 * refers to, the data of deleted feature sets (files and online records), expired job
 * outputs, and stale scratch objects — past a grace period. Admins only: it looks across
 * every project.
 */
export class StorageCollector {
  readonly #authorizer: Authorizer;
  readonly #storage: ObjectStorage;
  readonly #offline: OfflineEngine;
  readonly #outputs: JobOutputs;
  readonly #deletedData: DeletedFeatureSetData;

  constructor(deps: {
    authorizer: Authorizer;
    storage: ObjectStorage;
    offline: OfflineEngine;
    outputs: JobOutputs;
    deletedData: DeletedFeatureSetData;
  }) {
    this.#authorizer = deps.authorizer;
    this.#storage = deps.storage;
    this.#offline = deps.offline;
    this.#outputs = deps.outputs;
    this.#deletedData = deps.deletedData;
  }

  async collect(
    principal: Principal,
    options: { dryRun?: boolean; graceMs?: number } = {},
  ): Promise<CollectReport> {
    await this.#authorizer.require(principal, 'store.gc', undefined, 'collect garbage');
    const dryRun = options.dryRun ?? false;
    const graceMs = options.graceMs ?? DEFAULT_COLLECT_GRACE_MS;
    // Deleted feature sets first: their online records are dropped only through the record.
    const purged = await this.#deletedData.purgePending({ graceMs, dryRun });
    const unreferenced = await this.#offline.collectGarbage({
      graceMs,
      dryRun,
      except: new Set(purged.ids),
    });
    const outputs = await this.#outputs.removeExpired({ graceMs, dryRun });
    const temporary = await this.#temporary(graceMs, dryRun);
    return {
      dryRun,
      unreferencedFiles: { count: unreferenced.deleted.length, bytes: unreferenced.bytes },
      deletedFeatureSets: { count: purged.featureSets, files: purged.files, bytes: purged.bytes },
      expiredOutputs: {
        count: outputs.length,
        files: outputs.reduce((sum, output) => sum + output.files, 0),
        bytes: outputs.reduce((sum, output) => sum + output.bytes, 0),
      },
      temporaryObjects: temporary,
    };
  }

  async #temporary(graceMs: number, dryRun: boolean): Promise<CollectedCount> {
    const cutoff = Date.now() - graceMs;
    const stale: string[] = [];
    let bytes = 0;
    for await (const object of listAll(this.#storage, TEMPORARY_PREFIX)) {
      if (object.lastModified.getTime() >= cutoff) continue;
      stale.push(object.key);
      bytes += object.size;
    }
    if (!dryRun) {
      for (let i = 0; i < stale.length; i += 1000) {
        await this.#storage.delete(stale.slice(i, i + 1000));
      }
    }
    return { count: stale.length, bytes };
  }
}
