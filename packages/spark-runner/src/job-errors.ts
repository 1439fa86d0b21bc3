import {
  type ErrorCode,
  FeatureStoreError,
  NotFoundError,
  NotSupportedError,
  UnavailableError,
  ValidationError,
} from '@featurestore/core/driver';

/** A failure as the PySpark application reports it in its result document. */
export interface JobErrorDocument {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * The error of core's tree that a reported failure stands for, so a user sees the same kind
 * of error (and the same file, row, column and value) on Spark as on DuckDB. A Python trace
 * stays in the details, out of the message.
 */
export function jobError(document: JobErrorDocument): FeatureStoreError {
  const options = { details: document.details ?? {} };
  switch (document.code) {
    case 'VALIDATION':
      return new ValidationError(document.message, options);
    case 'NOT_FOUND':
      return new NotFoundError(document.message, options);
    case 'NOT_SUPPORTED':
      return new NotSupportedError(document.message, options);
    case 'UNAVAILABLE':
      return new UnavailableError(document.message, options);
    default:
      return new FeatureStoreError(document.code, document.message, options);
  }
}
