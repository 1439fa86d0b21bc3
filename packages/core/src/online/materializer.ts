import { randomUUID } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { UnavailableError } from '../errors.js';
import { ONLINE_SYNC_TAG } from '../model/feature-set-settings.js';
import type { Ingestion } from '../model/offline-records.js';
import type { FeatureSet, FeatureSpec } from '../model/records.js';
import { toInputs } from '../offline/time-travel.js';
import type { ComputeEngine, JobRunContext } from '../ports/compute-engine.js';
import type { ObjectStorage } from '../ports/object-storage.js';
import type {
  FeatureSetVersionRef,
  OnlineRecord,
  OnlineRecordVersion,
  OnlineReplacement,
  OnlineStore,
  OnlineValue,
} from '../ports/online-store.js';
import { compareRecords } from './memory-online-store.js';
import { keyComponent, toOnlineValue } from './online-values.js';

const WRITE_BATCH = 1000;
/** Batches of `apply` whose reads and writes are under way at once. */
const IN_FLIGHT = 4;
/**
 * How often a recomputation decides again for keys that concurrent writers keep changing
 * between its read and its replace, before it gives up.
 */
const REPLACE_ROUNDS = 10;

export function onlineSyncEnabled(featureSet: FeatureSet): boolean {
  return featureSet.tags[ONLINE_SYNC_TAG] !== 'off';
}

/** What a materialization did to the online store, key by key. */
export interface MaterializeResult extends Record<string, unknown> {
  /** Keys with a latest offline row (one row each). */
  rows: number;
  /** Keys whose online record was written (or, with `rebuild`, replaced) with that row. */
  written: number;
  /** Keys the online store already held with that very row (same event time and sequence). */
  unchanged: number;
  /** Keys left as they were because the online value is newer (newest wins). */
  older: number;
  /** Keys removed from the online store (`rebuild`: no committed row). */
  deleted: number;
}

/** What a revert did to the online records of the reverted ingestion's keys. */
export interface RevertOnlineResult extends Record<string, unknown> {
  /** Keys of the reverted ingestion. */
  keys: number;
  /** Keys that held the reverted value and now hold the latest remaining committed row. */
  replaced: number;
  /** Keys that held the reverted value and have no remaining committed row: removed. */
  deleted: number;
  /** Keys whose online record was not the reverted value (newer, or never applied): kept. */
  kept: number;
}

/**
 * Offline → online: the newest row per key of some ingestions, computed by the compute
 * engine, and applied to the online store.
 *
 * - `apply` (after each commit, and `materialize`): under the newest-wins rule, so old offline
 *   data never replaces newer online values. The write sequence is the newest ingestion's
 *   commit time (in the microsecond scale of pushes), so of two rows with equal event times the
 *   one written later wins, online or offline.
 * - `recomputeAfterRevert`: the keys whose online record still holds the reverted ingestion's
 *   row get the latest remaining committed row (or are removed), past newest-wins with
 *   `OnlineStore.replace`, so a concurrent newer write is never lost.
 * - `rebuild` (`materialize --rebuild`): every key reset to its latest committed row, keys
 *   without one removed, the same way.
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

  /**
   * Writes the latest row per key of `ingestions` where it is newer than the online record;
   * the result counts each key once, by what happened to it.
   */
  async apply(
    featureSet: FeatureSet,
    ingestions: readonly Ingestion[],
    context: JobRunContext,
  ): Promise<MaterializeResult> {
    const result = emptyResult();
    const ref = refOf(featureSet);
    // Progress in rows written of the rows committed (the latest per key are at most these);
    // the engine's own reports of the read would speak of another count.
    const total = ingestions.reduce((sum, ingestion) => sum + ingestion.rowCount, 0);
    const started = performance.now();
    const quiet = { signal: context.signal, reportProgress: () => undefined };
    await inFlight(this.#latestRows(featureSet, ingestions, quiet), async (batch) => {
      result.rows += batch.length;
      const seconds = (performance.now() - started) / 1000;
      const rowsPerSecond = seconds > 0 ? result.rows / seconds : undefined;
      context.reportProgress({
        fraction: total > 0 ? Math.min(1, result.rows / total) : 1,
        rows: result.rows,
        ...(rowsPerSecond === undefined
          ? {}
          : {
              rowsPerSecond,
              etaSeconds: Math.max(0, total - result.rows) / rowsPerSecond,
            }),
      });
      const stored = await this.#versions(ref, batch);
      const newer: OnlineRecord[] = [];
      batch.forEach((record, i) => {
        const current = stored[i];
        const order = current ? compareRecords(record, current) : 1;
        if (order === 0) result.unchanged++;
        else if (order < 0) result.older++;
        else newer.push(record);
      });
      if (newer.length === 0) return;
      const written = await this.#online.write(ref, newer);
      result.written += written;
      // A concurrent writer stored something newer between the read and the write.
      result.older += newer.length - written;
    });
    return result;
  }

  /**
   * Resets the online records of a feature set version to `ingestions` (the visible ones):
   * each key's latest row replaces whatever is stored, newer or not, and keys that have no row
   * are removed. A write that lands during the rebuild on a key it is replacing is kept when
   * newer (the replace finds another record, and the row is then written under newest-wins).
   */
  async rebuild(
    featureSet: FeatureSet,
    ingestions: readonly Ingestion[],
    context: JobRunContext,
  ): Promise<MaterializeResult> {
    const result = emptyResult();
    const ref = refOf(featureSet);
    const offline = new Set<string>();
    for await (const batch of this.#latestRows(featureSet, ingestions, context)) {
      result.rows += batch.length;
      const stored = await this.#versions(ref, batch);
      const replacements: OnlineReplacement[] = [];
      batch.forEach((record, i) => {
        offline.add(keyId(record.key));
        const current = stored[i];
        if (current && compareRecords(record, current) === 0) {
          result.unchanged++;
          return;
        }
        replacements.push({ key: record.key, expected: versionOf(current), record });
      });
      if (replacements.length === 0) continue;
      const applied = await this.#online.replace(ref, replacements);
      result.written += applied.filter(Boolean).length;
      // Changed since the read by a concurrent writer: that write stays when it is newer.
      const raced = replacements.filter((_, i) => !applied[i]).map(toRecord);
      if (raced.length > 0) {
        const written = await this.#online.write(ref, raced);
        result.written += written;
        result.older += raced.length - written;
      }
    }
    let stale: OnlineReplacement[] = [];
    const removeStale = async () => {
      const applied = await this.#online.replace(ref, stale);
      // A key a concurrent writer changed meanwhile keeps that newer write.
      result.deleted += applied.filter(Boolean).length;
      stale = [];
    };
    for await (const record of this.#online.scan(ref)) {
      if (offline.has(keyId(record.key))) continue;
      stale.push({ key: record.key, expected: versionOf(record), record: null });
      if (stale.length >= WRITE_BATCH) await removeStale();
    }
    if (stale.length > 0) await removeStale();
    return result;
  }

  /**
   * After `reverted` stopped being visible: for each of its keys whose online record still
   * holds its row (the same event time as the reverted ingestion's latest row of that key,
   * whether a materialization or a push put it there), the latest row of `remaining` replaces
   * it, or the key is removed when no remaining ingestion has one. Other keys are left alone:
   * their online value is newer than the reverted one, or it never reached the store.
   * A key changed by a concurrent writer between the read and the replace is decided again
   * from what that writer left.
   */
  async recomputeAfterRevert(
    featureSet: FeatureSet,
    reverted: Ingestion,
    remaining: readonly Ingestion[],
    context: JobRunContext,
  ): Promise<RevertOnlineResult> {
    const ref = refOf(featureSet);
    const revertedTimes = new Map<string, { key: readonly string[]; eventTime: number }>();
    for await (const batch of this.#latestRows(featureSet, [reverted], context)) {
      for (const { key, eventTime } of batch) revertedTimes.set(keyId(key), { key, eventTime });
    }
    const result: RevertOnlineResult = {
      keys: revertedTimes.size,
      replaced: 0,
      deleted: 0,
      kept: 0,
    };
    if (revertedTimes.size === 0) return result;
    const latest = new Map<string, OnlineRecord>();
    for await (const batch of this.#latestRows(featureSet, remaining, context)) {
      for (const record of batch) {
        const id = keyId(record.key);
        if (revertedTimes.has(id)) latest.set(id, record);
      }
    }
    let pending = [...revertedTimes.values()];
    for (let round = 0; round < REPLACE_ROUNDS && pending.length > 0; round++) {
      const again: typeof pending = [];
      for (let from = 0; from < pending.length; from += WRITE_BATCH) {
        const slice = pending.slice(from, from + WRITE_BATCH);
        const stored = await this.#versions(ref, slice);
        const replacements: OnlineReplacement[] = [];
        const decided: (typeof pending)[number][] = [];
        slice.forEach((entry, i) => {
          const current = stored[i];
          if (!current || current.eventTime !== entry.eventTime) {
            result.kept++;
            return;
          }
          const record = latest.get(keyId(entry.key)) ?? null;
          replacements.push({ key: entry.key, expected: versionOf(current), record });
          decided.push(entry);
        });
        if (replacements.length === 0) continue;
        const applied = await this.#online.replace(ref, replacements);
        applied.forEach((done, i) => {
          if (!done) again.push(decided[i]!);
          else if (replacements[i]!.record === null) result.deleted++;
          else result.replaced++;
        });
      }
      pending = again;
    }
    if (pending.length > 0) {
      throw new UnavailableError(
        `${pending.length} key(s) of the reverted ingestion ${reverted.id} kept changing online while the revert recomputed them: run \`featurestore materialize --rebuild\` for the feature set once the writers are quiet`,
        { cause: { keys: pending.slice(0, 10).map((entry) => entry.key) } },
      );
    }
    return result;
  }

  /** The stored event time and write sequence of each record's key (no values read). */
  async #versions(
    ref: FeatureSetVersionRef,
    entries: readonly { key: readonly string[] }[],
  ): Promise<(OnlineRecord | undefined)[]> {
    return this.#online.read({ featureSet: ref, keys: entries.map((e) => e.key), features: [] });
  }

  /**
   * The latest row per key of `ingestions`, as online records in batches: streamed from the
   * compute engine when it can (`streamRetrieve`), else through a temporary file.
   */
  async *#latestRows(
    featureSet: FeatureSet,
    ingestions: readonly Ingestion[],
    context: JobRunContext,
  ): AsyncGenerator<OnlineRecord[]> {
    if (ingestions.length === 0) return;
    const writeSequence = Math.max(...ingestions.map((i) => i.committedAt.getTime())) * 1000;
    const spec = {
      schema: featureSet.schema,
      inputs: toInputs(ingestions, (k) => this.#storage.uri(k)),
      latest: true,
    };
    if (this.#compute.streamRetrieve) {
      // Columns straight from the engine: no file, no text to parse.
      const build = recordBuilder(featureSet, writeSequence, 'columns');
      let rows = 0;
      let batch: OnlineRecord[] = [];
      for await (const { rowCount, columns } of this.#compute.streamRetrieve(spec, context)) {
        for (let r = 0; r < rowCount; r++) {
          batch.push(build(columns, r, ++rows));
          if (batch.length >= WRITE_BATCH) {
            yield batch;
            batch = [];
          }
        }
      }
      if (batch.length > 0) yield batch;
      return;
    }
    // Otherwise through a temporary JSON Lines file, read back line by line and removed.
    const key = `tmp/materialize/${randomUUID()}.jsonl`;
    try {
      await this.#compute.run(
        {
          type: 'retrieve',
          ...spec,
          output: { uri: this.#storage.uri(key), format: 'json' },
        },
        context,
      );
      const decode = lineDecoder(featureSet, writeSequence);
      let rows = 0;
      let batch: OnlineRecord[] = [];
      const text = new StringDecoder('utf8');
      let rest = '';
      for await (const chunk of await this.#storage.get(key)) {
        const buffered = rest + text.write(chunk as Buffer);
        let start = 0;
        for (let end = buffered.indexOf('\n'); end !== -1; end = buffered.indexOf('\n', start)) {
          if (end > start) batch.push(decode(buffered.slice(start, end), ++rows));
          start = end + 1;
          if (batch.length >= WRITE_BATCH) {
            yield batch;
            batch = [];
          }
        }
        rest = buffered.slice(start);
      }
      rest += text.end();
      if (rest.trim() !== '') batch.push(decode(rest, ++rows));
      if (batch.length > 0) yield batch;
    } finally {
      await this.#storage.delete([key]).catch(() => undefined);
    }
  }
}

/**
 * Runs `work` on each batch, up to `IN_FLIGHT` at a time, so decoding the next batch overlaps
 * the store's round trips for the previous ones. The first failure stops it (the batches
 * still running are awaited) and is thrown.
 */
async function inFlight<T>(
  batches: AsyncIterable<T>,
  work: (batch: T) => Promise<void>,
): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  for await (const batch of batches) {
    if (failure) break;
    const task = work(batch).then(
      () => {
        running.delete(task);
      },
      (error: unknown) => {
        running.delete(task);
        failure ??= { error };
      },
    );
    running.add(task);
    if (running.size >= IN_FLIGHT) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure) throw failure.error;
}

/** Reads the value of the feature at `index` (schema order) of the row being built. */
type ValueAt = (index: number) => unknown;

/**
 * Builds online records from the compute engine's rows. The engine wrote the values from
 * typed columns, so the common types take a short path (a number, a string, an ISO time as
 * `toISOString` writes it, an int64's digits); anything else goes through the full conversion,
 * which names the row and feature when a value does not fit.
 *
 * The values object is one literal returned by a function generated once per schema (as
 * `result-rows.ts` does): V8 then gives every record one hidden class, where adding fifty
 * properties one by one made the decode the slowest step of a materialization. Names reach the
 * generated code only as JSON string literals (`__proto__` as a computed key).
 */
function recordBuilder(
  featureSet: FeatureSet,
  writeSequence: number,
  /** Where a row's values are: `source(r)` is handed to the generated code as `at`. */
  access: 'columns' | 'fields',
): (source: unknown, r: number, row: number) => OnlineRecord {
  const { schema } = featureSet;
  const indexOf = new Map(schema.features.map((feature, index) => [feature.name, index]));
  const keys = schema.primaryKey.map((name) => schema.features[indexOf.get(name)!]!);
  const valueFeatures = schema.features.filter(
    (f) => f.name !== schema.eventTime && !schema.primaryKey.includes(f.name),
  );
  const converters = valueFeatures.map(converterOf);
  const read = (feature: FeatureSpec) =>
    access === 'columns'
      ? `source[${indexOf.get(feature.name)!}][r]`
      : `source[${JSON.stringify(feature.name)}]`;
  const properties = valueFeatures.map((feature, k) => {
    const name = feature.name === '__proto__' ? '["__proto__"]' : JSON.stringify(feature.name);
    return `${name}: convert[${k}](${read(feature)}, row)`;
  });
  const values = new Function(
    'convert',
    'source',
    'r',
    'row',
    `return { ${properties.join(', ')} };`,
  ) as (convert: Converter[], source: unknown, r: number, row: number) => OnlineRecord['values'];
  const valueAt = (source: unknown, r: number): ValueAt =>
    access === 'columns'
      ? (index) => (source as unknown[][])[index]![r]
      : (index) => (source as Record<string, unknown>)[schema.features[index]!.name];
  const eventTime = indexOf.get(schema.eventTime)!;
  const keyIndexes = keys.map((feature) => indexOf.get(feature.name)!);
  return (source, r, row) => {
    const at = valueAt(source, r);
    return {
      key: keys.map((feature, k) =>
        keyComponent(toOnlineValue(`materialized row ${row}`, feature, at(keyIndexes[k]!))),
      ),
      eventTime: Date.parse(String(at(eventTime))),
      writeSequence,
      values: values(converters, source, r, row),
    };
  };
}

/** `recordBuilder` over lines of JSON Lines. */
function lineDecoder(
  featureSet: FeatureSet,
  writeSequence: number,
): (line: string, row: number) => OnlineRecord {
  const build = recordBuilder(featureSet, writeSequence, 'fields');
  return (line, row) => build(JSON.parse(line), 0, row);
}

type Converter = (value: unknown, row: number) => OnlineValue;

/** What `Date.toISOString` writes, the online form of a time. */
const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** int64 text that is a safe integer whatever its digits (at most 15, no leading zero, no -0). */
const SAFE_DIGITS = /^(?:0|-?[1-9]\d{0,14})$/;

function converterOf(feature: FeatureSpec): Converter {
  const full = (value: unknown, row: number) =>
    toOnlineValue(`materialized row ${row}`, feature, value);
  switch (feature.type) {
    case 'float32':
      return (value, row) => {
        const number = full(value, row);
        return typeof number === 'number' ? shortestFloat32(number) : number;
      };
    case 'list<float32>':
      return (value, row) => {
        const list = full(value, row);
        return Array.isArray(list)
          ? list.map((item) => (typeof item === 'number' ? shortestFloat32(item) : item))
          : list;
      };
    case 'float64':
      return (value, row) =>
        typeof value === 'number' && Number.isFinite(value) ? value : full(value, row);
    case 'int32':
      return (value, row) =>
        typeof value === 'number' && Number.isInteger(value) ? value : full(value, row);
    case 'int64':
      return (value, row) =>
        typeof value === 'string' && SAFE_DIGITS.test(value) ? Number(value) : full(value, row);
    case 'string':
      return (value, row) => (typeof value === 'string' ? value : full(value, row));
    case 'bool':
      return (value, row) => (typeof value === 'boolean' ? value : full(value, row));
    case 'timestamp':
      return (value, row) =>
        typeof value === 'string' && ISO_MILLIS.test(value) ? value : full(value, row);
    default:
      return full;
  }
}

/**
 * A float32 as the shortest decimal that is still that float32 (1.1, not the
 * 1.100000023841858 its double holds), as a push of 1.1 stores it: the same value online,
 * whichever way it came.
 */
function shortestFloat32(value: number): number {
  const single = Math.fround(value);
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(single.toPrecision(digits));
    if (Math.fround(candidate) === single) return candidate;
  }
  return Number(single.toPrecision(9));
}

function emptyResult(): MaterializeResult {
  return { rows: 0, written: 0, unchanged: 0, older: 0, deleted: 0 };
}

function refOf(featureSet: FeatureSet): FeatureSetVersionRef {
  return { featureSetId: featureSet.id, major: featureSet.version.major };
}

function versionOf(record: OnlineRecord | undefined): OnlineRecordVersion | null {
  return record ? { eventTime: record.eventTime, writeSequence: record.writeSequence } : null;
}

function toRecord(replacement: OnlineReplacement): OnlineRecord {
  return { ...replacement.record!, key: replacement.key };
}

function keyId(key: readonly string[]): string {
  return JSON.stringify(key);
}
