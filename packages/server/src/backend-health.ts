import {
  isFeatureStoreError,
  type MessageQueue,
  type MetadataStore,
  type OnlineStore,
} from '@featurestore/core';
import type { Logger } from './worker-log.js';

/** A backend the online workers depend on, and a cheap call that reaches it. */
export interface HealthProbe {
  /** `metadata`, `online store`, `queue`… as logged. */
  name: string;
  probe(): Promise<unknown>;
}

export interface BackendHealthOptions {
  /** Time between two rounds of probes (default 5,000 ms). */
  intervalMs?: number;
  /** A probe that has not answered after this long counts as a failure (default 5,000 ms). */
  timeoutMs?: number;
  /** The clock, for the time an outage lasted (default `Date.now`). */
  now?: () => number;
}

/** What was seen of one backend. */
interface BackendState {
  down: boolean;
  since: number;
  outages: number;
}

/**
 * Watches the backends of the online workers while they run: the workers retry quietly while
 * a backend is down (and with no traffic nothing even fails), so an outage of Kafka, Redis or
 * PostgreSQL went unlogged. Each backend is probed every `intervalMs`; the first failed probe
 * logs a warning naming the backend and the error, once per outage, and counts the outage;
 * the first probe that succeeds again logs the recovery (info) with how long it lasted.
 *
 * @example
 * const health = BackendHealth.start(probesOf(drivers), logger);
 * health.outages; // { metadata: 0, 'online store': 1, queue: 0 }
 * await health.stop();
 */
export class BackendHealth {
  readonly #probes: readonly HealthProbe[];
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #states = new Map<string, BackendState>();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> = Promise.resolve();
  #stopped = false;

  private constructor(probes: readonly HealthProbe[], log: Logger, options: BackendHealthOptions) {
    this.#probes = probes;
    this.#log = log;
    this.#intervalMs = options.intervalMs ?? 5000;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#now = options.now ?? Date.now;
    for (const { name } of probes) {
      this.#states.set(name, { down: false, since: this.#now(), outages: 0 });
    }
  }

  /** Starts probing at once, then every `intervalMs`, until `stop`. */
  static start(
    probes: readonly HealthProbe[],
    log: Logger,
    options: BackendHealthOptions = {},
  ): BackendHealth {
    const health = new BackendHealth(probes, log, options);
    health.#schedule(0);
    return health;
  }

  /** Outages seen per backend since the start (a counter: it only grows). */
  get outages(): Record<string, number> {
    return Object.fromEntries([...this.#states].map(([name, state]) => [name, state.outages]));
  }

  /** The backends down at the last probe. */
  get down(): string[] {
    return [...this.#states].filter(([, state]) => state.down).map(([name]) => name);
  }

  /** Stops probing; resolves once a round in progress ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#round = this.#probeAll().finally(() => this.#schedule(this.#intervalMs));
    }, delay);
    this.#timer.unref();
  }

  async #probeAll(): Promise<void> {
    await Promise.all(
      this.#probes.map(async ({ name, probe }) => {
        const outcome = await this.#withTimeout(probe);
        if (this.#stopped) return;
        this.#record(name, outcome);
      }),
    );
  }

  async #withTimeout(probe: () => Promise<unknown>): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        probe(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.#timeoutMs} ms`)),
            this.#timeoutMs,
          );
        }),
      ]);
      return undefined;
    } catch (error) {
      // A backend that answers with an error of its own (a table not made yet) is reachable.
      if (isFeatureStoreError(error) && error.code !== 'UNAVAILABLE') return undefined;
      return error ?? new Error('the probe failed');
    } finally {
      clearTimeout(timer);
    }
  }

  #record(name: string, failure: unknown): void {
    const state = this.#states.get(name)!;
    const now = this.#now();
    if (failure !== undefined && !state.down) {
      state.down = true;
      state.since = now;
      state.outages++;
      this.#log.warn(
        {
          backend: name,
          err: failure,
          outages: state.outages,
        },
        `${name} is unreachable: the online workers retry until it is back`,
      );
    } else if (failure === undefined && state.down) {
      state.down = false;
      this.#log.info(
        { backend: name, downMs: now - state.since, outages: state.outages },
        `${name} is reachable again`,
      );
      state.since = now;
    }
  }
}

/**
 * Probes of the drivers the online workers use: a metadata read, an online read of a key
 * nobody writes, and for Kafka a look at the end of the ingest topic (the embedded local log
 * is a folder on this machine: nothing to lose touch with).
 */
export function workerProbes(drivers: {
  metadata: MetadataStore;
  online: { store: OnlineStore; queue: MessageQueue };
  ingestTopic: string;
}): HealthProbe[] {
  const probes: HealthProbe[] = [
    {
      name: 'metadata',
      probe: () => drivers.metadata.getConsumerOffsets('featurestore.health'),
    },
    {
      name: 'online store',
      probe: () =>
        drivers.online.store.read({
          featureSet: { featureSetId: 'featurestore-health', major: 0 },
          keys: [['probe']],
          features: [],
        }),
    },
  ];
  if (drivers.online.queue.driver !== 'local') {
    probes.push({
      name: 'queue',
      // Reads nothing when the topic ends where it began: the end offsets are the probe.
      probe: () => drivers.online.queue.read(`${drivers.ingestTopic}.health`, { limit: 1 }),
    });
  }
  return probes;
}
