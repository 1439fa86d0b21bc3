export { type S3DriverOptions, s3Driver, s3DriverOptions, s3UrlOptions } from './descriptor.js';
export { convertS3Error, type S3ErrorContext } from './errors.js';
export type { S3ClientLike, S3CommandLike, S3ConnectionOptions } from './s3-client.js';
export {
  S3ObjectStorage,
  type S3ObjectStorageOptions,
  type S3UrlOptions,
} from './s3-object-storage.js';
export { parseS3Url, type S3Location } from './s3-url.js';
