/**
 * `@featurestore/core`: what an application uses. The engine and its services, the records
 * they return, the error tree, the port interfaces and the reference drivers an application
 * may construct (`LocalFileStorage`, `MemoryOnlineStore`, `LocalLogQueue`), and the driver
 * descriptor API (an application may register a driver of its own). Driver authors import
 * `@featurestore/core/driver`; the conformance suites are in `@featurestore/core/testing`.
 *
 * Every name is listed on purpose: a module's other exports are internal, and the packaging
 * test records this list, so a new public name is a deliberate change.
 */

// Access: tokens, roles and the one action table every service authorizes against.
export { AccessService, type CreatedToken, type TokenInfo } from './auth/access-service.js';
export { ACTION_REQUIREMENTS, ACTIONS, type Action } from './auth/actions.js';
export { type ActionTarget, Authorizer } from './auth/authorizer.js';
export { TokenIdentityProvider } from './auth/token-identity-provider.js';

// In-process data: rows, streams and Arrow in (`ingest`); rows, Arrow and files out.
export type { IngestData, IngestDataFormat } from './data/ingest-data.js';
export { OutputData, type OutputRow } from './data/output-data.js';
export type { IngestRow } from './data/row-lines.js';

// Driver descriptors: an application may register a driver, and load one by name.
export {
  type AnyDriverDescriptor,
  type DriverContext,
  type DriverDescriptor,
  type DriverPort,
  type DriverPorts,
  defineDriver,
  isDriverDescriptor,
  type OptionsIssue,
  type OptionsSchema,
} from './drivers/driver-descriptor.js';
// positiveInteger: core's own tests import it from here.
export { loadModule, positiveInteger } from './drivers/load-module.js';

// The engine and its services.
export { type EngineDrivers, FeatureStoreEngine } from './engine.js';
export {
  AlreadyExistsError,
  CancelledError,
  ConflictError,
  type ErrorCode,
  type ErrorOptions,
  FeatureStoreError,
  isFeatureStoreError,
  NotFoundError,
  NotSupportedError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
} from './errors.js';
export { validateName } from './identifiers.js';
export { isTerminal, JobService, type RunningJob, type StartJobInput } from './jobs/job-service.js';
export {
  type FeatureSetDefinition,
  parseFeatureSetDefinition,
} from './metadata/feature-set-definition.js';
export {
  FeatureSetService,
  type ListFeatureSetsInput,
  type UpdateFeatureSetInput,
} from './metadata/feature-set-service.js';
export {
  LastKnownLookups,
  type LastKnownLookupsOptions,
  type MetadataOutageEvent,
  type MetadataOutageStatus,
} from './metadata/last-known-lookups.js';
export {
  type CreateProjectInput,
  type ListProjectsInput,
  ProjectService,
  type UpdateProjectInput,
} from './metadata/project-service.js';
export {
  type InferredSchema,
  type InferSchemaOptions,
  SchemaInference,
} from './metadata/schema-inference.js';

// The model: records, types, and the parsers of what users type.
export { MAX_DURATION_MS, parseDuration } from './model/duration.js';
export {
  ONLINE_SYNC_TAG,
  STATISTICS_TAG,
  type StatisticsLevel,
} from './model/feature-set-settings.js';
export { type FeatureType, SCALAR_TYPES, type ScalarType } from './model/feature-types.js';
export {
  type Ingestion,
  type IngestionState,
  JOB_STATES,
  type Job,
  type JobPhaseProgress,
  type JobState,
  TERMINAL_JOB_STATES,
} from './model/offline-records.js';
export {
  type AccessToken,
  type FeatureSet,
  type FeatureSetSchema,
  type FeatureSetVersion,
  type FeatureSpec,
  type Page,
  type Permission,
  type Project,
  ROLES,
  type Role,
  type Tags,
  type User,
  type Version,
} from './model/records.js';
export { parseTagAssignments } from './model/tags.js';
export { parseTime } from './model/time.js';
export { formatVersion } from './model/version.js';

// Offline: ingestion, retrieval, job outputs, and what deleting and collecting leave.
export { DeletedFeatureSetData, type PurgeReport } from './offline/deleted-feature-set-data.js';
export type { FeatureRef } from './offline/feature-ref.js';
export {
  type CleanOutputsOptions,
  DEFAULT_OUTPUT_RETENTION,
  JobOutputs,
  type RemovedOutput,
} from './offline/job-outputs.js';
export {
  type HistoricalOptions,
  type IngestDataOptions,
  type IngestionView,
  type IngestOptions,
  type IngestResult,
  OfflineEngine,
  type OutputResult,
  type RetrieveOptions,
} from './offline/offline-engine.js';
// SourceAccess and normalizeUri: core's own tests import them from here.
export {
  normalizeUri,
  SourceAccess,
  type SourceAccessOptions,
  type SourceRole,
} from './offline/source-access.js';
export { formatOfPath, type ResolvedSource } from './offline/sources.js';
export {
  StagedUpload,
  StagedUploads,
  type StageOptions,
  sourceDescription,
} from './offline/staged-uploads.js';
export { StagingComputeEngine } from './offline/staging-compute-engine.js';
export {
  type CollectedCount,
  type CollectReport,
  DEFAULT_COLLECT_GRACE_MS,
  StorageCollector,
} from './offline/storage-collector.js';
export {
  type LocatedObject,
  type StorageLocator,
  storagesLocator,
} from './offline/storage-locator.js';
export type { AsOf } from './offline/time-travel.js';

// Online: pushes, reads, materialization, the apply worker and the sync to offline storage.
export { ApplyWorker } from './online/apply-worker.js';
export { MaterializeJobs } from './online/materialize-jobs.js';
export type { MaterializeResult, RevertOnlineResult } from './online/materializer.js';
export { MemoryOnlineStore } from './online/memory-online-store.js';
export {
  OFFLINE_SYNC_GROUP,
  OFFLINE_SYNC_SOURCE,
  type OfflineSyncOptions,
  OfflineSyncWorker,
  type SyncOutcome,
} from './online/offline-sync.js';
export {
  OnlineApplies,
  type OnlineApplyOutcome,
  type OnlineApplyState,
  type ResumedApply,
} from './online/online-applies.js';
export {
  ONLINE_APPLY_GROUP,
  OnlineEngine,
  type OnlineFeaturesRequest,
  type OnlineFeaturesResult,
  type PushResult,
} from './online/online-engine.js';
export { OnlineFeatureSets, type OnlineLookupCache } from './online/online-feature-sets.js';
export { OnlinePushes } from './online/online-pushes.js';
export { OnlineReads } from './online/online-reads.js';
export { ONLINE_INGEST_TOPIC, type PushedRow } from './online/pushed-row.js';
export { RowValidator, type ValidatedRow } from './online/row-validator.js';

// The ports: what the engine runs on.
export type {
  ColumnBatch,
  ComputeEngine,
  ComputeEngineCapabilities,
  DataFormat,
  FeatureStatistics,
  HistoricalFeatureSetSpec,
  HistoricalJobSpec,
  InferredFeature,
  InferSchemaJobResult,
  InferSchemaJobSpec,
  IngestionInput,
  IngestJobResult,
  IngestJobSpec,
  JobProgress,
  JobResultOf,
  JobRunContext,
  JobSpec,
  OutputJobResult,
  RetrieveJobSpec,
  RetrieveStreamSpec,
} from './ports/compute-engine.js';
export type { Credentials, IdentityProvider, Principal } from './ports/identity-provider.js';
export type {
  DeliveredMessage,
  MessagePosition,
  MessageQueue,
  QueueMessage,
  ReadOptions,
  SubscribeOptions,
  Subscription,
} from './ports/message-queue.js';
export type {
  CommitIngestionOptions,
  FeatureSetFilter,
  JobFilter,
  JobPatch,
  MetadataOperations,
  MetadataStore,
  PageRequest,
  ProjectFilter,
  ProjectPatch,
  ProjectRef,
  TagFilter,
  UserRef,
} from './ports/metadata-store.js';
export type {
  ByteRange,
  ListOptions,
  ListPage,
  ObjectBody,
  ObjectInfo,
  ObjectStorage,
} from './ports/object-storage.js';
export type {
  FeatureSetVersionRef,
  OnlineReadRequest,
  OnlineRecord,
  OnlineRecordVersion,
  OnlineReplacement,
  OnlineStore,
  OnlineValue,
} from './ports/online-store.js';

// Queues: dead letters, and the in-process queue.
export {
  DeadLetterBox,
  type DeadLetterEntry,
  type DeadLetterSelection,
  REPLAYED_FROM_HEADER,
} from './queue/dead-letter-box.js';
// DeadLetters wraps any consumer's handler (see the README); MessageContentError is how a
// handler says a message can never be handled.
export {
  DEAD_LETTER_HEADERS,
  type DeadLetter,
  DeadLetterError,
  DeadLetters,
  deadLetterTopic,
  isPermanentFailure,
  MessageContentError,
} from './queue/dead-letters.js';
export { LocalLogQueue, type LocalLogQueueOptions } from './queue/local-log-queue.js';
export { NamespacedQueue } from './queue/namespaced-queue.js';
// partitionOf: core's own tests import it from here.
export { partitionOf } from './queue/queue-names.js';

// Storage: the local reference driver, reading objects whole, and files only the owner reads.
export { LocalFileStorage } from './storage/local-file-storage.js';
export { readAll } from './storage/object-body.js';
export { listAll } from './storage/object-keys.js';
export {
  makePrivateFolder,
  PRIVATE_FILE_MODE,
  PRIVATE_FOLDER_MODE,
  tightenModes,
} from './storage/private-modes.js';
