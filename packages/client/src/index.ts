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
export type { OidcClientCredentials } from './oidc-client-credentials.js';
export { ProjectsClient } from './projects-client.js';
export type * from './records.js';
export type { RetryPolicy } from './retry-policy.js';
