import type { Principal } from '@featurestore/core';
import {
  type Metadata,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  status,
} from '@grpc/grpc-js';
import { callAbortReason, deadlinePassed } from '../grpc/call-signal.js';
import { explainLimitStatus } from '../grpc/message-limits.js';
import { attachCallContext, type CallContext } from './call-context.js';

type StatusSent = Parameters<ServerInterceptingCallInterface['sendStatus']>[0];

/** One finished call, as the call log and the metrics see it. */
export interface CallRecord {
  /** The full method path, `/featurestore.v1.CoreService/CreateProject`. */
  method: string;
  code: status;
  /** The status message (empty for OK). */
  details: string;
  durationMs: number;
  /** Where the call came from, `127.0.0.1:53712`. */
  peer: string;
  /** The caller, when the call got as far as authenticating. */
  principal?: Principal;
}

/** Told of every call once it ended, whatever ended it. */
export interface CallObserver {
  onCallEnd(record: CallRecord): void;
}

/**
 * The server interceptor every call passes through: it gives the call its context (the
 * signal `callSignal` returns, the principal once authenticated), rewords grpc-js's
 * over-the-limit statuses (`explainLimitStatus`), and tells `observers` how the call ended.
 *
 * Some calls end with a status grpc-js sends itself, below every interceptor: the
 * DEADLINE_EXCEEDED of a deadline that passed and the RESOURCE_EXHAUSTED of a message over a
 * limit go straight through the call's own `sendStatus`. The first interceptor is handed that
 * call itself, so the `sendStatus` of the call given here is wrapped to see those too (on a
 * call of another interceptor, the wrap still sees every status the handler sends). A call
 * the client cancelled ends with no status at all: `onCancel` records it.
 */
export function callInterceptor(
  observers: readonly CallObserver[],
  now: () => number = performance.now.bind(performance),
): ServerInterceptor {
  return (method, call: ServerInterceptingCallInterface) => {
    const started = now();
    const controller = new AbortController();
    const context: CallContext = { signal: controller.signal };
    /** The handler sent a status: the call no longer needs its signal. */
    let answered = false;
    let recorded = false;
    const record = (code: status, details: string) => {
      if (recorded) return;
      recorded = true;
      const entry: CallRecord = {
        method: method.path,
        code,
        details,
        durationMs: now() - started,
        peer: call.getPeer(),
        ...(context.principal === undefined ? {} : { principal: context.principal }),
      };
      for (const observer of observers) observer.onCallEnd(entry);
    };
    /** The call is over for the handler: its work stops. */
    const abort = () => {
      if (!answered && !controller.signal.aborted) {
        controller.abort(callAbortReason(call.getDeadline()));
      }
    };
    const send = call.sendStatus.bind(call);
    call.sendStatus = (value: StatusSent) => {
      // A status the handler did not send ends the call under it (a deadline, a limit).
      abort();
      const explained = explainLimitStatus(value);
      record(explained.code, explained.details);
      send(explained);
    };
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata: Metadata, forward) => {
            attachCallContext(metadata, context);
            forward(metadata);
          },
          onReceiveHalfClose: (next) => {
            // grpc-js reports the end of a request stream the same way whether the client
            // finished sending or the server closed the stream under the call (the status of
            // a deadline that passed): passed on, the latter would make a cut-off upload look
            // whole to the handler. The status aborted the call first: the end is dropped.
            if (!controller.signal.aborted && !requestStreamClosed(call)) next();
          },
          onCancel: () => {
            // grpc-js reports every call's end as a cancel, answered or not.
            abort();
            const expired = deadlinePassed(call.getDeadline());
            record(
              expired ? status.DEADLINE_EXCEEDED : status.CANCELLED,
              expired ? 'Deadline exceeded' : 'the client cancelled the call',
            );
          },
        }),
      sendStatus: (value, next) => {
        answered = true;
        next(value);
      },
    });
  };
}

/**
 * Whether the HTTP/2 stream under the call is closed (reset or ended by the server): grpc-js
 * hands the first interceptor its own call object, whose `stream` is that stream. Another
 * interceptor's call has none: the cancel events alone tell then.
 */
function requestStreamClosed(call: ServerInterceptingCallInterface): boolean {
  const stream = (call as { stream?: { closed?: boolean; destroyed?: boolean } }).stream;
  return stream?.closed === true || stream?.destroyed === true;
}
