export * from './auth/access-service.js';
export * from './auth/actions.js';
export * from './auth/authorizer.js';
export * from './auth/roles.js';
export * from './auth/token-identity-provider.js';
export * from './auth/token-secrets.js';
export * from './drivers/driver-descriptor.js';
export * from './drivers/load-module.js';
export * from './drivers/network-errors.js';
export * from './drivers/tls-settings.js';
export * from './engine.js';
export * from './errors.js';
export * from './identifiers.js';
export * from './jobs/job-service.js';
export * from './metadata/feature-set-definition.js';
export * from './metadata/feature-set-service.js';
export * from './metadata/metadata-changes.js';
export * from './metadata/project-service.js';
export * from './metadata/read-through-cache.js';
export * from './metadata/schema-inference.js';
export * from './metadata/version-changes.js';
export * from './model/duration.js';
export * from './model/feature-set-settings.js';
export * from './model/feature-types.js';
export * from './model/offline-records.js';
export * from './model/records.js';
export * from './model/tags.js';
export * from './model/time.js';
export * from './model/version.js';
export * from './offline/deleted-feature-set-data.js';
export * from './offline/feature-ref.js';
export * from './offline/job-outputs.js';
export * from './offline/offline-engine.js';
export * from './offline/source-access.js';
export * from './offline/sources.js';
export * from './offline/staging-compute-engine.js';
export * from './offline/storage-collector.js';
export * from './offline/storage-layout.js';
export * from './offline/storage-locator.js';
export * from './offline/time-travel.js';
export * from './online/materializer.js';
export * from './online/memory-online-store.js';
export * from './online/offline-sync.js';
export * from './online/online-applies.js';
export * from './online/online-engine.js';
export * from './online/online-values.js';
export type { PushedRow } from './online/pushed-row.js';
export { decodePushedRows } from './online/pushed-row-codec.js';
export { RowValidator, type ValidatedRow } from './online/row-validator.js';
export type * from './ports/compute-engine.js';
export type * from './ports/identity-provider.js';
export type * from './ports/message-queue.js';
export type * from './ports/metadata-store.js';
export type * from './ports/object-storage.js';
export type * from './ports/online-store.js';
export * from './queue/dead-letter-box.js';
export * from './queue/dead-letters.js';
export { LocalLogQueue, type LocalLogQueueOptions } from './queue/local-log-queue.js';
export { NamespacedQueue } from './queue/namespaced-queue.js';
export { partitionOf, validateQueueMessage, validateQueueName } from './queue/queue-names.js';
export { LocalFileStorage } from './storage/local-file-storage.js';
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
