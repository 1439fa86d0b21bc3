import {
  type DeadLetter,
  type FeatureStoreEngine,
  type JobState,
  OFFLINE_SYNC_GROUP,
  ONLINE_INGEST_TOPIC,
} from '@featurestore/core';
import { status } from '@grpc/grpc-js';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BackendHealth } from '../backend-health.js';
import type { HttpObserver, HttpRequestRecord } from '../http/http-server.js';
import type { WorkerReports } from '../worker-log.js';
import type { CallObserver, CallRecord } from './call-interceptor.js';

/** What the gauges read at each scrape. */
export interface MetricSources {
  engine: FeatureStoreEngine;
  /** The background probes of the backends (`/readyz` reads them too). */
  backends: Pick<BackendHealth, 'down' | 'outages'>;
}

/** Jobs not finished yet, the states counted by `featurestore_jobs`. */
const ACTIVE_JOB_STATES: readonly JobState[] = ['pending', 'running'];
/** Pages of 1,000 jobs read per state and scrape at most: a backlog beyond is reported as this. */
const MAX_JOB_PAGES = 10;
/** Messages counted behind the offline sync at most: a lag beyond is reported as this. */
export const MAX_COUNTED_LAG = 1000;
/** How long a gauge may read the store during a scrape before it reports nothing. */
const COLLECT_TIMEOUT_MS = 2000;
/** Where the offline sync stores its positions (the consumer name `OfflineSyncWorker` uses). */
const OFFLINE_SYNC_CONSUMER = `${OFFLINE_SYNC_GROUP}/${ONLINE_INGEST_TOPIC}`;

/**
 * The Prometheus metrics of a server, all named `featurestore_…`: calls by method and code,
 * call latency by method, active jobs by type and state, backend outages and state, the
 * online workers' failed batches and dead letters, the offline sync's lag, the metadata
 * outage state, and the default process metrics (`featurestore_process_…`,
 * `featurestore_nodejs_…`). One registry per server, so two servers in one process (tests)
 * do not mix their counts.
 */
export class ServerMetrics implements CallObserver, HttpObserver {
  readonly registry = new Registry();
  readonly #calls: Counter<'method' | 'code'>;
  readonly #latency: Histogram<'method'>;
  readonly #workerErrors: Counter<'kind'>;
  readonly #httpRequests: Counter<'method' | 'path' | 'status'>;
  readonly #httpLatency: Histogram<'path'>;
  #sources: MetricSources | undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'featurestore_' });
    this.#calls = new Counter({
      name: 'featurestore_grpc_calls_total',
      help: 'gRPC calls ended, by full method name and status code',
      labelNames: ['method', 'code'],
      registers,
    });
    this.#latency = new Histogram({
      name: 'featurestore_grpc_call_duration_seconds',
      help: 'Time from a gRPC call’s arrival to its status, by full method name',
      labelNames: ['method'],
      // From the 1 ms online reads to jobs streamed for minutes.
      buckets: [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
      ],
      registers,
    });
    this.#httpRequests = new Counter({
      name: 'featurestore_http_requests_total',
      help: 'Requests answered by the HTTP port (JSON API, metrics, probes), by method, path (unknown for paths not served) and status',
      labelNames: ['method', 'path', 'status'],
      registers,
    });
    this.#httpLatency = new Histogram({
      name: 'featurestore_http_request_duration_seconds',
      help: 'Time from an HTTP request’s arrival to the end of its answer, by path',
      labelNames: ['path'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#workerErrors = new Counter({
      name: 'featurestore_online_worker_errors_total',
      help: 'Online worker failures in this process: batch (a batch failed and will be delivered again, e.g. the online store or queue refused it) or dead_letter (a message moved to the dead-letter topic)',
      labelNames: ['kind'],
      registers,
    });
    /** A reading of the sources, bounded in time; undefined before `observe`. */
    const sourced = <T>(
      read: (sources: MetricSources) => Promise<T> | T,
    ): Promise<T | undefined> => {
      const sources = this.#sources;
      return sources === undefined ? Promise.resolve(undefined) : withTimeout(read(sources));
    };
    new Gauge({
      name: 'featurestore_jobs',
      help: `Jobs not finished, by type and state, store-wide (counted up to ${MAX_JOB_PAGES * 1000} per state)`,
      labelNames: ['type', 'state'],
      registers,
      async collect() {
        this.reset();
        const counts = await sourced((sources) => activeJobs(sources.engine)).catch(
          () => undefined,
        );
        for (const [key, count] of counts ?? []) {
          const [type, state] = key.split('\n') as [string, string];
          this.set({ type, state }, count);
        }
      },
    });
    this.#backendGauges(registers);
    new Gauge({
      name: 'featurestore_offline_sync_lag_messages',
      help: `Pushed rows on the ingest queue not yet committed offline by the online → offline sync (counted up to ${MAX_COUNTED_LAG})`,
      registers,
      async collect() {
        this.reset();
        const lag = await sourced((sources) => offlineSyncLag(sources.engine)).catch(
          () => undefined,
        );
        if (lag !== undefined) this.set(lag);
      },
    });
    this.#metadataOutageMetrics(registers);
  }

  /** `engine.metadataOutage`: online reads served from last known metadata (see LastKnownLookups). */
  #metadataOutageMetrics(registers: Registry[]): void {
    const outage = () => this.#sources?.engine.metadataOutage;
    new Gauge({
      name: 'featurestore_metadata_degraded',
      help: 'Whether online reads are served from the last known metadata because the metadata database does not answer (1) or not (0)',
      registers,
      collect() {
        this.reset();
        const now = outage();
        if (now) this.set(now.degraded ? 1 : 0);
      },
    });
    new Counter({
      name: 'featurestore_metadata_stale_served_total',
      help: 'Metadata lookups of online reads answered from memory while the metadata database did not answer',
      registers,
      collect() {
        this.reset();
        const now = outage();
        if (now) this.inc(now.staleServed);
      },
    });
    new Counter({
      name: 'featurestore_metadata_stale_refused_total',
      help: 'Metadata lookups of online reads refused while the metadata database did not answer (never looked up before, or older than the staleness bound)',
      registers,
      collect() {
        this.reset();
        const now = outage();
        if (now) this.inc(now.staleRefused);
      },
    });
  }

  #backendGauges(registers: Registry[]): void {
    const metrics = this;
    new Gauge({
      name: 'featurestore_backend_up',
      help: 'Whether a backend (metadata, online store, queue) answered its last probe (1) or not (0)',
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        const backends = metrics.#sources?.backends;
        if (!backends) return;
        const down = new Set(backends.down);
        for (const name of Object.keys(backends.outages))
          this.set({ backend: name }, down.has(name) ? 0 : 1);
      },
    });
    new Counter({
      name: 'featurestore_backend_outages_total',
      help: 'Outages seen per backend since the server started (a probe failing after one that answered)',
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        const backends = metrics.#sources?.backends;
        if (!backends) return;
        for (const [name, count] of Object.entries(backends.outages))
          this.inc({ backend: name }, count);
      },
    });
  }

  /** Starts reading the gauges from a running server's engine and probes. */
  observe(sources: MetricSources): void {
    this.#sources = sources;
  }

  onCallEnd(record: CallRecord): void {
    const code = status[record.code] ?? String(record.code);
    this.#calls.inc({ method: record.method, code });
    this.#latency.observe({ method: record.method }, record.durationMs / 1000);
  }

  onRequestEnd(record: HttpRequestRecord): void {
    this.#httpRequests.inc({
      method: record.method,
      path: record.path,
      status: String(record.status),
    });
    this.#httpLatency.observe({ path: record.path }, record.durationMs / 1000);
  }

  /**
   * `reports` with every failed batch and dead letter counted first: give the result to
   * `openFeatureStore({ reports })` so the workers of this process are counted.
   */
  countingReports(reports: WorkerReports): WorkerReports {
    return {
      onError: (error: unknown) => {
        this.#workerErrors.inc({ kind: 'batch' });
        reports.onError(error);
      },
      onDeadLetter: (letter: DeadLetter) => {
        this.#workerErrors.inc({ kind: 'dead_letter' });
        reports.onDeadLetter(letter);
      },
    };
  }
}

async function withTimeout<T>(value: Promise<T> | T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      value,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer in time')), COLLECT_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Active jobs by `type\nstate`. */
async function activeJobs(engine: FeatureStoreEngine): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const state of ACTIVE_JOB_STATES) {
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const page = await engine.drivers.metadata.listJobs({
        state,
        pageSize: 1000,
        ...(pageToken === undefined ? {} : { pageToken }),
      });
      for (const job of page.items) {
        const key = `${job.type}\n${state}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined && ++pages < MAX_JOB_PAGES);
  }
  return counts;
}

/**
 * Messages of the ingest topic after the positions the offline sync committed, counted up to
 * `MAX_COUNTED_LAG`; undefined for a store without an online store and queue.
 */
async function offlineSyncLag(engine: FeatureStoreEngine): Promise<number | undefined> {
  const queue = engine.drivers.online?.queue;
  if (!queue) return undefined;
  const after = await engine.drivers.metadata.getConsumerOffsets(OFFLINE_SYNC_CONSUMER);
  const behind = await queue.read(ONLINE_INGEST_TOPIC, { after, limit: MAX_COUNTED_LAG });
  return behind.length;
}
