import { defineDriver } from '@featurestore/core/driver';
import { z } from 'zod';
import { S3ObjectStorage, type S3UrlOptions } from './s3-object-storage.js';

const positive = z.number().int().positive();

/** The `drivers.s3` block of a configuration (also accepted as the top-level `s3` block). */
export const s3DriverOptions = z
  .object({
    /** An S3-compatible server, e.g. `http://minio.internal:9000`. Default: AWS. */
    endpoint: z.string().url().optional(),
    region: z.string().min(1).optional(),
    /** Address buckets as `endpoint/bucket` (default: true with a custom endpoint). */
    forcePathStyle: z.boolean().optional(),
    /** Static credentials; without them the AWS SDK's default chain is used. */
    accessKeyId: z.string().min(1).optional(),
    secretAccessKey: z.string().min(1).optional(),
    sessionToken: z.string().min(1).optional(),
    /** Multipart part size in bytes (default 8 MiB, at least 5 MiB). */
    partSize: positive.optional(),
    /** Parts uploaded at once (default 4). */
    queueSize: positive.optional(),
    /** Attempts per request, retries included (the SDK's default is 3). */
    maxAttempts: positive.optional(),
  })
  .strict()
  .refine((o) => (o.accessKeyId === undefined) === (o.secretAccessKey === undefined), {
    message: 'accessKeyId and secretAccessKey go together: set both or neither',
    path: ['secretAccessKey'],
  })
  .default({});

export type S3DriverOptions = z.infer<typeof s3DriverOptions>;

/** `S3ObjectStorage.fromUrl` options from a validated `drivers.s3` block. */
export function s3UrlOptions(options: S3DriverOptions): S3UrlOptions {
  const { accessKeyId, secretAccessKey, sessionToken, maxAttempts, ...rest } = options;
  return {
    ...rest,
    ...(accessKeyId !== undefined && secretAccessKey !== undefined
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(sessionToken === undefined ? {} : { sessionToken }),
          },
        }
      : {}),
    ...(maxAttempts === undefined ? {} : { clientConfig: { maxAttempts } }),
  };
}

/** Object storage on Amazon S3 or any S3-compatible server: `s3://bucket/prefix`. */
export const s3Driver = defineDriver({
  name: 's3',
  port: 'storage',
  schemes: ['s3'],
  options: s3DriverOptions,
  open: (url, options) => S3ObjectStorage.fromUrl(url, s3UrlOptions(options)),
});
