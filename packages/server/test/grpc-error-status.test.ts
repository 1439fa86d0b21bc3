import {
  AlreadyExistsError,
  CancelledError,
  ConflictError,
  FeatureStoreError as EngineError,
  type FeatureStoreError,
  NotFoundError,
  NotSupportedError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
} from '@featurestore/core';
import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { engineErrorOf, GRPC_STATUS_OF, toGrpcStatus } from '../src/grpc/error-status.js';

const details = { field: 'name', value: 42, nested: { a: 1 }, text: 'x' };

/** One row per engine error code: the status it must become. */
const cases: [FeatureStoreError, status][] = [
  [new ValidationError('name must be a string', { details }), status.INVALID_ARGUMENT],
  [new NotFoundError('project "p" does not exist', { details }), status.NOT_FOUND],
  [new AlreadyExistsError('project "p" exists', { details }), status.ALREADY_EXISTS],
  [new ConflictError('revision 3 is stale', { details }), status.ABORTED],
  [new UnauthenticatedError('the token expired', { details }), status.UNAUTHENTICATED],
  [new PermissionDeniedError('viewer may not delete', { details }), status.PERMISSION_DENIED],
  [new UnavailableError('PostgreSQL is unreachable', { details }), status.UNAVAILABLE],
  [new NotSupportedError('the driver cannot stream', { details }), status.UNIMPLEMENTED],
  [new CancelledError('the job was cancelled', { details }), status.CANCELLED],
  [new EngineError('INTERNAL', 'an invariant broke', { details }), status.INTERNAL],
];

describe('engine errors as gRPC statuses', () => {
  it.each(cases)('%s → status %i, with the engine code and details', (error, code) => {
    const result = toGrpcStatus(error);
    expect(result.code).toBe(code);
    expect(result.details).toBe(error.message);
    expect(result.metadata!.get('featurestore-error-code')).toEqual([error.code]);
    expect(engineErrorOf({ metadata: result.metadata! })).toEqual({
      code: error.code,
      details: { field: 'name', value: '42', nested: '{"a":1}', text: 'x' },
    });
  });

  it('every engine code has its own row above', () => {
    const codes = cases.map(([error]) => error.code);
    expect(new Set(codes).size).toBe(cases.length);
    expect(new Set(codes)).toEqual(new Set(Object.keys(GRPC_STATUS_OF)));
  });

  it('anything that is not an engine error is INTERNAL, with its message', () => {
    const result = toGrpcStatus(new TypeError('cannot read properties of undefined'));
    expect(result.code).toBe(status.INTERNAL);
    expect(result.details).toBe('internal error: cannot read properties of undefined');
    expect(engineErrorOf({ metadata: result.metadata! })).toEqual({
      code: 'INTERNAL',
      details: {},
    });
  });

  it('a status without Featurestore details reads as no engine error', () => {
    expect(engineErrorOf({ metadata: new Metadata() })).toBeUndefined();
  });
});
