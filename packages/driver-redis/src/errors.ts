import {
  FeatureStoreError,
  PermissionDeniedError,
  SOCKET_ERROR_CODES,
  UnauthenticatedError,
  UnavailableError,
} from '@featurestore/core/driver';

/** What the converter knows of the failed call, to say what failed. */
export interface RedisErrorContext {
  /** What the store was doing, e.g. `read (MGET)`. */
  operation: string;
  /** Where the requests went, without credentials: `127.0.0.1:6379` or the cluster's nodes. */
  endpoint: string;
  /** The last connection error the client reported (ioredis emits those as events). */
  connectionError?: Error | undefined;
}

/** ioredis' own words for "no usable connection", from the client rather than the server. */
const CLIENT_UNAVAILABLE = [
  /^Connection is closed/,
  /enableOfflineQueue options is false/,
  /^Command timed out/,
  /^Reached the max retries per request limit/,
  /^None of startup nodes is available/,
  /^Failed to refresh slots cache/,
  /^connect ETIMEDOUT/,
];

/** Replies that mean the server is there but cannot serve now: retry later. */
const BUSY_REPLIES = new Set([
  'LOADING',
  'BUSY',
  'MASTERDOWN',
  'CLUSTERDOWN',
  'TRYAGAIN',
  'READONLY',
]);

/**
 * Converts an error from `ioredis` into the `FeatureStoreError` a caller can act on: refused
 * connections, timeouts, a closed connection and servers that are loading or failing over
 * become a retryable `UnavailableError` naming the endpoint; `NOAUTH`/`WRONGPASS` an
 * `UnauthenticatedError`; `NOPERM` a `PermissionDeniedError`; `OOM` an `UnavailableError`
 * saying memory is full; any other reply a `FeatureStoreError` quoting it. A
 * `FeatureStoreError` passes through unchanged.
 *
 * @example
 * try {
 *   await client.mgetBuffer(keys);
 * } catch (error) {
 *   throw convertRedisError(error, { operation: 'read (MGET)', endpoint: '127.0.0.1:6379' });
 * }
 */
export function convertRedisError(error: unknown, context: RedisErrorContext): Error {
  if (error instanceof FeatureStoreError) return error;
  const native = (error instanceof Error ? error : new Error(String(error))) as Error & {
    code?: string;
  };
  const where = `Redis at ${context.endpoint}`;
  const reply = native.name === 'ReplyError' ? native.message : undefined;
  const replyCode = reply?.split(' ', 1)[0] ?? '';
  const details: Record<string, unknown> = {
    operation: context.operation,
    endpoint: context.endpoint,
    ...(replyCode ? { redisReply: replyCode } : {}),
  };
  const options = { cause: error, details };

  const network = SOCKET_ERROR_CODES.has(native.code ?? '');
  const lost = network || CLIENT_UNAVAILABLE.some((pattern) => pattern.test(native.message));
  // A connection the server refused to authenticate closes: the reply says why, not the close.
  const refusal = context.connectionError as (Error & { name?: string }) | undefined;
  if (
    lost &&
    refusal?.name === 'ReplyError' &&
    /^(NOAUTH|WRONGPASS|NOPERM)\b/.test(refusal.message)
  ) {
    return convertRedisError(refusal, { ...context, connectionError: undefined });
  }
  if (lost) {
    const cause = context.connectionError;
    const why = network
      ? native.code
      : cause
        ? `${native.message.replace(/\.$/, '')}; last connection error: ${cause.message}`
        : native.message.replace(/\.$/, '');
    return new UnavailableError(
      `cannot reach ${where} during ${context.operation} (${why}): check that the URL is right and Redis is running, then retry`,
      options,
    );
  }
  if (replyCode === 'NOAUTH' || replyCode === 'WRONGPASS') {
    return new UnauthenticatedError(
      `${where} rejected the credentials during ${context.operation} (${reply}): put the right user and password in the URL (redis://user:password@host:port)`,
      options,
    );
  }
  if (replyCode === 'NOPERM') {
    return new PermissionDeniedError(
      `${where} denied ${context.operation} (${reply}): grant the ACL user the commands (MGET, SET, GETRANGE, EVALSHA, EVAL, UNLINK, SCAN) on keys fs:*`,
      options,
    );
  }
  if (replyCode === 'OOM') {
    return new UnavailableError(
      `${where} is out of memory during ${context.operation} (${reply}): raise maxmemory, drop unused feature set versions, or give feature sets a time to live`,
      { ...options, retryable: false },
    );
  }
  if (BUSY_REPLIES.has(replyCode)) {
    return new UnavailableError(
      `${where} cannot serve ${context.operation} right now (${reply}): retry later`,
      options,
    );
  }
  if (reply !== undefined) {
    return new FeatureStoreError(
      'INTERNAL',
      `${where} replied to ${context.operation} with an error: ${reply}`,
      options,
    );
  }
  return new FeatureStoreError(
    'INTERNAL',
    `${context.operation} on ${where} failed: ${native.message}`,
    options,
  );
}
