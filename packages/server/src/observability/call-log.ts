import { status } from '@grpc/grpc-js';
import type { HttpObserver, HttpRequestRecord } from '../http/http-server.js';
import type { Logger } from '../worker-log.js';
import type { CallObserver, CallRecord } from './call-interceptor.js';

/** Codes that say the server or a backend failed, rather than the caller. */
const SERVER_FAULTS = new Set<status>([
  status.INTERNAL,
  status.UNKNOWN,
  status.UNAVAILABLE,
  status.DATA_LOSS,
  status.UNIMPLEMENTED,
]);

/**
 * One log line per call: `method`, `principal` (the user's name, when authenticated),
 * `code` (the status name), `durationMs` and `peer`, plus the status message when the call
 * failed. Info for a call the caller got wrong or that succeeded, warn for one the server
 * failed (INTERNAL, UNAVAILABLE…).
 *
 * @example
 * {"level":30,"name":"featurestore","method":"/featurestore.v1.CoreService/GetProject","principal":"admin","code":"OK","durationMs":1.2,"peer":"127.0.0.1:53712","msg":"call"}
 */
export function callLog(logger: Logger): CallObserver {
  return {
    onCallEnd(record: CallRecord) {
      const line = {
        method: record.method,
        principal: record.principal?.name,
        code: status[record.code] ?? String(record.code),
        durationMs: Math.round(record.durationMs * 1000) / 1000,
        peer: record.peer,
        ...(record.code === status.OK ? {} : { message: record.details }),
      };
      if (SERVER_FAULTS.has(record.code)) logger.warn(line, 'call');
      else logger.info(line, 'call');
    },
  };
}

/** Paths probed every few seconds: a line each would drown the log. */
const PROBES = new Set(['/metrics', '/healthz', '/readyz']);

/**
 * One log line per request of the HTTP port (the JSON API): `method`, `path`, `status`,
 * `durationMs`, `peer`; warn for a 5xx. Probes of `/metrics`, `/healthz` and `/readyz` are
 * not logged (their metrics count them).
 */
export function httpRequestLog(logger: Logger): HttpObserver {
  return {
    onRequestEnd(record: HttpRequestRecord) {
      if (PROBES.has(record.path)) return;
      const line = {
        method: record.method,
        path: record.path,
        status: record.status,
        durationMs: Math.round(record.durationMs * 1000) / 1000,
        peer: record.peer,
      };
      if (record.status >= 500) logger.warn(line, 'request');
      else logger.info(line, 'request');
    },
  };
}
