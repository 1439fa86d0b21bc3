import { ErrorInfo } from '@featurestore/protocol/google/rpc/error_details';
import { Status } from '@featurestore/protocol/google/rpc/status';
import { type ServiceError, status } from '@grpc/grpc-js';

/**
 * The engine's error codes, as the server sends them in the status details. The same strings
 * as `@featurestore/core`'s `ErrorCode`, repeated here so the client does not depend on core.
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

export interface ClientErrorOptions {
  cause?: unknown;
  /** Machine-readable facts about the failure (field, value…), as the server sent them. */
  details?: Record<string, string>;
  /** The gRPC status code the call ended with, when the error came from a call. */
  grpcCode?: status;
}

/**
 * Every error the client throws. `code` is the engine's stable code: switch on it (or on the
 * subclass), never on the message.
 */
export class FeatureStoreError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, string>;
  /** The gRPC status of the failed call (undefined for errors raised before any call). */
  readonly grpcCode: status | undefined;

  constructor(code: ErrorCode, message: string, options: ClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
    this.grpcCode = options.grpcCode;
  }

  /** True when the same call may succeed if made again later. */
  get retryable(): boolean {
    return this.code === 'UNAVAILABLE';
  }
}

/** Input that can never succeed as given: the message names the field and value. */
export class ValidationError extends FeatureStoreError {
  constructor(message: string, options?: ClientErrorOptions) {
    super('VALIDATION', message, options);
  }
}

export class NotFoundError extends FeatureStoreError {
  constructor(message: string, options?: ClientErrorOptions) {
    super('NOT_FOUND', message, options);
  }
}

export class AlreadyExistsError extends FeatureStoreError {
  constructor(message: string, options?: ClientErrorOptions) {
    super('ALREADY_EXISTS', message, options);
  }
}

/** A write based on a stale revision: read again and retry. */
export class ConflictError extends FeatureStoreError {
  constructor(message: string, options?: ClientErrorOptions) {
    super('CONFLICT', message, options);
  }
}

export class UnauthenticatedError extends FeatureStoreError {
  constructor(message: string, options?: ClientErrorOptions) {
    super('UNAUTHENTICATED', message, options);
  }
}

export class PermissionDeniedError extends FeatureStoreError {
  constructor(message: string, options?: ClientErrorOptions) {
    super('PERMISSION_DENIED', message, options);
  }
}

/** The server, or a backend behind it, could not be reached; safe to retry later. */
export class UnavailableError extends FeatureStoreError {
  constructor(message: string, options?: ClientErrorOptions) {
    super('UNAVAILABLE', message, options);
  }
}

/** The call did not finish within its deadline (`deadlineMs`). */
export class DeadlineExceededError extends UnavailableError {}

/** The server's configuration lacks a capability the call needs. */
export class NotSupportedError extends FeatureStoreError {
  constructor(message: string, options?: ClientErrorOptions) {
    super('NOT_SUPPORTED', message, options);
  }
}

export class CancelledError extends FeatureStoreError {
  constructor(message: string, options?: ClientErrorOptions) {
    super('CANCELLED', message, options);
  }
}

type ErrorClass = new (message: string, options?: ClientErrorOptions) => FeatureStoreError;

const ERROR_CLASSES: Readonly<Record<ErrorCode, ErrorClass | undefined>> = {
  VALIDATION: ValidationError,
  NOT_FOUND: NotFoundError,
  ALREADY_EXISTS: AlreadyExistsError,
  CONFLICT: ConflictError,
  UNAUTHENTICATED: UnauthenticatedError,
  PERMISSION_DENIED: PermissionDeniedError,
  UNAVAILABLE: UnavailableError,
  NOT_SUPPORTED: NotSupportedError,
  CANCELLED: CancelledError,
  INTERNAL: undefined,
};

/**
 * The engine code of a status that carries none in its details (a proxy, grpc-js itself, a
 * server of another version): the reverse of the server's one mapping.
 */
const CODE_OF_STATUS: Partial<Record<status, ErrorCode>> = {
  [status.INVALID_ARGUMENT]: 'VALIDATION',
  [status.OUT_OF_RANGE]: 'VALIDATION',
  [status.NOT_FOUND]: 'NOT_FOUND',
  [status.ALREADY_EXISTS]: 'ALREADY_EXISTS',
  [status.ABORTED]: 'CONFLICT',
  [status.FAILED_PRECONDITION]: 'CONFLICT',
  [status.UNAUTHENTICATED]: 'UNAUTHENTICATED',
  [status.PERMISSION_DENIED]: 'PERMISSION_DENIED',
  [status.UNAVAILABLE]: 'UNAVAILABLE',
  [status.RESOURCE_EXHAUSTED]: 'UNAVAILABLE',
  [status.DEADLINE_EXCEEDED]: 'UNAVAILABLE',
  [status.UNIMPLEMENTED]: 'NOT_SUPPORTED',
  [status.CANCELLED]: 'CANCELLED',
};

/** `ErrorInfo.domain` of the errors the Featurestore server sends. */
const ERROR_DOMAIN = 'featurestore';
const STATUS_DETAILS_TRAILER = 'grpc-status-details-bin';
const ERROR_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.ErrorInfo';

/** The engine code and details a failed call carries in `grpc-status-details-bin`, if any. */
function engineErrorOf(
  error: Pick<ServiceError, 'metadata'>,
): { code: ErrorCode; details: Record<string, string> } | undefined {
  const [raw] = error.metadata?.get(STATUS_DETAILS_TRAILER) ?? [];
  if (!Buffer.isBuffer(raw)) return undefined;
  try {
    for (const detail of Status.decode(raw).details) {
      if (detail.typeUrl !== ERROR_INFO_TYPE_URL) continue;
      const info = ErrorInfo.decode(detail.value);
      if (info.domain === ERROR_DOMAIN && info.reason in ERROR_CLASSES) {
        return { code: info.reason as ErrorCode, details: info.metadata };
      }
    }
  } catch {
    // Details that do not decode are treated as absent: the status code still says enough.
  }
  return undefined;
}

/** A failed call as the typed error of its engine code. */
export function errorFromStatus(error: ServiceError, method: string): FeatureStoreError {
  const engine = engineErrorOf(error);
  const options: ClientErrorOptions = {
    cause: error,
    grpcCode: error.code,
    details: engine?.details ?? {},
  };
  if (!engine && error.code === status.DEADLINE_EXCEEDED) {
    return new DeadlineExceededError(
      `${method} did not finish within its deadline: give it more time (deadlineMs) or check the server's load`,
      options,
    );
  }
  const code = engine?.code ?? CODE_OF_STATUS[error.code] ?? 'INTERNAL';
  // The server's message when it sent one (grpc-js puts it in `details`); grpc-js's own otherwise.
  const message = error.details || error.message;
  const ErrorClass = ERROR_CLASSES[code];
  return ErrorClass
    ? new ErrorClass(message, options)
    : new FeatureStoreError(code, message, options);
}

export function isFeatureStoreError(error: unknown): error is FeatureStoreError {
  return error instanceof FeatureStoreError;
}
