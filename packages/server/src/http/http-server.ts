import { once } from 'node:events';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  type ErrorCode,
  isFeatureStoreError,
  NotFoundError,
  ValidationError,
} from '@featurestore/core';
import type { Registry } from 'prom-client';
import type { TlsFiles } from '../grpc/featurestore-server.js';
import { formatListenAddress, parseListenAddress } from '../grpc/listen-address.js';
import { redactSecrets } from '../redact-secrets.js';

/** The default of `featurestore serve --http-listen`: this machine only. */
export const DEFAULT_HTTP_LISTEN = '127.0.0.1:8080';

/** One endpoint of the HTTP port besides `/metrics`, `/healthz` and `/readyz`. */
export interface HttpRoute {
  method: 'GET' | 'POST';
  /** The exact path (`/v1/online/get`); the query string is not part of it. */
  path: string;
  /**
   * Answers the request. A rejection becomes a JSON error (see `sendJsonError`) when nothing
   * was sent yet; otherwise the connection is cut, so the client sees an incomplete answer.
   */
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
}

/** One answered HTTP request, as the request log and the metrics see it. */
export interface HttpRequestRecord {
  method: string;
  /** The route's path, or `unknown` for a path the port does not serve (404). */
  path: string;
  status: number;
  durationMs: number;
  /** Where the request came from, `127.0.0.1:53712`. */
  peer: string;
}

/** Told of every HTTP request once its answer was sent (or the connection cut). */
export interface HttpObserver {
  onRequestEnd(record: HttpRequestRecord): void;
}

/** What `/readyz` reports: ready, or which checks failed and why. */
export interface Readiness {
  ready: boolean;
  /** Each check by name: `ok`, or why it failed (`metadata: unreachable`). */
  checks: Record<string, string>;
}

export interface HttpServerOptions {
  /** `HOST:PORT`; port 0 picks a free one. */
  listen: string;
  /** Serve HTTPS with these files (the gRPC server's own; a client CA makes it mutual TLS). */
  tls?: TlsFiles;
  /** Allow plaintext on an address other machines can reach. */
  insecure?: boolean;
  /** Served at `/metrics` in the Prometheus text format; without it `/metrics` is 404. */
  metrics?: Registry;
  /** What `/readyz` answers; without it the server is ready while it runs. */
  readiness?: () => Readiness | Promise<Readiness>;
  /** Further endpoints (the JSON mapping of the online service). */
  routes?: readonly HttpRoute[];
  /** How long `close` waits for requests in flight before cutting them (default 30 s). */
  drainTimeoutMs?: number;
  /** Told of every request (the request log, the metrics). */
  observers?: readonly HttpObserver[];
}

/** The HTTP port as started: where it listens, and how to stop it. */
export interface RunningHttpServer {
  /** The address bound, with the port the system chose when 0 was asked. */
  readonly address: string;
  /** Whether it serves HTTPS. */
  readonly tls: boolean;
  /**
   * Stops accepting connections, lets requests in flight finish (cut after the drain timeout)
   * and resolves once every connection is closed. Safe to call more than once.
   */
  close(): Promise<void>;
}

/**
 * The HTTP status of each engine error code, for JSON answers: the same meaning as the gRPC
 * mapping (`GRPC_STATUS_OF`), in HTTP's words.
 */
export const HTTP_STATUS_OF: Readonly<Record<ErrorCode, number>> = {
  VALIDATION: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  UNAVAILABLE: 503,
  NOT_SUPPORTED: 501,
  // 499 is what proxies log for a client that went away; nobody reads the answer anyway.
  CANCELLED: 499,
  INTERNAL: 500,
};

/** JSON text of `body`, bigints as strings (int64 values JSON.stringify refuses). */
function jsonText(body: unknown): string {
  return JSON.stringify(body, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}

/** Sends `body` as JSON with `status` (bigints as strings: int64 values). */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  sendJsonText(response, status, jsonText(body));
}

function sendJsonText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

/**
 * Sends an error as `{ code, message, details }` (the shape of the CLI's `--json` errors):
 * an engine error with the status of its code, anything else as 500 INTERNAL. Secrets are
 * blanked, as in the logs: a driver's message may quote a connection URL.
 */
export function sendJsonError(response: ServerResponse, error: unknown): void {
  const body = isFeatureStoreError(error)
    ? { code: error.code, message: error.message, details: error.details }
    : {
        code: 'INTERNAL' as const,
        message: `internal error: ${error instanceof Error ? error.message : String(error)}`,
        details: {},
      };
  sendJsonText(response, HTTP_STATUS_OF[body.code], redactSecrets(jsonText(body)));
}

function notFound(path: string): NotFoundError {
  return new NotFoundError(
    `no endpoint ${path} here: the HTTP port serves /metrics, /healthz, /readyz and the JSON API under /v1`,
    { details: { path } },
  );
}

/**
 * Starts the HTTP port of `featurestore serve`: Prometheus metrics at `/metrics`, liveness at
 * `/healthz` (the process answers), readiness at `/readyz` (503 with the failed checks while
 * not ready), and the given routes. Unknown paths are 404 and known paths called with another
 * method 405 (with `Allow`), both as JSON errors. The loopback rule is the gRPC server's:
 * plaintext on an address other machines reach needs `insecure`.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const listen = parseListenAddress(options.listen, '--http-listen');
  if (!options.tls && !listen.loopback && !options.insecure) {
    throw new ValidationError(
      `--http-listen ${options.listen} is reachable from other machines and the server has no TLS: give --tls-cert and --tls-key, --insecure (behind a TLS-terminating proxy only), or --http-listen off`,
      { details: { field: 'http-listen', value: options.listen } },
    );
  }
  const routes = new Map<string, Map<string, HttpRoute['handle']>>();
  const add = (method: HttpRoute['method'], path: string, handle: HttpRoute['handle']) => {
    const methods = routes.get(path) ?? new Map<string, HttpRoute['handle']>();
    if (methods.has(method)) throw new Error(`two HTTP routes for ${method} ${path}`);
    routes.set(path, methods.set(method, handle));
  };
  add('GET', '/healthz', async (_request, response) => sendJson(response, 200, { status: 'ok' }));
  add('GET', '/readyz', async (_request, response) => {
    const readiness = (await options.readiness?.()) ?? { ready: true, checks: {} };
    sendJson(response, readiness.ready ? 200 : 503, {
      status: readiness.ready ? 'ready' : 'not ready',
      checks: readiness.checks,
    });
  });
  const { metrics } = options;
  if (metrics) {
    add('GET', '/metrics', async (_request, response) => {
      const text = await metrics.metrics();
      response.writeHead(200, { 'content-type': metrics.contentType });
      response.end(text);
    });
  }
  for (const route of options.routes ?? []) add(route.method, route.path, route.handle);

  const observers = options.observers ?? [];
  const handleRequest = (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?', 1)[0]!;
    const methods = routes.get(path);
    if (observers.length > 0) {
      const started = performance.now();
      const { remoteAddress, remotePort } = request.socket;
      response.once('close', () => {
        const record: HttpRequestRecord = {
          method: request.method ?? '',
          // Only known paths: a scanner's every path would be a metric series of its own.
          path: methods ? path : 'unknown',
          status: response.writableFinished ? response.statusCode : 499,
          durationMs: performance.now() - started,
          peer: `${remoteAddress}:${remotePort}`,
        };
        for (const observer of observers) observer.onRequestEnd(record);
      });
    }
    const handle = methods?.get(request.method === 'HEAD' ? 'GET' : (request.method ?? ''));
    if (!methods) {
      sendJsonError(response, notFound(path));
      return;
    }
    if (!handle) {
      const allowed = [...methods.keys()].join(', ');
      response.setHeader('allow', allowed);
      sendJson(response, 405, {
        code: 'METHOD_NOT_ALLOWED',
        message: `${path} takes ${allowed}, not ${request.method}`,
        details: { method: request.method, allowed },
      });
      return;
    }
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) response.destroy(error as Error);
      else sendJsonError(response, error);
    });
  };
  const server: Server = options.tls
    ? createHttpsServer(
        {
          cert: options.tls.cert,
          key: options.tls.key,
          ...(options.tls.clientCa === undefined
            ? {}
            : { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: true }),
        },
        handleRequest,
      )
    : createHttpServer(handleRequest);
  server.listen(listen.port, listen.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]: unknown[]) => {
      throw new ValidationError(
        `cannot listen on --http-listen ${options.listen}: ${(error as Error).message}; choose another, or --http-listen off`,
        { cause: error, details: { field: 'http-listen', value: options.listen } },
      );
    }),
  ]);
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  let closed: Promise<void> | undefined;
  return {
    address: formatListenAddress({
      host: listen.host,
      port: (server.address() as AddressInfo).port,
    }),
    tls: options.tls !== undefined,
    close() {
      closed ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), drainTimeoutMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        // Keep-alive connections with no request in flight would hold `close` until they time out.
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}
