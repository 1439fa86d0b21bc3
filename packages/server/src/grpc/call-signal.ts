import type { EventEmitter } from 'node:events';
import { CancelledError } from '@featurestore/core';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import { callContextOf } from '../observability/call-context.js';

/** What every grpc-js server call (unary or streaming) offers: its metadata, deadline and events. */
export type ServerCall = Pick<ServerUnaryCall<unknown, unknown>, 'getDeadline' | 'cancelled'> &
  Pick<EventEmitter, 'once'> & { readonly metadata: Metadata };

/** The epoch ms of a grpc-js deadline (`Infinity` when the call has none). */
export function deadlineMs(deadline: Date | number): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/**
 * A cancellation this close to the deadline counts as the deadline: the client's own timer
 * cancels the call when its deadline passes, which the server may see a little before its
 * copy of the deadline (network, a busy event loop).
 */
const DEADLINE_TOLERANCE_MS = 1000;

/** Whether the deadline passed (or is about to: `DEADLINE_TOLERANCE_MS`). */
export function deadlinePassed(deadline: Date | number, now = Date.now()): boolean {
  return now >= deadlineMs(deadline) - DEADLINE_TOLERANCE_MS;
}

/** Why a call ended before its handler answered, as the engine's error (CANCELLED). */
export function callAbortReason(deadline: Date | number, now = Date.now()): CancelledError {
  return deadlinePassed(deadline, now)
    ? new CancelledError(
        'the call’s deadline passed before it finished: the work it started was stopped; retry with a longer deadline',
        { details: { reason: 'deadline' } },
      )
    : new CancelledError('the client cancelled the call: the work it started was stopped', {
        details: { reason: 'cancelled' },
      });
}

const fallbacks = new WeakMap<object, AbortSignal>();

/**
 * An `AbortSignal` that aborts when `call` ends before its handler answered: the client
 * cancelled it, its deadline passed, or the server stopped it. Hand it to every engine and
 * store call the handler makes, so their work stops with the call. Its `reason` is a
 * `CancelledError` saying which (`details.reason`: `deadline` or `cancelled`).
 *
 * On `FeatureStoreServer` the signal comes from the call interceptor, which knows whether the
 * handler already answered; elsewhere (a bare grpc-js server) the call's `cancelled` event is
 * used, which grpc-js also emits once a call ended normally: harmless, as the work is done.
 *
 * @example
 * const rows = await engine.online.getOnlineFeatures(principal, request, { signal: callSignal(call) });
 */
export function callSignal(call: ServerCall): AbortSignal {
  const context = callContextOf(call.metadata);
  if (context) return context.signal;
  let signal = fallbacks.get(call);
  if (!signal) {
    const controller = new AbortController();
    signal = controller.signal;
    fallbacks.set(call, signal);
    const abort = () => controller.abort(callAbortReason(call.getDeadline()));
    if (call.cancelled) abort();
    else call.once('cancelled', abort);
  }
  return signal;
}
