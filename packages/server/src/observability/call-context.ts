import type { Principal } from '@featurestore/core';
import type { Metadata } from '@grpc/grpc-js';

/**
 * What the server knows of one gRPC call besides its handler's own arguments: when it is
 * over (its signal), and who made it once authenticated. Keyed by the call's request
 * `Metadata`, the one object the interceptors and the handler both hold (grpc-js hands the
 * metadata the interceptors passed on to the handler as `call.metadata`).
 */
export interface CallContext {
  /** Aborts when the call ends before the handler answered: cancelled, or past its deadline. */
  readonly signal: AbortSignal;
  /** The authenticated caller, once `CallAuthenticator` resolved it. */
  principal?: Principal;
}

const contexts = new WeakMap<Metadata, CallContext>();

/** Attaches `context` to the call whose request metadata is `metadata`. */
export function attachCallContext(metadata: Metadata, context: CallContext): void {
  contexts.set(metadata, context);
}

/** The context of the call whose request metadata is `metadata`, when one was attached. */
export function callContextOf(metadata: Metadata): CallContext | undefined {
  return contexts.get(metadata);
}

/** Records who made the call (a call logs its principal when it ends). */
export function rememberPrincipal(metadata: Metadata, principal: Principal): void {
  const context = contexts.get(metadata);
  if (context) context.principal = principal;
}
