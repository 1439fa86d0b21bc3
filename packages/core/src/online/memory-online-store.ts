import { FeatureStoreError, ValidationError } from '../errors.js';
import type {
  FeatureSetVersionRef,
  OnlineReadRequest,
  OnlineRecord,
  OnlineReplacement,
  OnlineStore,
  OnlineValue,
} from '../ports/online-store.js';

/**
 * `OnlineStore` in this process's memory: the reference implementation of the port's
 * semantics, the embedded default for tests and single-process use. Nothing survives a
 * restart, and each instance has a memory of its own.
 *
 * Records are copied in and out, so callers can change what they wrote or read without
 * touching the store.
 *
 * @example
 * const store = new MemoryOnlineStore();
 * const featureSet = { featureSetId: 'fs_1', major: 1 };
 * await store.write(featureSet, [{ key: ['c42'], eventTime: Date.now(), writeSequence: 1, values: { amount: 9.5 } }]);
 * const [row] = await store.read({ featureSet, keys: [['c42']], features: ['amount'] });
 */
export class MemoryOnlineStore implements OnlineStore {
  readonly driver = 'memory';
  /** Feature set version → key (its columns as JSON, unambiguous) → record. */
  readonly #versions = new Map<string, Map<string, OnlineRecord>>();
  #closed = false;

  /**
   * Applies each key's newest record of the batch (the later one among equals) when it is at
   * least as new as the stored one; returns how many keys changed.
   */
  async write(featureSet: FeatureSetVersionRef, records: readonly OnlineRecord[]): Promise<number> {
    this.#assertOpen();
    checkOnlineRecords(records);
    const newest = newestPerKey(records);
    if (newest.size === 0) return 0;
    const stored = this.#version(featureSet, true)!;
    let applied = 0;
    for (const [id, candidate] of newest) {
      const current = stored.get(id);
      if (current && compareRecords(candidate, current) < 0) continue;
      stored.set(id, copyRecord(candidate));
      applied++;
    }
    return applied;
  }

  async read(request: OnlineReadRequest): Promise<(OnlineRecord | undefined)[]> {
    this.#assertOpen();
    return this.#read(request);
  }

  /** Reads several feature sets; in memory, every call is one "round trip". */
  async readMany(requests: readonly OnlineReadRequest[]): Promise<(OnlineRecord | undefined)[][]> {
    this.#assertOpen();
    return requests.map((request) => this.#read(request));
  }

  /** Compare-and-set per key, past newest-wins (see the port). */
  async replace(
    featureSet: FeatureSetVersionRef,
    replacements: readonly OnlineReplacement[],
  ): Promise<boolean[]> {
    this.#assertOpen();
    checkReplacements(replacements);
    if (replacements.length === 0) return [];
    const stored = this.#version(featureSet, true)!;
    return replacements.map(({ key, expected, record }) => {
      const id = keyId(key);
      const current = stored.get(id);
      const matches = current
        ? expected !== null &&
          current.eventTime === expected.eventTime &&
          current.writeSequence === expected.writeSequence
        : expected === null;
      if (!matches) return false;
      if (record === null) stored.delete(id);
      else stored.set(id, copyRecord({ ...record, key }));
      return true;
    });
  }

  async delete(
    featureSet: FeatureSetVersionRef,
    keys: readonly (readonly string[])[],
  ): Promise<void> {
    this.#assertOpen();
    const stored = this.#version(featureSet, false);
    if (!stored) return;
    for (const key of keys) stored.delete(keyId(key));
  }

  async drop(featureSet: FeatureSetVersionRef): Promise<void> {
    this.#assertOpen();
    this.#versions.delete(versionId(featureSet));
  }

  /** Every record at the time iteration starts; later writes are not seen. */
  async *scan(featureSet: FeatureSetVersionRef): AsyncIterable<OnlineRecord> {
    this.#assertOpen();
    const stored = [...(this.#version(featureSet, false)?.values() ?? [])];
    for (const record of stored) yield copyRecord(record);
  }

  /** Forgets every record; later calls fail. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#versions.clear();
  }

  #read(request: OnlineReadRequest): (OnlineRecord | undefined)[] {
    const stored = this.#version(request.featureSet, false);
    const oldest =
      request.ttlMs === undefined ? undefined : (request.now ?? Date.now()) - request.ttlMs;
    return request.keys.map((key) => {
      const record = stored?.get(keyId(key));
      if (!record || (oldest !== undefined && record.eventTime <= oldest)) return undefined;
      return {
        key: [...key],
        eventTime: record.eventTime,
        writeSequence: record.writeSequence,
        values: project(record.values, request.features),
      };
    });
  }

  #version(
    featureSet: FeatureSetVersionRef,
    create: boolean,
  ): Map<string, OnlineRecord> | undefined {
    const id = versionId(featureSet);
    let stored = this.#versions.get(id);
    if (!stored && create) {
      stored = new Map();
      this.#versions.set(id, stored);
    }
    return stored;
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new FeatureStoreError(
        'UNAVAILABLE',
        'the memory online store is closed: create a new MemoryOnlineStore',
      );
    }
  }
}

/**
 * Orders two records of one key under the newest-wins rule: by event time, then write
 * sequence. A record replaces the stored one when this is `>= 0`.
 */
export function compareRecords(
  a: Pick<OnlineRecord, 'eventTime' | 'writeSequence'>,
  b: Pick<OnlineRecord, 'eventTime' | 'writeSequence'>,
): number {
  if (a.eventTime !== b.eventTime) return a.eventTime < b.eventTime ? -1 : 1;
  if (a.writeSequence !== b.writeSequence) return a.writeSequence < b.writeSequence ? -1 : 1;
  return 0;
}

/**
 * Reduces a write batch to the record each key keeps when the batch is applied in order: the
 * newest, and among equals the later one. Drivers apply this before writing, so several
 * records of one key count once.
 */
export function newestPerKey(records: readonly OnlineRecord[]): Map<string, OnlineRecord> {
  const newest = new Map<string, OnlineRecord>();
  for (const record of records) {
    const id = keyId(record.key);
    const current = newest.get(id);
    if (!current || compareRecords(record, current) >= 0) newest.set(id, record);
  }
  return newest;
}

/**
 * Refuses records no store can hold faithfully, naming the first bad one: a key that is not
 * an array of strings (`['007']`, never `[7]`: keys are compared as text), an event time or
 * write sequence that is not a finite number (NaN would never compare as newer or older),
 * values that are not an object. Every driver checks with this before it writes.
 */
export function checkOnlineRecords(records: readonly OnlineRecord[]): void {
  records.forEach((record, index) => {
    const problem =
      typeof record !== 'object' || record === null
        ? 'it is not an object'
        : !Array.isArray(record.key) || record.key.length === 0
          ? 'its key must be a non-empty array of strings'
          : record.key.some((column) => typeof column !== 'string')
            ? 'its key columns must be strings'
            : !Number.isFinite(record.eventTime)
              ? 'its eventTime is not a finite number'
              : !Number.isFinite(record.writeSequence)
                ? 'its writeSequence is not a finite number'
                : typeof record.values !== 'object' || record.values === null
                  ? 'its values are not an object'
                  : undefined;
    if (problem) {
      throw new ValidationError(
        `online record ${index + 1} (key ${JSON.stringify(record?.key)}) cannot be written: ${problem}`,
        { details: { field: 'records', row: index + 1 } },
      );
    }
  });
}

/**
 * Refuses replacements a driver cannot apply as the port says: a key named twice in one call
 * (which of the two would be compared?), keys that are not string arrays, and times or
 * sequences that are not finite numbers. Every driver checks with this before it writes.
 */
export function checkReplacements(replacements: readonly OnlineReplacement[]): void {
  const seen = new Set<string>();
  replacements.forEach((replacement, index) => {
    const { key, expected, record } = replacement;
    const where = `replacement ${index + 1} (key ${JSON.stringify(key)})`;
    const problem =
      !Array.isArray(key) || key.some((column) => typeof column !== 'string')
        ? 'its key must be an array of strings'
        : seen.has(keyId(key))
          ? 'its key is already replaced earlier in the call: name each key once'
          : expected !== null && !finiteVersion(expected)
            ? 'its expected eventTime and writeSequence must be finite numbers (or expected null)'
            : record !== null && !finiteVersion(record)
              ? 'its record eventTime and writeSequence must be finite numbers (or record null)'
              : undefined;
    if (problem) {
      throw new ValidationError(`${where} cannot be applied: ${problem}`, {
        details: { field: 'replacements', row: index + 1 },
      });
    }
    seen.add(keyId(key));
  });
}

function finiteVersion(version: { eventTime: unknown; writeSequence: unknown }): boolean {
  return Number.isFinite(version?.eventTime) && Number.isFinite(version?.writeSequence);
}

function keyId(key: readonly string[]): string {
  return JSON.stringify(key);
}

function versionId(featureSet: FeatureSetVersionRef): string {
  return JSON.stringify([featureSet.featureSetId, featureSet.major]);
}

function project(
  values: Readonly<Record<string, OnlineValue>>,
  features: readonly string[] | undefined,
): Record<string, OnlineValue> {
  const projected: Record<string, OnlineValue> = {};
  for (const name of features ?? Object.keys(values)) {
    if (Object.hasOwn(values, name)) projected[name] = copyValue(values[name]!);
  }
  return projected;
}

function copyRecord(record: OnlineRecord): OnlineRecord {
  return {
    key: [...record.key],
    eventTime: record.eventTime,
    writeSequence: record.writeSequence,
    values: project(record.values, undefined),
  };
}

function copyValue(value: OnlineValue): OnlineValue {
  return Array.isArray(value) ? value.map(copyValue) : value;
}
