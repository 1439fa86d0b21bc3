import type { Principal } from '@featurestore/core';
import type {
  handleClientStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  sendUnaryData,
} from '@grpc/grpc-js';
import type { CallAuthenticator } from './call-authenticator.js';
import { callSignal } from './call-signal.js';
import { toGrpcStatus } from './error-status.js';

/*
 * The shapes of handler every service uses: authenticate the call, run the method as the
 * caller, end the call with its result or with the engine error mapped to a status.
 */

/** A unary call: `method` gets the request and the call's signal (aborted when the call ends). */
export function unary<Request, Response>(
  authenticator: CallAuthenticator,
  method: (principal: Principal, request: Request, signal: AbortSignal) => Promise<Response>,
): handleUnaryCall<Request, Response> {
  return (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>) => {
    const signal = callSignal(call);
    authenticator
      .authenticate(call.metadata)
      .then((principal) => method(principal, call.request, signal))
      .then(
        (response) => callback(null, response),
        (error: unknown) => callback(toGrpcStatus(error)),
      );
  };
}

/** A client stream (an upload): `method` reads the call's messages. */
export function clientStreaming<Request, Response>(
  authenticator: CallAuthenticator,
  method: (
    principal: Principal,
    call: ServerReadableStream<Request, Response>,
    signal: AbortSignal,
  ) => Promise<Response>,
): handleClientStreamingCall<Request, Response> {
  return (call, callback) => {
    const signal = callSignal(call);
    authenticator
      .authenticate(call.metadata)
      .then((principal) => method(principal, call, signal))
      .then(
        (response) => callback(null, response),
        (error: unknown) => callback(toGrpcStatus(error)),
      );
  };
}

/** A server stream (a download, a watch): `method` writes to the call; the call ends after it. */
export function serverStreaming<Request, Response>(
  authenticator: CallAuthenticator,
  method: (
    principal: Principal,
    call: ServerWritableStream<Request, Response>,
    signal: AbortSignal,
  ) => Promise<void>,
): handleServerStreamingCall<Request, Response> {
  return (call) => {
    const signal = callSignal(call);
    authenticator
      .authenticate(call.metadata)
      .then((principal) => method(principal, call, signal))
      .then(
        () => call.end(),
        (error: unknown) => {
          if (!signal.aborted) call.emit('error', toGrpcStatus(error));
        },
      );
  };
}
