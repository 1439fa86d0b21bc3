import { type ErrorCode, type FeatureStoreError, isFeatureStoreError } from '@featurestore/core';
import { Any } from '@featurestore/protocol/google/protobuf/any';
import { ErrorInfo } from '@featurestore/protocol/google/rpc/error_details';
import { Status } from '@featurestore/protocol/google/rpc/status';
import { Metadata, type ServiceError, type StatusObject, status } from '@grpc/grpc-js';

/**
 * The one mapping from the engine's error codes to gRPC status codes. Every engine error
 * becomes exactly this status; the engine code itself travels in the status details.
 */
export const GRPC_STATUS_OF: Readonly<Record<ErrorCode, status>> = {
  VALIDATION: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  // A stale revision (or a state that forbids the change): re-read and retry, like ABORTED says.
  CONFLICT: status.ABORTED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  UNAVAILABLE: status.UNAVAILABLE,
  NOT_SUPPORTED: status.UNIMPLEMENTED,
  CANCELLED: status.CANCELLED,
  INTERNAL: status.INTERNAL,
};

/** `ErrorInfo.domain` of Featurestore errors. */
export const ERROR_DOMAIN = 'featurestore';
/** A plain trailer with the engine code, for tools that do not decode status details. */
export const ERROR_CODE_TRAILER = 'featurestore-error-code';
/** The standard trailer holding a serialized `google.rpc.Status`. */
const STATUS_DETAILS_TRAILER = 'grpc-status-details-bin';
const ERROR_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.ErrorInfo';

/** An engine error as a client reads it back from a failed call. */
export interface EngineErrorInfo {
  code: ErrorCode;
  /** The error's details (field, value…); values that were not strings are JSON. */
  details: Record<string, string>;
}

/**
 * The status a failed call ends with: the mapped code, the engine's message, and the engine
 * code with its details as a `google.rpc.ErrorInfo` in `grpc-status-details-bin` (plus the
 * `featurestore-error-code` trailer). Anything that is not an engine error is INTERNAL.
 */
export function toGrpcStatus(error: unknown): Partial<StatusObject> {
  const engineError: Pick<FeatureStoreError, 'code' | 'message' | 'details'> = isFeatureStoreError(
    error,
  )
    ? error
    : {
        code: 'INTERNAL',
        message: `internal error: ${error instanceof Error ? error.message : String(error)}`,
        details: {},
      };
  const code = GRPC_STATUS_OF[engineError.code];
  const info = ErrorInfo.encode({
    reason: engineError.code,
    domain: ERROR_DOMAIN,
    metadata: Object.fromEntries(
      Object.entries(engineError.details).map(([key, value]) => [
        key,
        typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)),
      ]),
    ),
  }).finish();
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_TRAILER, engineError.code);
  metadata.set(
    STATUS_DETAILS_TRAILER,
    Buffer.from(
      Status.encode({
        code,
        message: engineError.message,
        details: [Any.fromPartial({ typeUrl: ERROR_INFO_TYPE_URL, value: Buffer.from(info) })],
      }).finish(),
    ),
  );
  return { code, details: engineError.message, metadata };
}

/** The engine error a failed call carries, or undefined when it carries none. */
export function engineErrorOf(error: Pick<ServiceError, 'metadata'>): EngineErrorInfo | undefined {
  const [raw] = error.metadata?.get(STATUS_DETAILS_TRAILER) ?? [];
  if (!Buffer.isBuffer(raw)) return undefined;
  for (const detail of Status.decode(raw).details) {
    if (detail.typeUrl !== ERROR_INFO_TYPE_URL) continue;
    const info = ErrorInfo.decode(detail.value);
    if (info.domain === ERROR_DOMAIN && info.reason in GRPC_STATUS_OF) {
      return { code: info.reason as ErrorCode, details: info.metadata };
    }
  }
  return undefined;
}
