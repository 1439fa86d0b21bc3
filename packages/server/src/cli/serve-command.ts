import { readFile } from 'node:fs/promises';
import { type OnlineEngine, ValidationError } from '@featurestore/core';
import { type Command, Option } from 'commander';
import { createFirstAdminToken } from '../first-admin-token.js';
import { FeatureStoreServer, type TlsFiles } from '../grpc/featurestore-server.js';
import { DEFAULT_LISTEN } from '../grpc/listen-address.js';
import { DEFAULT_MESSAGE_LIMITS } from '../grpc/message-limits.js';
import { DEFAULT_HTTP_LISTEN } from '../http/http-server.js';
import { ServerMetrics } from '../observability/server-metrics.js';
import type { OidcOptions } from '../oidc-identity-provider.js';
import { PendingApplyRepair } from '../pending-apply-repair.js';
import { type Logger, type WorkerReports, workerReports } from '../worker-log.js';
import { type CommandContext, withStore } from './context.js';
import type { CliIo } from './io.js';
import { byteSize, positiveCount } from './limit-options.js';
import { seconds } from './options.js';
import { loggerFor } from './workers-command.js';

interface ServeOptions {
  role: 'core' | 'online' | 'all';
  listen: string;
  insecure?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  oidcIssuer?: string;
  oidcAudience?: string;
  oidcJwksUri?: string;
  oidcAdminGroup?: string;
  drainTimeout: number;
  httpListen: string;
  logLevel: string;
  workers: boolean;
  maxReceiveMessageSize: number;
  maxSendMessageSize: number;
  maxConcurrentStreams: number;
}

/** Services by role, as the start line names them. */
const SERVICES_OF = {
  core: 'CoreService',
  online: 'OnlineService',
  all: 'CoreService and OnlineService',
} as const;

/**
 * The online role's workers, as `featurestore online workers` runs them: the apply and
 * offline-sync group members, and the repair of applies a dead process left pending. The
 * result stops them.
 */
async function startOnlineWorkers(
  online: OnlineEngine,
  store: CommandContext['store'],
  logger: Logger,
  reports: WorkerReports,
): Promise<() => Promise<void>> {
  await online.startWorker({ offlineSync: true, onDeadLetter: reports.onDeadLetter });
  const repair = store.engine.onlineApplies
    ? await PendingApplyRepair.start(store.engine.onlineApplies, logger)
    : undefined;
  return async () => {
    await repair?.stop();
    await online.stopWorker();
  };
}

/** Resolves on the first SIGINT or SIGTERM: how a service manager stops the server. */
function stopRequested(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function readPem(option: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new ValidationError(`${option} ${path} cannot be read: ${(error as Error).message}`, {
      cause: error,
      details: { field: option, value: path },
    });
  }
}

async function tlsOf(options: ServeOptions): Promise<TlsFiles | undefined> {
  if (options.tlsCert === undefined && options.tlsKey === undefined) {
    if (options.tlsClientCa !== undefined) {
      throw new ValidationError('--tls-client-ca needs --tls-cert and --tls-key too', {
        details: { field: '--tls-client-ca', value: options.tlsClientCa },
      });
    }
    return undefined;
  }
  if (options.tlsCert === undefined || options.tlsKey === undefined) {
    throw new ValidationError('--tls-cert and --tls-key go together: give both PEM files', {
      details: { field: options.tlsCert === undefined ? '--tls-cert' : '--tls-key' },
    });
  }
  return {
    cert: await readPem('--tls-cert', options.tlsCert),
    key: await readPem('--tls-key', options.tlsKey),
    ...(options.tlsClientCa === undefined
      ? {}
      : { clientCa: await readPem('--tls-client-ca', options.tlsClientCa) }),
  };
}

function oidcOf(options: ServeOptions): OidcOptions | undefined {
  const { oidcIssuer: issuer, oidcAudience: audience, oidcJwksUri: jwksUri } = options;
  if (issuer === undefined && audience === undefined && jwksUri === undefined) return undefined;
  if (issuer === undefined || audience === undefined) {
    throw new ValidationError(
      "OIDC needs --oidc-issuer and --oidc-audience together (or their FEATURESTORE_OIDC_* variables); --oidc-jwks-uri is optional (default: the jwks_uri of the issuer's discovery document)",
      { details: { field: issuer === undefined ? '--oidc-issuer' : '--oidc-audience' } },
    );
  }
  return {
    issuer,
    audience,
    ...(jwksUri === undefined ? {} : { jwksUri }),
    ...(options.oidcAdminGroup === undefined ? {} : { adminGroup: options.oidcAdminGroup }),
  };
}

/**
 * `featurestore serve`: the packaged gRPC server over the configured store (the embedded one
 * by default, which it then owns: users share it through the server) until SIGINT or SIGTERM,
 * then drains the calls in flight and closes the store.
 */
export function registerServeCommand(program: Command, io: CliIo): void {
  let observed: { logger: Logger; metrics: ServerMetrics; reports: WorkerReports } | undefined;
  program
    .command('serve')
    .description(
      'run the gRPC server (CoreService, OnlineService and health checking; --role picks) until SIGINT or SIGTERM; the first start prints an admin token',
    )
    .addOption(
      new Option(
        '--role <role>',
        'which services to serve: core (CoreService), online (OnlineService, its HTTP/JSON mapping and the online workers) or all',
      )
        .choices(['core', 'online', 'all'])
        .default('all'),
    )
    .option('--listen <host:port>', 'where to listen (port 0: any free port)', DEFAULT_LISTEN)
    .option('--tls-cert <file>', 'serve TLS with this PEM certificate chain')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option(
      '--tls-client-ca <file>',
      'require client certificates signed by this PEM CA (mutual TLS)',
    )
    .option(
      '--insecure',
      'allow plaintext on an address other machines can reach (only behind a TLS-terminating proxy)',
    )
    .addOption(
      new Option('--oidc-issuer <url>', 'accept OIDC JWTs from this issuer').env(
        'FEATURESTORE_OIDC_ISSUER',
      ),
    )
    .addOption(
      new Option('--oidc-audience <aud>', 'the audience OIDC JWTs must carry').env(
        'FEATURESTORE_OIDC_AUDIENCE',
      ),
    )
    .addOption(
      new Option(
        '--oidc-jwks-uri <url>',
        "the issuer's signing keys (JWKS; default: the jwks_uri of its discovery document)",
      ).env('FEATURESTORE_OIDC_JWKS_URI'),
    )
    .addOption(
      new Option('--oidc-admin-group <group>', 'members of this groups claim are admins').env(
        'FEATURESTORE_OIDC_ADMIN_GROUP',
      ),
    )
    .option(
      '--http-listen <host:port>',
      'where to serve /metrics, /healthz and /readyz over HTTP (same TLS as gRPC; off: none)',
      DEFAULT_HTTP_LISTEN,
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace (stderr)', 'info')
    .option(
      '--max-receive-message-size <bytes>',
      'the largest request message accepted (bytes, or KiB, MiB, GiB); larger: RESOURCE_EXHAUSTED',
      byteSize('--max-receive-message-size'),
      DEFAULT_MESSAGE_LIMITS.maxReceiveMessageBytes,
    )
    .option(
      '--max-send-message-size <bytes>',
      'the largest response message sent (bytes, or KiB, MiB, GiB); larger: RESOURCE_EXHAUSTED',
      byteSize('--max-send-message-size'),
      DEFAULT_MESSAGE_LIMITS.maxSendMessageBytes,
    )
    .option(
      '--max-concurrent-streams <count>',
      'the most calls one client connection may have open at once',
      positiveCount('--max-concurrent-streams'),
      DEFAULT_MESSAGE_LIMITS.maxConcurrentStreams,
    )
    .option(
      '--no-workers',
      'the online role without its apply and offline-sync workers (featurestore online workers runs them elsewhere)',
    )
    .option(
      '--drain-timeout <seconds>',
      'on SIGTERM, how long calls in flight may finish before they are cancelled',
      seconds('--drain-timeout'),
      30,
    )
    .action(
      withStore(
        io,
        async (ctx, options: ServeOptions) => {
          const tls = await tlsOf(options);
          const oidc = oidcOf(options);
          const { engine } = ctx.store;
          const { logger, metrics, reports } = observed!;
          const server = await FeatureStoreServer.start(ctx.store, {
            listen: options.listen,
            logger,
            metrics,
            limits: {
              maxReceiveMessageBytes: options.maxReceiveMessageSize,
              maxSendMessageBytes: options.maxSendMessageSize,
              maxConcurrentStreams: options.maxConcurrentStreams,
            },
            role: options.role,
            drainTimeoutMs: options.drainTimeout * 1000,
            ...(options.httpListen === 'off' ? {} : { httpListen: options.httpListen }),
            ...(tls === undefined ? {} : { tls }),
            ...(options.insecure ? { insecure: true } : {}),
            ...(oidc === undefined ? {} : { oidc }),
          });
          const fromEnvironment = process.env.FEATURESTORE_ADMIN_TOKEN || undefined;
          // After the server is bound, so a refused --listen or TLS file prints no token.
          const first = await createFirstAdminToken(engine, fromEnvironment).catch(
            async (error: unknown) => {
              await server.shutdown();
              throw error;
            },
          );
          if (first?.generated) {
            io.stdout(
              `admin token (shown once, keep it safe; send it as "authorization: Bearer <token>"):\n${first.secret}\n`,
            );
          } else if (!first && fromEnvironment !== undefined) {
            const known = await engine.tokens
              .authenticate({ kind: 'bearer', token: fromEnvironment })
              .catch(() => undefined);
            if (!known) {
              io.stderr(
                'warning: FEATURESTORE_ADMIN_TOKEN is not used: the store already has users or an admin token (it only sets up a first start)\n',
              );
            }
          }
          const stop = stopRequested();
          const stopWorkers =
            options.role !== 'core' && options.workers && engine.online
              ? await startOnlineWorkers(engine.online, ctx.store, logger, reports).catch(
                  async (error: unknown) => {
                    await server.shutdown();
                    throw error;
                  },
                )
              : undefined;
          io.stdout(
            `featurestore serving ${SERVICES_OF[options.role]} on ${server.address} (${tls ? 'TLS' : 'plaintext'}, role ${options.role})\n`,
          );
          if (server.httpAddress !== undefined) {
            io.stdout(
              `featurestore HTTP (/metrics, /healthz, /readyz${options.role === 'core' ? '' : ', /v1/online'}) on ${server.httpAddress} (${tls ? 'HTTPS' : 'plaintext'})\n`,
            );
          }
          const signal = await stop;
          io.stdout(
            `${signal}: draining calls in flight, then ${stopWorkers ? 'stopping the online workers and ' : ''}closing the store\n`,
          );
          await server.shutdown();
          await stopWorkers?.();
        },
        // Made before the store opens: its workers report failed batches to them.
        (options) => {
          const logger = loggerFor(options.logLevel);
          const metrics = new ServerMetrics();
          observed = { logger, metrics, reports: metrics.countingReports(workerReports(logger)) };
          return { reports: observed.reports };
        },
      ),
    );
}
