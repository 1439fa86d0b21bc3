export { AccessClient } from './access-client.js';
export type {
  CallOptions,
  FeatureStoreClientOptions,
  TlsOptions,
} from './client-options.js';
export {
  AlreadyExistsError,
  CancelledError,
  type ClientErrorOptions,
  ConflictError,
  DeadlineExceededError,
  type ErrorCode,
  FeatureStoreError,
  isFeatureStoreError,
  NotFoundError,
  NotSupportedError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
} from './errors.js';
export { FeatureSetsClient } from './feature-sets-client.js';
export { FeatureStoreClient } from './feature-store-client.js';
export type { DownloadTarget, UploadSource } from './file-transfer.js';
export { JobsClient } from './jobs-client.js';
export {
  type HistoricalOptions,
  type IngestOptions,
  OfflineClient,
  type RetrieveOptions,
} from './offline-client.js';
export type { OidcClientCredentials } from './oidc-client-credentials.js';
export { OnlineClient } from './online-client.js';
export { ProjectsClient } from './projects-client.js';
export type * from './records.js';
export type { RetryPolicy } from './retry-policy.js';
export {
  type InferOptions,
  type InferredSchema,
  SchemaInferenceClient,
} from './schema-inference-client.js';
