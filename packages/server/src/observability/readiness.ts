import { type EngineDrivers, ONLINE_INGEST_TOPIC } from '@featurestore/core';
import { type BackendHealth, type HealthProbe, workerProbes } from '../backend-health.js';
import type { Readiness } from '../http/http-server.js';

/**
 * Probes of the backends a server's calls need: the metadata database always, and the online
 * store and queue when the store has them (the same cheap calls the online workers' watch makes).
 */
export function serverProbes(drivers: EngineDrivers): HealthProbe[] {
  if (drivers.online === undefined) {
    // The metadata probe of `workerProbes`: a read of a consumer group nobody uses.
    return [
      { name: 'metadata', probe: () => drivers.metadata.getConsumerOffsets('featurestore.health') },
    ];
  }
  return workerProbes({
    metadata: drivers.metadata,
    online: drivers.online,
    ingestTopic: ONLINE_INGEST_TOPIC,
  });
}

/**
 * What `/readyz` answers: ready while the gRPC server says SERVING (not yet draining) and no
 * backend failed its last probe; a server of the online service alone stays ready through a
 * metadata outage, which its reads survive. The probes run in the background (`BackendHealth`), so a
 * probe of `/readyz` every second costs the databases nothing.
 */
export function serverReadiness(
  serving: () => boolean,
  backends: Pick<BackendHealth, 'down' | 'outages'>,
  options: { servesOnlineOnly?: boolean } = {},
): () => Readiness {
  return () => {
    const down = new Set(backends.down);
    let ready = serving();
    const checks: Record<string, string> = {
      grpc: ready ? 'ok' : 'not serving: the server is draining',
    };
    for (const name of Object.keys(backends.outages)) {
      if (!down.has(name)) {
        checks[name] = 'ok';
      } else if (name === 'metadata' && options.servesOnlineOnly) {
        // Online reads go on from the last known lookups: taking every online replica out of
        // its Service would turn an outage they survive into one they do not.
        checks[name] = 'unreachable at the last probe: online reads use the last known metadata';
      } else {
        checks[name] = 'unreachable at the last probe';
        ready = false;
      }
    }
    return { ready, checks };
  };
}
