export type { CliIo } from './cli/io.js';
export { runCli } from './cli/program.js';
export * from './config.js';
export { DriverRegistry, schemeOf } from './driver-registry.js';
export * from './oidc-identity-provider.js';
export * from './open-feature-store.js';
export { openStorageUrl, StorageRegistry } from './storage-urls.js';
export { StoreLock } from './store-lock.js';
export { createLogger, type Logger, type WorkerReports, workerReports } from './worker-log.js';
