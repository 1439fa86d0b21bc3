/**
 * The error tree every part of Featurestore throws. Codes are stable: clients (the CLI, gRPC
 * status mapping, user code) switch on `code`, never on the message. Drivers convert native
 * errors (SQLSTATE, S3/Azure codes, Redis replies) into these with a converter of their own.
 */
export type ErrorCode =
  | 'VALIDATION'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'CONFLICT'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'UNAVAILABLE'
  | 'NOT_SUPPORTED'
  | 'CANCELLED'
  | 'INTERNAL';

export interface ErrorOptions {
  cause?: unknown;
  /** Machine-readable facts about the failure (field, value, row…), echoed by the API. */
  details?: Record<string, unknown>;
  /** Overrides the class default, e.g. a `ConflictError` from a serialization failure. */
  retryable?: boolean;
}

export class FeatureStoreError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  /** True when the same call may succeed if retried later (a service was unreachable). */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}, retryable = false) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
    this.retryable = options.retryable ?? retryable;
  }
}

/** Input that can never succeed as given: names the field and value, and says what to do. */
export class ValidationError extends FeatureStoreError {
  constructor(message: string, options?: ErrorOptions) {
    super('VALIDATION', message, options);
  }
}

export class NotFoundError extends FeatureStoreError {
  constructor(message: string, options?: ErrorOptions) {
    super('NOT_FOUND', message, options);
  }
}

export class AlreadyExistsError extends FeatureStoreError {
  constructor(message: string, options?: ErrorOptions) {
    super('ALREADY_EXISTS', message, options);
  }
}

/** A write based on a stale revision: re-read and retry, the other writer's change is kept. */
export class ConflictError extends FeatureStoreError {
  constructor(message: string, options?: ErrorOptions) {
    super('CONFLICT', message, options);
  }
}

export class UnauthenticatedError extends FeatureStoreError {
  constructor(message: string, options?: ErrorOptions) {
    super('UNAUTHENTICATED', message, options);
  }
}

export class PermissionDeniedError extends FeatureStoreError {
  constructor(message: string, options?: ErrorOptions) {
    super('PERMISSION_DENIED', message, options);
  }
}

/** A backend could not be reached or refused for now; the call is safe to retry. */
export class UnavailableError extends FeatureStoreError {
  constructor(message: string, options?: ErrorOptions) {
    super('UNAVAILABLE', message, options, true);
  }
}

/** The configured driver lacks a capability the call needs; the message names the driver. */
export class NotSupportedError extends FeatureStoreError {
  constructor(message: string, options?: ErrorOptions) {
    super('NOT_SUPPORTED', message, options);
  }
}

export class CancelledError extends FeatureStoreError {
  constructor(message: string, options?: ErrorOptions) {
    super('CANCELLED', message, options);
  }
}

export function isFeatureStoreError(error: unknown): error is FeatureStoreError {
  return error instanceof FeatureStoreError;
}
