import { ValidationError } from '@featurestore/core';
import { CoreServiceService } from '@featurestore/protocol/featurestore/v1/core';
import { HealthService } from '@featurestore/protocol/grpc/health/v1/health';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { OidcIdentityProvider, type OidcOptions } from '../oidc-identity-provider.js';
import type { FeatureStore } from '../open-feature-store.js';
import { CallAuthenticator } from './call-authenticator.js';
import { coreService } from './core-service.js';
import { HealthStatus } from './health-service.js';
import { formatListenAddress, parseListenAddress } from './listen-address.js';

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
}

const CORE_SERVICE = 'featurestore.v1.CoreService';

/**
 * The packaged server: gRPC services over an open feature store. It does not own the store:
 * whoever opened it closes it after `shutdown`.
 */
export class FeatureStoreServer {
  readonly #server: Server;
  readonly #health: HealthStatus;
  readonly #drainTimeoutMs: number;
  /** The address bound, with the port the system chose when 0 was asked. */
  readonly address: string;
  #stopped: Promise<void> | undefined;

  private constructor(server: Server, health: HealthStatus, address: string, drainMs: number) {
    this.#server = server;
    this.#health = health;
    this.address = address;
    this.#drainTimeoutMs = drainMs;
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
    const authenticator = new CallAuthenticator([
      engine.tokens,
      ...(options.oidc ? [new OidcIdentityProvider(options.oidc, engine.access)] : []),
    ]);
    const health = new HealthStatus([CORE_SERVICE]);
    const server = new Server();
    server.addService(CoreServiceService, coreService(engine, authenticator));
    server.addService(HealthService, health.service());
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
    return new FeatureStoreServer(
      server,
      health,
      formatListenAddress({ host: listen.host, port }),
      options.drainTimeoutMs ?? 30_000,
    );
  }

  /**
   * Graceful shutdown: health turns NOT_SERVING, no new calls are accepted, calls in flight
   * finish (cancelled after the drain timeout). Safe to call more than once.
   */
  shutdown(): Promise<void> {
    this.#stopped ??= new Promise<void>((resolve) => {
      this.#health.drain();
      const timer = setTimeout(() => this.#server.forceShutdown(), this.#drainTimeoutMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.#stopped;
  }
}
