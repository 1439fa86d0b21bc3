/**
 * `@featurestore/core/driver`: what a driver author needs to implement a port and publish it
 * as a descriptor. The port interfaces and the records they carry, the error tree, the
 * descriptor API, and the checks every driver shares, so that all of them refuse the same
 * input with the same error (a key, a range, a list limit, a queue name, an online record).
 * Applications import `@featurestore/core`; the conformance suites are in
 * `@featurestore/core/testing`.
 *
 * Every name here is public on purpose: the packaging test records the list.
 */

// The descriptor API: what a driver package exports, and what loading an SDK needs.
export {
  type AnyDriverDescriptor,
  type DriverContext,
  type DriverDescriptor,
  type DriverPort,
  type DriverPorts,
  defineDriver,
  type OptionsIssue,
  type OptionsSchema,
} from './drivers/driver-descriptor.js';
export { loadModule, positiveInteger } from './drivers/load-module.js';
export { SOCKET_ERROR_CODES } from './drivers/network-errors.js';
export { type TlsSettings, tlsConnectionOptions } from './drivers/tls-settings.js';

// The error tree: drivers convert their backend's failures into these.
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

// The records the ports carry.
export type { StatisticsLevel } from './model/feature-set-settings.js';
export {
  elementType,
  type FeatureType,
  SCALAR_TYPES,
  type ScalarType,
} from './model/feature-types.js';
export {
  type Ingestion,
  type IngestionState,
  JOB_STATES,
  type Job,
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
// Online stores: the newest-wins rule and the checks before a write.
export {
  checkOnlineRecords,
  checkReplacements,
  compareRecords,
  newestPerKey,
} from './online/memory-online-store.js';
// The ports.
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

// Message queues: names, messages and the partition of a key.
export { partitionOf, validateQueueMessage, validateQueueName } from './queue/queue-names.js';

// Object storage: keys, ranges, list pages, bodies, and files only their owner reads.
export { type CountedBody, countedBody, readAll, toReadable } from './storage/object-body.js';
export {
  listAll,
  listPageLimit,
  partialDeleteError,
  rangeAtOrPastEnd,
  validateByteRange,
  validateListPrefix,
  validateObjectKey,
} from './storage/object-keys.js';
export {
  makePrivateFolder,
  PRIVATE_FILE_MODE,
  PRIVATE_FOLDER_MODE,
  tightenModes,
} from './storage/private-modes.js';
