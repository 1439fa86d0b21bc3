import { ONLINE_INGEST_TOPIC, ValidationError } from '@featurestore/core';
import type { Command } from 'commander';
import { pino } from 'pino';
import { BackendHealth, workerProbes } from '../backend-health.js';
import { type RunningHttpServer, startHttpServer } from '../http/http-server.js';
import { serverReadiness } from '../observability/readiness.js';
import { ServerMetrics } from '../observability/server-metrics.js';
import { PendingApplyRepair } from '../pending-apply-repair.js';
import { createLogger, type Logger, type WorkerReports, workerReports } from '../worker-log.js';
import { onlineOf, withStore } from './context.js';
import type { CliIo } from './io.js';
import { seconds } from './options.js';

/** Resolves on the first SIGINT or SIGTERM: how a service manager stops a worker. */
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

/** A logger at `--log-level`, refusing a level pino does not know. */
export function loggerFor(level: unknown): Logger {
  if (typeof level !== 'string' || !(level in pino.levels.values)) {
    throw new ValidationError(
      `--log-level ${JSON.stringify(level)} is not a level: use ${Object.keys(pino.levels.values).join(', ')}`,
      { details: { field: 'log-level', value: level } },
    );
  }
  return createLogger(level);
}

/**
 * `featurestore online workers`: the long-running process of a shared deployment (Kafka,
 * Redis or PostgreSQL online store, PostgreSQL metadata) that applies pushed rows to the
 * online store and commits them offline, until a service manager stops it. Every member of a
 * consumer group shares the topic's partitions, so more processes means more throughput.
 */
export function registerWorkersCommand(online: Command, io: CliIo): void {
  // Made from the command's options before the store opens, whose workers report to it.
  let logger: Logger | undefined;
  let reports: WorkerReports | undefined;
  let metrics: ServerMetrics | undefined;
  online
    .command('workers')
    .description(
      'run the online workers until SIGINT or SIGTERM: apply pushed rows to the online store and commit them offline (JSON log lines on stderr)',
    )
    .option('--no-offline-sync', 'only apply rows online (other processes commit them offline)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace', 'info')
    .option(
      '--health-interval <seconds>',
      'how often to probe the metadata database, online store and Kafka, to log an outage once and its end',
      seconds('--health-interval'),
      5,
    )
    .option(
      '--http-listen <host:port>',
      'serve /metrics (Prometheus), /healthz and /readyz over HTTP here, for probes and scrapes (none by default); any address: they carry no data and take no token',
    )
    .action(
      withStore(
        io,
        async (
          ctx,
          opts: { offlineSync: boolean; healthInterval: number; httpListen?: string },
        ) => {
          const engine = onlineOf(ctx);
          const log = logger!;
          await engine.startWorker({
            offlineSync: opts.offlineSync,
            onDeadLetter: reports!.onDeadLetter,
          });
          // Ingestions committed by a process that died (or failed) before applying them online.
          const repair = await PendingApplyRepair.start(ctx.store.engine.onlineApplies!, log);
          // The workers retry quietly while a backend is down: the watch logs the outage.
          const { drivers } = ctx.store.engine;
          const health = BackendHealth.start(
            workerProbes({
              metadata: drivers.metadata,
              online: drivers.online!,
              ingestTopic: ONLINE_INGEST_TOPIC,
            }),
            log,
            { intervalMs: opts.healthInterval * 1000 },
          );
          let stopping = false;
          let http: RunningHttpServer | undefined;
          if (metrics && opts.httpListen !== undefined) {
            metrics.observe({ engine: ctx.store.engine, backends: health });
            http = await startHttpServer({
              listen: opts.httpListen,
              // Plaintext off loopback is refused where tokens travel; no request here has one.
              insecure: true,
              metrics: metrics.registry,
              readiness: serverReadiness(() => !stopping, health),
            });
          }
          // Schemes only: URLs may carry credentials.
          const scheme = (url: string | undefined, otherwise: string) =>
            url === undefined ? otherwise : url.slice(0, url.indexOf(':'));
          const { config } = ctx.store;
          log.info(
            {
              queue: scheme(config.queue, 'local log'),
              online: scheme(config.online, 'metadata database'),
              offlineSync: opts.offlineSync,
              ...(http ? { http: http.address } : {}),
            },
            'online workers started',
          );
          const signal = await stopRequested();
          log.info({ signal }, 'stopping: uncommitted batches go to the other members');
          stopping = true;
          await http?.close();
          await health.stop();
          await repair.stop();
          await engine.stopWorker();
          const deadLettered = {
            apply: engine.deadLettered,
            offlineSync: engine.offlineSync.deadLettered,
          };
          const outages = health.outages;
          log.info({ deadLettered, outages }, 'online workers stopped');
          ctx.message('online workers stopped', { stopped: signal, deadLettered, outages });
        },
        (options) => {
          logger = loggerFor(options.logLevel);
          metrics = options.httpListen === undefined ? undefined : new ServerMetrics();
          reports = workerReports(logger);
          // Failed batches and dead letters counted for /metrics before they are logged.
          if (metrics) reports = metrics.countingReports(reports);
          return { reports };
        },
      ),
    );
}
