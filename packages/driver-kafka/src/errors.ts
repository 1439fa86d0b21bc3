import {
  ConflictError,
  FeatureStoreError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
} from '@featurestore/core/driver';

/** What the converter knows of the failed call, to say what failed. */
export interface KafkaErrorContext {
  /** The brokers the client was given, e.g. `['kafka-1:9092', 'kafka-2:9092']`. */
  brokers?: readonly string[];
  /** What was being done: `publishing to featurestore.jobs`, `joining group workers`… */
  action?: string;
}

/** The fields kafkajs puts on its errors (`KafkaJSError` and subclasses). */
interface KafkaErrorLike {
  name?: string;
  message?: string;
  type?: string;
  code?: string | number;
  retriable?: boolean;
  cause?: unknown;
  errors?: unknown[];
}

/** kafkajs error classes that mean a broker could not be reached or did not answer in time. */
const UNREACHABLE_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTimeout',
  'KafkaJSLockTimeout',
]);

/**
 * What kafkajs throws (a plain `Error`) when a request goes to a broker whose connection never
 * completed: the socket opened but the broker did not answer the handshake, as a frozen one.
 */
const NOT_CONNECTED = 'Broker not connected';

/** Socket errors Node reports for an address nobody answers on. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/** Broker error codes for a cluster that is busy electing, loading or short of replicas. */
const TRANSIENT_TYPES = new Set([
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'BROKER_NOT_AVAILABLE',
  'REPLICA_NOT_AVAILABLE',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
  'COORDINATOR_NOT_AVAILABLE',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'NOT_COORDINATOR_FOR_GROUP',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'GROUP_LOAD_IN_PROGRESS',
  'KAFKA_STORAGE_ERROR',
  'THROTTLING_QUOTA_EXCEEDED',
]);

/** Broker error codes for a request that can never succeed as sent. */
const INVALID_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_PARTITIONS',
  'INVALID_REPLICATION_FACTOR',
  'INVALID_REPLICA_ASSIGNMENT',
  'INVALID_CONFIG',
  'INVALID_RECORD',
  'INVALID_REQUIRED_ACKS',
  'POLICY_VIOLATION',
  'INVALID_GROUP_ID',
  'INVALID_SESSION_TIMEOUT',
  'UNSUPPORTED_COMPRESSION_TYPE',
]);

/** Group membership moved on under the call: the same call, made again, will do. */
const GROUP_CHANGE_TYPES = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'FENCED_INSTANCE_ID',
]);

/**
 * Converts an error thrown by kafkajs into the `FeatureStoreError` a caller can act on:
 * unreachable or hanging brokers, timeouts and elections become `UnavailableError` naming the
 * brokers;
 * SASL failures `UnauthenticatedError`; `*_AUTHORIZATION_FAILED` `PermissionDeniedError`;
 * oversized or malformed requests (`MESSAGE_TOO_LARGE`, `INVALID_TOPIC_EXCEPTION`…)
 * `ValidationError`; an unknown topic `NotFoundError`; a rebalance under the call a retryable
 * `ConflictError`; anything else an `INTERNAL` error carrying kafkajs' message. Wrappers
 * (`KafkaJSNumberOfRetriesExceeded`, aggregates) are looked through to their cause. A
 * `FeatureStoreError` passes through unchanged.
 *
 * @example
 * try {
 *   await producer.send({ topic, messages });
 * } catch (error) {
 *   throw convertKafkaError(error, { brokers, action: `publishing to ${topic}` });
 * }
 */
export function convertKafkaError(
  error: unknown,
  context: KafkaErrorContext = {},
): FeatureStoreError {
  if (error instanceof FeatureStoreError) return error;
  const chain = causes(error);
  const root = chain.at(-1) ?? {};
  const type = chain.find((entry) => typeof entry.type === 'string')?.type;
  const brokers = context.brokers?.length ? context.brokers.join(',') : 'the Kafka brokers';
  const doing = context.action ? ` while ${context.action}` : '';
  const reason = describe(chain);
  const details: Record<string, unknown> = {
    ...(context.brokers ? { brokers: [...context.brokers] } : {}),
    ...(type ? { kafkaError: type } : {}),
  };
  const options = { cause: error, details };

  if (
    chain.some((entry) => entry.name === 'KafkaJSSASLAuthenticationError') ||
    type === 'SASL_AUTHENTICATION_FAILED' ||
    type === 'ILLEGAL_SASL_STATE' ||
    type === 'UNSUPPORTED_SASL_MECHANISM'
  ) {
    return new UnauthenticatedError(
      `${brokers} refused the credentials${doing}: ${reason}; check the SASL mechanism, user and password`,
      options,
    );
  }
  if (type?.endsWith('_AUTHORIZATION_FAILED')) {
    return new PermissionDeniedError(
      `${brokers} denied the request${doing} (${type}): grant the client's principal the ACL it needs`,
      options,
    );
  }
  if (type && INVALID_TYPES.has(type)) {
    return new ValidationError(`${brokers} rejected the request${doing}: ${reason}`, options);
  }
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION' || type === 'UNKNOWN_TOPIC_ID') {
    return new NotFoundError(
      `the topic does not exist on ${brokers}${doing}: ${reason}; let the queue create it, or create it with the partitions you need`,
      options,
    );
  }
  if (type && GROUP_CHANGE_TYPES.has(type)) {
    return new ConflictError(
      `the consumer group changed${doing} (${type}): the call is safe to retry`,
      { ...options, retryable: true },
    );
  }
  if (chain.some((entry) => entry.message?.trim() === NOT_CONNECTED)) {
    return new UnavailableError(
      `the Kafka brokers ${brokers} accepted the connection but did not answer${doing} (${reason}): a broker that hangs (frozen, overloaded, or not Kafka at that address); check that it is healthy, then retry`,
      options,
    );
  }
  if (
    chain.some((entry) => entry.name !== undefined && UNREACHABLE_NAMES.has(entry.name)) ||
    chain.some((entry) => typeof entry.code === 'string' && NETWORK_CODES.has(entry.code)) ||
    (type !== undefined && TRANSIENT_TYPES.has(type)) ||
    (chain.some((entry) => entry.name === 'KafkaJSNumberOfRetriesExceeded') &&
      root.retriable === true)
  ) {
    return new UnavailableError(
      `cannot reach the Kafka brokers ${brokers}${doing}: ${reason}; check that they are running and that the addresses (and TLS/SASL settings) are right, then retry`,
      options,
    );
  }
  return new FeatureStoreError(
    'INTERNAL',
    `Kafka failed${doing} on ${brokers}: ${reason}`,
    options,
  );
}

/** The error and its causes, outermost first; aggregates contribute their first error. */
function causes(error: unknown): KafkaErrorLike[] {
  const chain: KafkaErrorLike[] = [];
  let current: unknown = error;
  while (typeof current === 'object' && current !== null && chain.length < 10) {
    const entry = current as KafkaErrorLike;
    chain.push(entry);
    current = entry.cause ?? (Array.isArray(entry.errors) ? entry.errors[0] : undefined);
  }
  if (chain.length === 0) chain.push({ message: String(error) });
  return chain;
}

/** The distinct messages of the chain, outermost first. */
function describe(chain: readonly KafkaErrorLike[]): string {
  const messages: string[] = [];
  for (const entry of chain) {
    const message = entry.message?.trim();
    if (message && !messages.some((known) => known.includes(message))) messages.push(message);
  }
  return messages.join(': ') || 'unknown error';
}
