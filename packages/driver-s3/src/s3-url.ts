import { ValidationError, validateObjectKey } from '@featurestore/core/driver';

/** The parts of an `s3://bucket/prefix` URL. */
export interface S3Location {
  bucket: string;
  /** `undefined` for the bucket's root. */
  prefix?: string;
}

/**
 * Bucket names as S3 and the common S3-compatible stores accept them (lowercase, digits, dots
 * and hyphens; uppercase and underscores only survive in legacy us-east-1 buckets).
 */
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,253}[a-z0-9]$/i;

/**
 * Parses `s3://bucket/prefix` (the prefix optional, a trailing `/` ignored). The prefix is taken
 * as written, not percent-decoded, so it reads like the keys `aws s3 ls` shows.
 *
 * @example
 * parseS3Url('s3://features/prod/'); // { bucket: 'features', prefix: 'prod' }
 */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([^/?#]*)(?:\/(.*))?$/.exec(url);
  if (!match) {
    throw invalid(url, 'it must look like s3://bucket or s3://bucket/prefix');
  }
  const bucket = match[1]!;
  if (!BUCKET.test(bucket)) {
    throw invalid(
      url,
      bucket === ''
        ? 'the bucket is missing'
        : `"${bucket}" is not a valid bucket name (3 to 255 letters, digits, dots, hyphens)`,
    );
  }
  const prefix = normalizePrefix(match[2], url);
  return prefix === undefined ? { bucket } : { bucket, prefix };
}

/** Validates a bucket name given as an option. */
export function validateBucket(bucket: string): string {
  if (typeof bucket !== 'string' || !BUCKET.test(bucket)) {
    throw new ValidationError(
      `S3 bucket name ${JSON.stringify(bucket)} is invalid: use 3 to 255 letters, digits, dots and hyphens, starting and ending with a letter or digit`,
      { details: { field: 'bucket', value: bucket } },
    );
  }
  return bucket;
}

/** `a/b/` → `a/b`; `''` → undefined; a prefix that could escape or alias keys is refused. */
export function normalizePrefix(prefix: string | undefined, source?: string): string | undefined {
  if (prefix === undefined) return undefined;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (trimmed === '') return undefined;
  try {
    return validateObjectKey(trimmed);
  } catch (error) {
    const reason = (error as Error).message.replace(/^object key/, 'prefix');
    if (source !== undefined) throw invalid(source, reason);
    throw new ValidationError(reason, {
      cause: error,
      details: { field: 'prefix', value: prefix },
    });
  }
}

function invalid(url: string, reason: string): ValidationError {
  return new ValidationError(`S3 storage URL ${JSON.stringify(url)} is invalid: ${reason}`, {
    details: { field: 'url', value: url },
  });
}
