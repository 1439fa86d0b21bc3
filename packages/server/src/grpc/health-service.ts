import {
  type HealthServer,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from '@featurestore/protocol/grpc/health/v1/health';
import { status } from '@grpc/grpc-js';

export { ServingStatus };

interface Watcher {
  send(status: ServingStatus): void;
  end(): void;
}

/**
 * The gRPC health checking protocol (`grpc.health.v1.Health`): the server as a whole (service
 * name "") and each service it serves. Probes need no token, as load balancers and
 * orchestrators send none; they learn nothing but serving or not.
 */
export class HealthStatus {
  readonly #statuses = new Map<string, ServingStatus>();
  /** Open Watch calls by service: how to send them a status, and how to end them. */
  readonly #watchers = new Map<string, Set<Watcher>>();

  /** `services`: the fully qualified names served, all SERVING from the start. */
  constructor(services: readonly string[]) {
    for (const service of ['', ...services]) this.#statuses.set(service, ServingStatus.SERVING);
  }

  /** The status of one service ("" for the server), or undefined when it is not served. */
  get(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /**
   * Marks every service NOT_SERVING, as the server starts draining, and ends the Watch calls
   * once they have been told: a graceful shutdown waits for every open call.
   */
  drain(): void {
    for (const service of this.#statuses.keys()) this.#set(service, ServingStatus.NOT_SERVING);
    for (const watchers of this.#watchers.values()) {
      for (const watcher of watchers) watcher.end();
      watchers.clear();
    }
  }

  #set(service: string, value: ServingStatus): void {
    if (this.#statuses.get(service) === value) return;
    this.#statuses.set(service, value);
    for (const watcher of this.#watchers.get(service) ?? []) watcher.send(value);
  }

  /** The service implementation. */
  service(): HealthServer {
    return {
      check: (call, callback) => {
        const value = this.get(call.request.service);
        if (value === undefined) {
          callback({
            code: status.NOT_FOUND,
            details: `service "${call.request.service}" is not served here`,
          });
          return;
        }
        callback(null, { status: value });
      },
      list: (_call, callback) => {
        callback(null, {
          statuses: Object.fromEntries(
            [...this.#statuses].map(([service, value]) => [service, { status: value }]),
          ),
        });
      },
      watch: (call) => {
        const { service } = call.request;
        const watcher: Watcher = {
          send: (value) => call.write({ status: value }),
          end: () => call.end(),
        };
        watcher.send(this.get(service) ?? ServingStatus.SERVICE_UNKNOWN);
        const watchers = this.#watchers.get(service) ?? new Set();
        this.#watchers.set(service, watchers);
        watchers.add(watcher);
        // A watch lasts until the client goes away or the server drains.
        call.on('cancelled', () => watchers.delete(watcher));
      },
    };
  }
}
