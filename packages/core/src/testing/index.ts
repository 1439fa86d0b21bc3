/**
 * `@featurestore/core/testing`: the conformance suites every driver runs against its real
 * backend, and the helpers they share.
 */

export {
  type ComputeEngineConformanceOptions,
  computeEngineConformance,
} from './compute-engine-conformance.js';
export {
  type MessageQueueCapability,
  type MessageQueueConformanceOptions,
  messageQueueConformance,
} from './message-queue-conformance.js';
export {
  type MetadataStoreCapability,
  type MetadataStoreConformanceOptions,
  metadataStoreConformance,
} from './metadata-store-conformance.js';
export {
  type ObjectStorageConformanceOptions,
  objectStorageConformance,
} from './object-storage-conformance.js';
export {
  type OnlineStoreCapability,
  type OnlineStoreConformanceOptions,
  onlineStoreConformance,
} from './online-store-conformance.js';
export { serviceEnv } from './service-env.js';
export { streamingRssGrowth } from './streaming-memory.js';
export { type SuiteApi, uniqueName } from './suite-api.js';
