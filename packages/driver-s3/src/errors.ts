import {
  FeatureStoreError,
  NotFoundError,
  PermissionDeniedError,
  SOCKET_ERROR_CODES,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
} from '@featurestore/core/driver';

/** What the converter knows of the failed call, to say what failed. */
export interface S3ErrorContext {
  /** The S3 operation, e.g. `GetObject`. */
  operation: string;
  bucket: string;
  /** The key as the caller named it (relative to the storage prefix). */
  key?: string;
  /** The object's or the listing's `s3://` URI. */
  uri?: string;
  /** Where the requests went: an endpoint URL or `AWS S3 (region)`. */
  endpoint?: string;
}

/** The fields the SDK puts on a service exception (and on network errors it retried). */
interface S3ErrorLike {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $fault?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number; requestId?: string; attempts?: number };
  BucketName?: string;
  Region?: string;
  Endpoint?: string;
}

/** Socket errors, and undici's for a socket that failed under a request. */
const NETWORK_CODES = new Set([...SOCKET_ERROR_CODES, 'UND_ERR_SOCKET']);

/** Errors the SDK names after a timeout of its own (connection or socket idle). */
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout']);

const UNAVAILABLE_CODES = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'OperationAborted',
]);

const THROTTLING_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
]);

const DENIED_CODES = new Set(['AccessDenied', 'Forbidden', 'AllAccessDisabled', 'AccountProblem']);

const CREDENTIAL_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'MissingSecurityHeader',
  'InvalidSecurity',
  'CredentialsProviderError',
  'RequestTimeTooSkewed',
]);

const INPUT_CODES = new Set([
  'InvalidBucketName',
  'InvalidRange',
  'EntityTooLarge',
  'EntityTooSmall',
  'KeyTooLongError',
  'InvalidArgument',
  'InvalidRequest',
  'InvalidObjectState',
]);

/** The IAM action an operation needs, for the advice of an access-denied error. */
const ACTIONS: Record<string, string> = {
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  PutObject: 's3:PutObject',
  Upload: 's3:PutObject',
  ListObjectsV2: 's3:ListBucket',
  HeadBucket: 's3:ListBucket',
  DeleteObjects: 's3:DeleteObject',
};

/**
 * Converts an error from `@aws-sdk/client-s3` (a service exception, a network error the SDK
 * gave up retrying, a credential-provider failure) into the `FeatureStoreError` a caller can
 * act on: `NoSuchKey`/`NotFound` become a `NotFoundError` naming the key, `NoSuchBucket` one
 * naming the bucket; `AccessDenied` a `PermissionDeniedError` naming the IAM action;
 * `InvalidAccessKeyId`/`SignatureDoesNotMatch`/expired tokens an `UnauthenticatedError`;
 * throttling, 5xx answers, refused connections and timeouts a retryable `UnavailableError`
 * naming the endpoint; anything else keeps the S3 code in its message. A `FeatureStoreError`,
 * and an error that did not come from S3 (a caller's body stream failing), pass through
 * unchanged.
 *
 * @example
 * try {
 *   await client.send(new GetObjectCommand({ Bucket: 'data', Key: 'a.parquet' }));
 * } catch (error) {
 *   throw convertS3Error(error, { operation: 'GetObject', bucket: 'data', key: 'a.parquet' });
 * }
 */
export function convertS3Error(error: unknown, context: S3ErrorContext): Error {
  if (error instanceof FeatureStoreError) return error;
  if (typeof error !== 'object' || error === null) {
    return new FeatureStoreError('INTERNAL', `S3 ${context.operation} failed: ${String(error)}`, {
      cause: error,
    });
  }
  const native = unwrap(error as S3ErrorLike);
  const code = native.Code ?? native.code ?? native.name ?? '';
  const status = native.$metadata?.httpStatusCode;
  const network = NETWORK_CODES.has(native.code ?? '') || TIMEOUT_NAMES.has(native.name ?? '');
  const fromS3 = native.$metadata !== undefined || native.$fault !== undefined;
  const credentials = native.name === 'CredentialsProviderError' || CREDENTIAL_CODES.has(code);
  const region = /region is missing/i.test(native.message ?? '');
  if (!fromS3 && !network && !credentials && !region) return error as Error;

  const endpoint = context.endpoint ?? 'S3';
  const where = context.uri ?? `s3://${context.bucket}`;
  const details: Record<string, unknown> = {
    operation: context.operation,
    bucket: context.bucket,
    ...(context.key === undefined ? {} : { key: context.key }),
    ...(code ? { s3Code: code } : {}),
    ...(status === undefined ? {} : { httpStatus: status }),
    ...(native.$metadata?.requestId ? { requestId: native.$metadata.requestId } : {}),
  };
  const options = { cause: error, details };
  const reason = native.message && native.message !== code ? `: ${native.message}` : '';

  if (network || (fromS3 && isUnavailable(code, status))) {
    const attempts = native.$metadata?.attempts;
    const tried = attempts && attempts > 1 ? ` after ${attempts} attempts` : '';
    if (THROTTLING_CODES.has(code) || status === 429) {
      return new UnavailableError(
        `S3 at ${endpoint} is throttling requests (${code || status}) during ${context.operation} on ${where}${tried}: retry later, with fewer concurrent requests or spread over more key prefixes`,
        options,
      );
    }
    const what = network ? native.code || native.name : code || `HTTP ${status}`;
    return new UnavailableError(
      `cannot reach S3 at ${endpoint} during ${context.operation} on ${where} (${what})${tried}: check that the endpoint is right and the service is running, then retry`,
      options,
    );
  }
  if (region) {
    return new ValidationError(
      `no AWS region is configured for bucket "${context.bucket}": pass the region option or set AWS_REGION`,
      options,
    );
  }
  if (credentials) {
    if (native.name === 'CredentialsProviderError') {
      return new UnauthenticatedError(
        `no AWS credentials were found for ${where}${reason}: pass credentials, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where an IAM role is available`,
        options,
      );
    }
    const advice =
      code === 'RequestTimeTooSkewed'
        ? "the machine's clock is too far off: synchronize it (NTP)"
        : code === 'ExpiredToken' || code === 'TokenRefreshRequired' || code === 'InvalidToken'
          ? 'the temporary credentials have expired or are invalid: refresh them (a new session token, `aws sso login`)'
          : 'check the access key id and secret access key (the credentials option, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile), and that they belong to this endpoint';
    return new UnauthenticatedError(
      `S3 at ${endpoint} rejected the credentials during ${context.operation} on ${where} (${code}): ${advice}`,
      options,
    );
  }
  if (code === 'NoSuchBucket' || (context.operation === 'HeadBucket' && status === 404)) {
    return new NotFoundError(
      `bucket "${context.bucket}" does not exist at ${endpoint}: create it (e.g. \`aws s3 mb s3://${context.bucket}\`) or fix the bucket in the storage URL`,
      options,
    );
  }
  if (code === 'NoSuchKey' || code === 'NotFound' || (status === 404 && context.key)) {
    return new NotFoundError(
      context.key === undefined
        ? `nothing found at ${where} during ${context.operation} (${code || 404})`
        : `object ${JSON.stringify(context.key)} does not exist (${where})`,
      options,
    );
  }
  if (INPUT_CODES.has(code)) {
    return new ValidationError(
      `S3 at ${endpoint} rejected ${context.operation} on ${where} (${code})${reason}`,
      options,
    );
  }
  if (DENIED_CODES.has(code) || status === 403) {
    const action = ACTIONS[context.operation] ?? `the ${context.operation} permission`;
    return new PermissionDeniedError(
      `S3 at ${endpoint} denied ${context.operation} on ${where} (${code || 403}): grant the credentials' identity ${action} on arn:aws:s3:::${context.bucket}${action === 's3:ListBucket' ? '' : '/*'} (check the IAM policy, the bucket policy and any SCP or KMS key policy)`,
      options,
    );
  }
  if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || status === 301) {
    const hint = native.Region
      ? `set region to "${native.Region}"`
      : native.Endpoint
        ? `use the endpoint ${native.Endpoint}`
        : 'set the region the bucket lives in';
    return new ValidationError(
      `bucket "${context.bucket}" is not in the configured region of ${endpoint} (${code || 301}): ${hint}`,
      options,
    );
  }
  return new FeatureStoreError(
    'INTERNAL',
    `S3 at ${endpoint} failed ${context.operation} on ${where} with ${code || 'an unknown error'}${status === undefined ? '' : ` (HTTP ${status})`}${reason}`,
    options,
  );
}

/** Node reports a refused connection to a host with several addresses as an AggregateError. */
function unwrap(error: S3ErrorLike): S3ErrorLike {
  if (isAggregate(error) && error.errors.length > 0 && !error.code) {
    const first = error.errors[0] as S3ErrorLike;
    return { ...first, $metadata: error.$metadata ?? first.$metadata };
  }
  return error;
}

function isAggregate(error: S3ErrorLike): error is S3ErrorLike & { errors: unknown[] } {
  return error instanceof AggregateError;
}

function isUnavailable(code: string, status: number | undefined): boolean {
  if (UNAVAILABLE_CODES.has(code)) return true;
  return status === 429 || (status !== undefined && status >= 500);
}
