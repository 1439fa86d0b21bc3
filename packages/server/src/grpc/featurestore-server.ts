import { ValidationError } from '@featurestore/core';
import { CoreServiceService } from '@featurestore/protocol/featurestore/v1/core';
import { OnlineServiceService } from '@featurestore/protocol/featurestore/v1/online';
import { HealthService } from '@featurestore/protocol/grpc/health/v1/health';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { BackendHealth } from '../backend-health.js';
import { type HttpRoute, type RunningHttpServer, startHttpServer } from '../http/http-server.js';
import { onlineJsonRoutes } from '../http/online-json-routes.js';
import { callInterceptor } from '../observability/call-interceptor.js';
import { callLog, httpRequestLog } from '../observability/call-log.js';
import { serverProbes, serverReadiness } from '../observability/readiness.js';
import { ServerMetrics } from '../observability/server-metrics.js';
import { OidcIdentityProvider, type OidcOptions } from '../oidc-identity-provider.js';
import { OnlineOperations } from '../online-operations.js';
import type { FeatureStore } from '../open-feature-store.js';
import { createLogger, type Logger } from '../worker-log.js';
import { CallAuthenticator } from './call-authenticator.js';
import { coreService } from './core-service.js';
import { HealthStatus, ServingStatus } from './health-service.js';
import { formatListenAddress, parseListenAddress } from './listen-address.js';
import { DEFAULT_MESSAGE_LIMITS, limitOptions, type MessageLimits } from './message-limits.js';
import { onlineService } from './online-service.js';
import { RecentPrincipals } from './recent-principals.js';
import { addReflection } from './reflection-service.js';

/** The PEM files of `--tls-cert`, `--tls-key` and `--tls-client-ca`. */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  /** Clients must present a certificate signed by this CA (mutual TLS). */
  clientCa?: Buffer;
}

export interface ServerOptions {
  /** `HOST:PORT` (default 127.0.0.1:50051); port 0 picks a free one. */
  listen: string;
  /** Serve over TLS with these files. */
  tls?: TlsFiles;
  /** Allow plaintext on an address other machines can reach. */
  insecure?: boolean;
  /** Accept OIDC bearer JWTs besides personal access tokens. */
  oidc?: OidcOptions;
  /** How long a shutdown waits for calls in flight before cancelling them (default 30 s). */
  drainTimeoutMs?: number;
  /**
   * Which services to serve: `core` (CoreService), `online` (OnlineService and its HTTP/JSON
   * mapping) or `all` (default; the online service only when the store has an online store).
   */
  role?: 'core' | 'online' | 'all';
  /**
   * `HOST:PORT` of the HTTP port (`/metrics`, `/healthz`, `/readyz`, the JSON API); none
   * when undefined. Same TLS and loopback rule as `listen`.
   */
  httpListen?: string;
  /** Further HTTP endpoints besides metrics and health. */
  httpRoutes?: readonly HttpRoute[];
  /** Where the server logs (default: JSON lines on stderr at info). */
  logger?: Logger;
  /** Time between two probes of the backends `/readyz` reports on (default 5,000 ms). */
  backendProbeIntervalMs?: number;
  /** Message sizes and concurrent calls per connection (default `DEFAULT_MESSAGE_LIMITS`). */
  limits?: Partial<MessageLimits>;
  /**
   * The metrics served at `/metrics` (default: new ones). Made before the store opens, they
   * also count the workers' reports (`ServerMetrics.countingReports`).
   */
  metrics?: ServerMetrics;
}

const CORE_SERVICE = 'featurestore.v1.CoreService';
const ONLINE_SERVICE = 'featurestore.v1.OnlineService';

/**
 * The packaged server: gRPC services over an open feature store. It does not own the store:
 * whoever opened it closes it after `shutdown`.
 */
export class FeatureStoreServer {
  readonly #server: Server;
  readonly #health: HealthStatus;
  readonly #drainTimeoutMs: number;
  readonly #http: RunningHttpServer | undefined;
  readonly #backends: BackendHealth;
  /** The address bound, with the port the system chose when 0 was asked. */
  readonly address: string;
  #stopped: Promise<void> | undefined;

  private constructor(
    server: Server,
    health: HealthStatus,
    address: string,
    drainMs: number,
    http: RunningHttpServer | undefined,
    backends: BackendHealth,
  ) {
    this.#server = server;
    this.#health = health;
    this.address = address;
    this.#drainTimeoutMs = drainMs;
    this.#http = http;
    this.#backends = backends;
  }

  /** Where the HTTP port listens (`HOST:PORT`), or undefined without one. */
  get httpAddress(): string | undefined {
    return this.#http?.address;
  }

  /** Binds and starts serving; refuses plaintext on a non-loopback address without `insecure`. */
  static async start(store: FeatureStore, options: ServerOptions): Promise<FeatureStoreServer> {
    const listen = parseListenAddress(options.listen);
    if (!options.tls && !listen.loopback && !options.insecure) {
      throw new ValidationError(
        `--listen ${options.listen} is reachable from other machines and the server has no TLS: give --tls-cert and --tls-key, or --insecure to send tokens in plaintext (behind a TLS-terminating proxy only)`,
        { details: { field: 'listen', value: options.listen } },
      );
    }
    const { engine } = store;
    const providers = [
      engine.tokens,
      ...(options.oidc ? [new OidcIdentityProvider(options.oidc, engine.access)] : []),
    ];
    const authenticator = new CallAuthenticator(providers);
    // Online calls authenticate from memory for as long as the engine reuses its online
    // lookups: a token lookup is two metadata queries, more than the read itself.
    const onlineTtlMs = store.config.onlineMetadataCacheMs ?? 1000;
    const onlineAuthenticator = new CallAuthenticator(
      providers.map(
        (provider) =>
          new RecentPrincipals(provider, { ttlMs: onlineTtlMs, changes: engine.accessChanges }),
      ),
    );
    const role = options.role ?? 'all';
    // `online` needs an online store (OnlineOperations says how to configure one).
    const online =
      role === 'online' || (role === 'all' && engine.online)
        ? new OnlineOperations(engine)
        : undefined;
    const health = new HealthStatus([
      ...(role === 'online' ? [] : [CORE_SERVICE]),
      ...(online ? [ONLINE_SERVICE] : []),
    ]);
    const logger = options.logger ?? createLogger();
    const metrics = options.metrics ?? new ServerMetrics();
    const server = new Server({
      ...limitOptions({ ...DEFAULT_MESSAGE_LIMITS, ...options.limits }),
      // Every call of every service is logged, counted and given its signal.
      interceptors: [callInterceptor([callLog(logger), metrics])],
    });
    if (role !== 'online') {
      server.addService(CoreServiceService, coreService(engine, authenticator));
    }
    if (online) server.addService(OnlineServiceService, onlineService(online, onlineAuthenticator));
    server.addService(HealthService, health.service());
    // Reflection lists what this role serves, and health checking.
    addReflection(server, [
      ...(role === 'online' ? [] : [CORE_SERVICE]),
      ...(online ? [ONLINE_SERVICE] : []),
      'grpc.health.v1.Health',
    ]);
    const credentials = options.tls
      ? ServerCredentials.createSsl(
          options.tls.clientCa ?? null,
          [{ cert_chain: options.tls.cert, private_key: options.tls.key }],
          options.tls.clientCa !== undefined,
        )
      : ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(formatListenAddress(listen), credentials, (error, bound) =>
        error ? reject(error) : resolve(bound),
      );
    }).catch((error: unknown) => {
      server.forceShutdown();
      throw new ValidationError(
        `cannot listen on ${options.listen}: ${error instanceof Error ? error.message : String(error)}; choose another --listen`,
        { cause: error, details: { field: 'listen', value: options.listen } },
      );
    });
    const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    const backends = BackendHealth.start(serverProbes(engine.drivers), logger, {
      ...(options.backendProbeIntervalMs === undefined
        ? {}
        : { intervalMs: options.backendProbeIntervalMs }),
    });
    metrics.observe({ engine, backends });
    let http: RunningHttpServer | undefined;
    if (options.httpListen !== undefined) {
      try {
        http = await startHttpServer({
          listen: options.httpListen,
          metrics: metrics.registry,
          observers: [httpRequestLog(logger), metrics],
          readiness: serverReadiness(() => health.get('') === ServingStatus.SERVING, backends, {
            servesOnlineOnly: role === 'online',
          }),
          drainTimeoutMs,
          ...(options.tls === undefined ? {} : { tls: options.tls }),
          ...(options.insecure ? { insecure: true } : {}),
          routes: [
            ...(online ? onlineJsonRoutes(online, onlineAuthenticator) : []),
            ...(options.httpRoutes ?? []),
          ],
        });
      } catch (error) {
        server.forceShutdown();
        await backends.stop();
        throw error;
      }
    }
    return new FeatureStoreServer(
      server,
      health,
      formatListenAddress({ host: listen.host, port }),
      drainTimeoutMs,
      http,
      backends,
    );
  }

  /**
   * Graceful shutdown: health turns NOT_SERVING, no new calls are accepted, calls in flight
   * finish (cancelled after the drain timeout). Safe to call more than once.
   */
  shutdown(): Promise<void> {
    this.#stopped ??= Promise.all([
      new Promise<void>((resolve) => {
        this.#health.drain();
        const timer = setTimeout(() => this.#server.forceShutdown(), this.#drainTimeoutMs);
        this.#server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
      // Both ports drain together; the backend probes stop once nothing is served.
      this.#http?.close(),
    ]).then(() => this.#backends.stop());
    return this.#stopped;
  }
}
