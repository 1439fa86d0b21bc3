import type { FeatureSet } from '../model/records.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import type { ObjectInfo, ObjectStorage } from '../ports/object-storage.js';
import type { OnlineStore } from '../ports/online-store.js';
import { readAll } from '../storage/object-body.js';
import { listAll } from '../storage/object-keys.js';
import { featureSetPrefix } from './storage-layout.js';

/** Where a deletion in progress is recorded: one marker object per feature set. */
export const DELETIONS_PREFIX = 'deletions/';

/** What a deletion marker holds: enough to find every piece of data without the metadata. */
interface DeletionMarker {
  featureSetId: string;
  /** `project/name`, for people reading the marker. */
  featureSet: string;
  /** Online data is kept per major version: versions 1 to this one are dropped. */
  latestMajor: number;
  requestedAt: string;
}

/** What purging the data of deleted feature sets removed (or would remove, in a dry run). */
export interface PurgeReport {
  /** Ids of the feature sets purged. */
  ids: string[];
  featureSets: number;
  files: number;
  bytes: number;
}

/**
 * Removes the data of deleted feature sets: their Parquet files (`featuresets/<id>/`) and
 * their online records, after the metadata commit that deleted them, resumably.
 *
 * A marker (`deletions/<id>.json`) is written BEFORE the metadata commit, so a process that
 * dies after the commit always leaves a record of what to purge: the online store cannot be
 * searched for the records of a feature set the metadata no longer knows (Redis would need a
 * scan of every key). The next `purgePending` (embedded recovery, `featurestore gc`) finishes
 * it. A marker whose feature set still exists belongs to a delete that failed or is still
 * being committed: it is removed once older than the grace period, and never purges anything.
 * Files alone would not need the marker (the collector removes files of unknown feature sets),
 * but one mechanism for both keeps the rule simple.
 */
export class DeletedFeatureSetData {
  readonly #store: MetadataStore;
  readonly #storage: ObjectStorage;
  readonly #online: OnlineStore | undefined;

  constructor(deps: { store: MetadataStore; storage: ObjectStorage; online?: OnlineStore }) {
    this.#store = deps.store;
    this.#storage = deps.storage;
    this.#online = deps.online;
  }

  /** Records the feature sets about to be deleted; call before the metadata commit. */
  async record(featureSets: readonly FeatureSet[]): Promise<void> {
    const requestedAt = new Date().toISOString();
    for (const featureSet of featureSets) {
      const marker: DeletionMarker = {
        featureSetId: featureSet.id,
        featureSet: `${featureSet.projectName}/${featureSet.name}`,
        latestMajor: featureSet.latestVersion.major,
        requestedAt,
      };
      await this.#storage.put(markerKey(featureSet.id), JSON.stringify(marker));
    }
  }

  /**
   * Purges feature sets whose deletion committed. A failure leaves the marker, for the next
   * `purgePending`; the deletion itself stands.
   */
  async purge(featureSetIds: readonly string[]): Promise<PurgeReport> {
    const report: PurgeReport = { ids: [], featureSets: 0, files: 0, bytes: 0 };
    for (const id of featureSetIds) {
      const marker = await this.#readMarker(markerKey(id));
      if (marker) add(report, await this.#purgeOne(marker, false));
    }
    return report;
  }

  /**
   * Finishes every recorded deletion whose metadata commit happened, and drops markers of
   * deletes that never committed once older than `graceMs` (default 1 hour; 0 when this
   * process owns the store alone).
   */
  async purgePending(options: { graceMs?: number; dryRun?: boolean } = {}): Promise<PurgeReport> {
    const report: PurgeReport = { ids: [], featureSets: 0, files: 0, bytes: 0 };
    const cutoff = Date.now() - (options.graceMs ?? 60 * 60 * 1000);
    const markers: ObjectInfo[] = [];
    for await (const object of listAll(this.#storage, DELETIONS_PREFIX)) markers.push(object);
    for (const object of markers) {
      const marker = await this.#readMarker(object.key);
      const exists =
        marker !== undefined &&
        (await this.#store.getFeatureSetById(marker.featureSetId)) !== undefined;
      if (marker && !exists) {
        add(report, await this.#purgeOne(marker, options.dryRun ?? false));
      } else if (object.lastModified.getTime() < cutoff && !options.dryRun) {
        await this.#storage.delete([object.key]);
      }
    }
    return report;
  }

  async #purgeOne(marker: DeletionMarker, dryRun: boolean): Promise<PurgeReport> {
    const files: ObjectInfo[] = [];
    for await (const object of listAll(this.#storage, featureSetPrefix(marker.featureSetId))) {
      files.push(object);
    }
    const report = {
      ids: [marker.featureSetId],
      featureSets: 1,
      files: files.length,
      bytes: files.reduce((sum, file) => sum + file.size, 0),
    };
    if (dryRun) return report;
    for (let i = 0; i < files.length; i += 1000) {
      await this.#storage.delete(files.slice(i, i + 1000).map((file) => file.key));
    }
    for (let major = 1; major <= marker.latestMajor; major++) {
      await this.#online?.drop({ featureSetId: marker.featureSetId, major });
    }
    await this.#storage.delete([markerKey(marker.featureSetId)]);
    return report;
  }

  async #readMarker(key: string): Promise<DeletionMarker | undefined> {
    try {
      const text = Buffer.from(await readAll(await this.#storage.get(key))).toString('utf8');
      const marker = JSON.parse(text) as DeletionMarker;
      return typeof marker.featureSetId === 'string' && Number.isInteger(marker.latestMajor)
        ? marker
        : undefined;
    } catch {
      return undefined; // gone (purged by another process) or unreadable: dropped after the grace
    }
  }
}

function markerKey(featureSetId: string): string {
  return `${DELETIONS_PREFIX}${featureSetId}.json`;
}

function add(total: PurgeReport, one: PurgeReport): void {
  total.ids.push(...one.ids);
  total.featureSets += one.featureSets;
  total.files += one.files;
  total.bytes += one.bytes;
}
