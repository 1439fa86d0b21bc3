import { NoSuchBucket, NoSuchKey, S3ServiceException } from '@aws-sdk/client-s3';
import { FeatureStoreError, ValidationError } from '@featurestore/core/driver';
import { describe, expect, it } from 'vitest';
import { convertS3Error, type S3ClientLike, S3ObjectStorage } from '../src/index.js';

const context = {
  operation: 'GetObject',
  bucket: 'features',
  key: 'a/b.parquet',
  uri: 's3://features/prod/a/b.parquet',
  endpoint: 'https://s3.eu-west-1.amazonaws.com',
};

/** A service exception as the SDK builds it from an S3 error answer. */
function serviceError(name: string, status: number, extra: Record<string, unknown> = {}) {
  return Object.assign(
    new S3ServiceException({
      name,
      $fault: status >= 500 ? 'server' : 'client',
      $metadata: { httpStatusCode: status, requestId: 'req-1', attempts: 1 },
      message: `${name} message`,
    }),
    { Code: name, ...extra },
  );
}

describe('convertS3Error', () => {
  it('names the key of a missing object', () => {
    const error = convertS3Error(
      new NoSuchKey({
        $metadata: { httpStatusCode: 404 },
        message: 'The specified key does not exist.',
      }),
      context,
    );
    expect(error).toMatchObject({
      code: 'NOT_FOUND',
      details: { key: 'a/b.parquet', s3Code: 'NoSuchKey' },
    });
    expect(error.message).toContain(
      '"a/b.parquet" does not exist (s3://features/prod/a/b.parquet)',
    );
  });

  it('names the bucket of a missing bucket, with advice', () => {
    const error = convertS3Error(
      new NoSuchBucket({
        $metadata: { httpStatusCode: 404 },
        message: 'The specified bucket does not exist',
      }),
      context,
    );
    expect(error).toMatchObject({ code: 'NOT_FOUND' });
    expect(error.message).toMatch(
      /bucket "features" does not exist at https:\/\/s3\..*create it .*fix the bucket/,
    );
  });

  it('turns access denied into a PermissionDeniedError naming the IAM action', () => {
    const error = convertS3Error(serviceError('AccessDenied', 403), {
      ...context,
      operation: 'PutObject',
    });
    expect(error).toMatchObject({ code: 'PERMISSION_DENIED', retryable: false });
    expect(error.message).toContain('s3:PutObject on arn:aws:s3:::features/*');
    // HEAD answers have no body: the SDK names a 403 `Forbidden`.
    expect(convertS3Error(serviceError('Forbidden', 403), context)).toMatchObject({
      code: 'PERMISSION_DENIED',
    });
    expect(
      convertS3Error(serviceError('AccessDenied', 403), { ...context, operation: 'ListObjectsV2' })
        .message,
    ).toContain('s3:ListBucket on arn:aws:s3:::features ');
  });

  it('turns rejected credentials into an UnauthenticatedError with advice', () => {
    for (const code of ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken']) {
      const error = convertS3Error(serviceError(code, 403), context);
      expect(error, code).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(error.message, code).toMatch(
        new RegExp(`rejected the credentials .*\\(${code}\\): .*(access key|expired)`),
      );
    }
    const none = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    expect(convertS3Error(none, context)).toMatchObject({
      code: 'UNAUTHENTICATED',
      message: expect.stringContaining('AWS_ACCESS_KEY_ID'),
    });
  });

  it('turns throttling, 5xx and network failures into a retryable UnavailableError', () => {
    const slow = convertS3Error(serviceError('SlowDown', 503), context);
    expect(slow).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    expect(slow.message).toContain('throttling');
    expect(convertS3Error(serviceError('InternalError', 500), context)).toMatchObject({
      code: 'UNAVAILABLE',
    });
    expect(convertS3Error(serviceError('Whatever', 502), context)).toMatchObject({
      code: 'UNAVAILABLE',
    });
    const timeout = Object.assign(new Error('Connection timed out after 10000 ms'), {
      name: 'TimeoutError',
    });
    expect(convertS3Error(timeout, context)).toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('cannot reach S3 at https://s3.eu-west-1.amazonaws.com'),
    });
    const refused = new AggregateError(
      [Object.assign(new Error('connect ECONNREFUSED ::1:9000'), { code: 'ECONNREFUSED' })],
      'connect failed',
    );
    expect(convertS3Error(refused, context)).toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('says which region a bucket lives in when it is elsewhere', () => {
    const error = convertS3Error(
      serviceError('AuthorizationHeaderMalformed', 400, { Region: 'eu-central-1' }),
      context,
    );
    expect(error).toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining('"eu-central-1"'),
    });
  });

  it('keeps the S3 code of anything else', () => {
    const error = convertS3Error(serviceError('NoSuchUpload', 404), { ...context, key: undefined });
    expect(error).toBeInstanceOf(FeatureStoreError);
    expect(error.message).toContain('NoSuchUpload');
  });

  it('passes errors that did not come from S3 through unchanged', () => {
    const own = new Error('the body stream broke');
    expect(convertS3Error(own, context)).toBe(own);
    const featureStore = new ValidationError('bad');
    expect(convertS3Error(featureStore, context)).toBe(featureStore);
  });
});

describe('per-key delete errors', () => {
  it('are reported with their keys, after the other deletes ran', async () => {
    // moto cannot refuse a single key of a DeleteObjects call; this client answers as S3 does.
    const sent: unknown[] = [];
    const client: S3ClientLike = {
      config: {},
      destroy() {},
      async send(command) {
        sent.push(command.input);
        return {
          Errors: [
            { Key: 'p/locked', Code: 'AccessDenied', Message: 'Access Denied' },
            { Key: 'p/gone', Code: 'NoSuchKey', Message: 'missing' },
          ],
        };
      },
    };
    const storage = new S3ObjectStorage({ bucket: 'features', prefix: 'p', client });
    await expect(storage.delete(['locked', 'gone', 'fine'])).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringMatching(/^1 of 3 deletes failed: "locked" \(AccessDenied\)/),
      details: { failures: [{ key: 'locked', code: 'AccessDenied', message: 'Access Denied' }] },
    });
    expect(sent).toEqual([
      {
        Bucket: 'features',
        Delete: {
          Objects: [{ Key: 'p/locked' }, { Key: 'p/gone' }, { Key: 'p/fine' }],
          Quiet: true,
        },
      },
    ]);
  });
});
