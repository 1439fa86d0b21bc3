import { AccessService } from './auth/access-service.js';
import { Authorizer } from './auth/authorizer.js';
import { TokenIdentityProvider } from './auth/token-identity-provider.js';
import { JobService } from './jobs/job-service.js';
import { FeatureSetService } from './metadata/feature-set-service.js';
import {
  LastKnownLookups,
  type MetadataOutageEvent,
  type MetadataOutageStatus,
} from './metadata/last-known-lookups.js';
import { MetadataChanges } from './metadata/metadata-changes.js';
import { ProjectService } from './metadata/project-service.js';
import { SchemaInference } from './metadata/schema-inference.js';
import { parseDuration } from './model/duration.js';
import { DeletedFeatureSetData } from './offline/deleted-feature-set-data.js';
import { DEFAULT_OUTPUT_RETENTION, JobOutputs } from './offline/job-outputs.js';
import { OfflineEngine } from './offline/offline-engine.js';
import type { SourceAccessOptions } from './offline/source-access.js';
import { StorageCollector } from './offline/storage-collector.js';
import type { StorageLocator } from './offline/storage-locator.js';
import { OnlineMaterializer } from './online/materializer.js';
import type { OfflineSyncOptions } from './online/offline-sync.js';
import { OnlineApplies } from './online/online-applies.js';
import { OnlineEngine } from './online/online-engine.js';
import type { ComputeEngine } from './ports/compute-engine.js';
import type { MessageQueue } from './ports/message-queue.js';
import type { MetadataStore } from './ports/metadata-store.js';
import type { ObjectStorage } from './ports/object-storage.js';
import type { OnlineStore } from './ports/online-store.js';

export interface EngineDrivers {
  metadata: MetadataStore;
  storage: ObjectStorage;
  compute: ComputeEngine;
  /** Finds the storage behind remote source URIs (`s3://…`, `abfss://…`). */
  locate?: StorageLocator;
  /**
   * Landing roots callers other than the local owner may read sources and entity files
   * under, and the store's own folders nobody reads them from (`SourceAccess`).
   */
  sourceAccess?: SourceAccessOptions;
  /** The online store and the queue between pushes and the online workers. */
  online?: { store: OnlineStore; queue: MessageQueue };
  /** Tuning of the online → offline sync worker. */
  offlineSync?: OfflineSyncOptions;
  /** How long online reads and pushes reuse a metadata lookup (default 1,000 ms; 0: never). */
  onlineMetadataCacheMs?: number;
  /**
   * The clock that cache expires by, and the age of last known lookups is measured by, in
   * epoch ms (default `Date.now`): tests advance theirs.
   */
  onlineMetadataClock?: () => number;
  /**
   * How long an online read's metadata lookup (token, feature set, permission) may take, in
   * ms, before its last known answer is served instead (default 500, `LastKnownLookups`).
   */
  onlineMetadataTimeoutMs?: number;
  /**
   * How old a last known lookup may be, in ms, and still serve online reads while the
   * metadata store is unreachable (default 300,000: 5 minutes); older ones fail UNAVAILABLE.
   */
  onlineMetadataMaxStalenessMs?: number;
  /** Told when online reads begin and stop being served from last known lookups (default: a line on stderr). */
  onMetadataOutage?: (event: MetadataOutageEvent) => void;
  /**
   * How long the output of a `retrieve` or `historical` job is kept in storage after the job
   * finished, in ms (default 7 days, `DEFAULT_OUTPUT_RETENTION`).
   */
  outputRetentionMs?: number;
}

/**
 * The engine's services over one set of drivers. Every method takes the calling principal
 * and authorizes through the same `Authorizer`.
 */
export class FeatureStoreEngine {
  readonly drivers: EngineDrivers;
  readonly authorizer: Authorizer;
  readonly projects: ProjectService;
  readonly featureSets: FeatureSetService;
  /** Feature set definitions inferred from data files, for review or `featureSets.register`. */
  readonly schemaInference: SchemaInference;
  readonly access: AccessService;
  readonly tokens: TokenIdentityProvider;
  /**
   * Whether online reads and token authentication are being served from last known lookups
   * because the metadata store does not answer, since when, and how many were: for metrics.
   */
  readonly metadataOutage: MetadataOutageStatus;
  /**
   * Counts the access-changing writes made through this engine (roles, users, tokens revoked,
   * feature set versions): a cache outside the engine (a server's) remembers the count with
   * each entry and drops entries from before a change, so what this process revokes applies
   * at once.
   */
  readonly accessChanges: { readonly generation: number };
  readonly jobs: JobService;
  readonly offline: OfflineEngine;
  /** Present when the drivers include an online store and a queue. */
  readonly online: OnlineEngine | undefined;
  /**
   * The apply of committed ingestions to the online store (with an online store): what a
   * crash or a failure left pending is finished by `resumePending`.
   */
  readonly onlineApplies: OnlineApplies | undefined;
  /** Job outputs: removal once copied, on request, and past the retention. */
  readonly outputs: JobOutputs;
  /** The data of deleted feature sets, purged after the deletion commits (resumably). */
  readonly deletedData: DeletedFeatureSetData;
  /** `featurestore gc`: leftovers of every kind, admins only. */
  readonly collector: StorageCollector;

  constructor(drivers: EngineDrivers) {
    const changes = new MetadataChanges();
    this.accessChanges = changes;
    const store = changes.track(drivers.metadata);
    this.drivers = drivers;
    this.authorizer = new Authorizer(store);
    this.deletedData = new DeletedFeatureSetData({
      store,
      storage: drivers.storage,
      ...(drivers.online === undefined ? {} : { online: drivers.online.store }),
    });
    this.projects = new ProjectService(store, this.authorizer, this.deletedData);
    this.featureSets = new FeatureSetService(store, this.authorizer, this.deletedData);
    this.access = new AccessService(store, this.authorizer);
    const lastKnown = new LastKnownLookups({
      ...(drivers.onlineMetadataTimeoutMs === undefined
        ? {}
        : { timeoutMs: drivers.onlineMetadataTimeoutMs }),
      ...(drivers.onlineMetadataMaxStalenessMs === undefined
        ? {}
        : { maxStalenessMs: drivers.onlineMetadataMaxStalenessMs }),
      ...(drivers.onlineMetadataClock === undefined ? {} : { now: drivers.onlineMetadataClock }),
      ...(drivers.onMetadataOutage === undefined ? {} : { onChange: drivers.onMetadataOutage }),
      changes,
    });
    this.metadataOutage = lastKnown;
    this.tokens = new TokenIdentityProvider(store, lastKnown);
    this.jobs = new JobService(store, this.authorizer);
    this.outputs = new JobOutputs({
      store,
      authorizer: this.authorizer,
      jobs: this.jobs,
      storage: drivers.storage,
      retentionMs:
        drivers.outputRetentionMs ?? parseDuration('outputRetention', DEFAULT_OUTPUT_RETENTION),
    });
    const materializer =
      drivers.online &&
      new OnlineMaterializer({
        compute: drivers.compute,
        storage: drivers.storage,
        online: drivers.online.store,
      });
    this.onlineApplies = materializer && new OnlineApplies({ store, materializer });
    this.offline = new OfflineEngine({
      store,
      authorizer: this.authorizer,
      jobs: this.jobs,
      compute: drivers.compute,
      storage: drivers.storage,
      ...(drivers.locate === undefined ? {} : { locate: drivers.locate }),
      ...(drivers.sourceAccess === undefined ? {} : { sourceAccess: drivers.sourceAccess }),
      ...(this.onlineApplies && { afterCommit: this.onlineApplies }),
      ...(materializer && {
        afterRevert: async (featureSet, reverted, remaining, context) => ({
          online: await materializer.recomputeAfterRevert(featureSet, reverted, remaining, context),
        }),
      }),
    });
    this.schemaInference = new SchemaInference({
      store,
      authorizer: this.authorizer,
      compute: drivers.compute,
      resolveSource: (principal, source, format) =>
        this.offline.resolveSource(principal, source, format),
    });
    this.online =
      drivers.online && materializer
        ? new OnlineEngine({
            store,
            authorizer: this.authorizer,
            online: drivers.online.store,
            queue: drivers.online.queue,
            jobs: this.jobs,
            materializer,
            compute: drivers.compute,
            storage: drivers.storage,
            ...(drivers.offlineSync === undefined ? {} : { offlineSync: drivers.offlineSync }),
            ...(drivers.onlineMetadataCacheMs === undefined
              ? {}
              : { metadataCacheMs: drivers.onlineMetadataCacheMs }),
            ...(drivers.onlineMetadataClock === undefined
              ? {}
              : { metadataCacheClock: drivers.onlineMetadataClock }),
            changes,
            lastKnown,
          })
        : undefined;
    this.collector = new StorageCollector({
      authorizer: this.authorizer,
      storage: drivers.storage,
      offline: this.offline,
      outputs: this.outputs,
      deletedData: this.deletedData,
    });
  }

  /** Closes every driver; the engine is unusable afterwards. */
  async close(): Promise<void> {
    await this.online?.stopWorker();
    await this.drivers.online?.queue.close();
    await this.drivers.online?.store.close();
    await this.drivers.compute.close();
    await this.drivers.storage.close?.();
    await this.drivers.metadata.close();
  }
}
