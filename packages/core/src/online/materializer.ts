import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { ONLINE_SYNC_TAG } from '../model/feature-set-settings.js';
import type { Ingestion } from '../model/offline-records.js';
import type { FeatureSet } from '../model/records.js';
import { toInputs } from '../offline/time-travel.js';
import type { ComputeEngine, JobRunContext } from '../ports/compute-engine.js';
import type { ObjectStorage } from '../ports/object-storage.js';
import type { OnlineRecord, OnlineStore, OnlineValue } from '../ports/online-store.js';
import { keyComponent, toOnlineValue } from './online-values.js';

const WRITE_BATCH = 1000;

export function onlineSyncEnabled(featureSet: FeatureSet): boolean {
  return featureSet.tags[ONLINE_SYNC_TAG] !== 'off';
}

/**
 * Offline → online: the newest row per key of some ingestions, computed by the compute
 * engine, applied to the online store under the newest-wins rule, so old offline data never
 * replaces newer online values. The write sequence is the newest ingestion's commit time (in
 * the microsecond scale of pushes), so of two rows with equal event times the one written
 * later wins, online or offline.
 */
export class OnlineMaterializer {
  readonly #compute: ComputeEngine;
  readonly #storage: ObjectStorage;
  readonly #online: OnlineStore;

  constructor(deps: { compute: ComputeEngine; storage: ObjectStorage; online: OnlineStore }) {
    this.#compute = deps.compute;
    this.#storage = deps.storage;
    this.#online = deps.online;
  }

  async apply(
    featureSet: FeatureSet,
    ingestions: readonly Ingestion[],
    context: JobRunContext,
  ): Promise<{ rows: number; applied: number }> {
    if (ingestions.length === 0) return { rows: 0, applied: 0 };
    const key = `tmp/materialize/${randomUUID()}.jsonl`;
    const { schema } = featureSet;
    try {
      await this.#compute.run(
        {
          type: 'retrieve',
          schema,
          inputs: toInputs(ingestions, (k) => this.#storage.uri(k)),
          latest: true,
          output: { uri: this.#storage.uri(key), format: 'json' },
        },
        context,
      );
      const writeSequence = Math.max(...ingestions.map((i) => i.committedAt.getTime())) * 1000;
      const ref = { featureSetId: featureSet.id, major: featureSet.version.major };
      const keyFeatures = schema.primaryKey.map(
        (name) => schema.features.find((f) => f.name === name)!,
      );
      const valueFeatures = schema.features.filter(
        (f) => f.name !== schema.eventTime && !schema.primaryKey.includes(f.name),
      );
      let rows = 0;
      let applied = 0;
      let batch: OnlineRecord[] = [];
      const flush = async () => {
        if (batch.length > 0) applied += await this.#online.write(ref, batch);
        batch = [];
      };
      const lines = createInterface({ input: await this.#storage.get(key), crlfDelay: Infinity });
      for await (const line of lines) {
        if (line === '') continue;
        const row = JSON.parse(line) as Record<string, unknown>;
        const where = `materialized row ${++rows}`;
        const values: Record<string, OnlineValue> = {};
        for (const feature of valueFeatures)
          values[feature.name] = toOnlineValue(where, feature, row[feature.name]);
        batch.push({
          key: keyFeatures.map((feature) =>
            keyComponent(toOnlineValue(where, feature, row[feature.name])),
          ),
          eventTime: Date.parse(String(row[schema.eventTime])),
          writeSequence,
          values,
        });
        if (batch.length >= WRITE_BATCH) await flush();
      }
      await flush();
      return { rows, applied };
    } finally {
      await this.#storage.delete([key]).catch(() => undefined);
    }
  }
}
