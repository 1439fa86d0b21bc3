export type {
  AdlsContainerClientLike,
  AdlsCredential,
  AdlsFileSystemClientLike,
  TokenCredentialLike,
} from './adls-clients.js';
export {
  AdlsObjectStorage,
  type AdlsObjectStorageOptions,
  type AdlsUrlOptions,
} from './adls-object-storage.js';
export { type AdlsLocation, parseAdlsUrl } from './adls-url.js';
export {
  type AdlsDriverOptions,
  adlsDriver,
  adlsDriverOptions,
  adlsUrlOptions,
} from './descriptor.js';
export { type AdlsErrorContext, convertAdlsError } from './errors.js';
