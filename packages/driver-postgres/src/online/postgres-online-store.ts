import {
  checkOnlineRecords,
  checkReplacements,
  type FeatureSetVersionRef,
  FeatureStoreError,
  newestPerKey,
  type OnlineReadRequest,
  type OnlineRecord,
  type OnlineReplacement,
  type OnlineStore,
  ValidationError,
} from '@featurestore/core/driver';
import { openPgClient } from '../pg-client.js';
import { openPGliteClient } from '../pglite-client.js';
import { DEFAULT_SCHEMA, type PostgresConnection } from '../postgres-metadata-store.js';
import { type MigrationPolicy, recordedVersion, requireMigrated } from '../schema-version.js';
import type { SqlClient, SqlRow } from '../sql-client.js';
import { validateSchemaName } from '../sql-text.js';
import { decodeKey, decodeValues, encodeKey, encodeValues, toNumber } from './online-codec.js';
import { migrateOnline, onlineMigrations } from './online-migrations.js';

export type PostgresOnlineStoreOptions = PostgresConnection & {
  /**
   * The schema holding `online_records` (default `featurestore`), created when missing. The
   * online tables keep their own migration count, so they can share the metadata store's
   * schema or live in another one, or in another database.
   */
  schema?: string;
  /** Records per upsert statement (default 5000); bigger batches take several. */
  writeBatchSize?: number;
  /** Records per page of `scan` (default 1000). */
  scanPageSize?: number;
  /**
   * `apply` (default) migrates the online tables on open; `require` only checks they are
   * current (deployments migrate with `featurestore migrate`).
   */
  migrations?: MigrationPolicy;
};

/**
 * `OnlineStore` on PostgreSQL, over `pg` or PGlite with the very same SQL: one table,
 * `online_records`, keyed by (feature set, major, key).
 *
 * - A write is one conditional upsert per batch (`INSERT … SELECT FROM unnest(…) ON CONFLICT
 *   DO UPDATE … WHERE` the incoming record is newer), so newest-wins holds in the database,
 *   row by row, whatever other connections write at the same time. The batch is reduced to
 *   its newest record per key first, and rows are upserted in key order, so concurrent
 *   batches lock rows in one order and never deadlock.
 * - `read` is one query for all keys (`key = ANY($3)`), `readMany` one query for several
 *   feature sets (a join with the requested keys); the TTL is applied in the query with the
 *   reader's clock, the projection in the driver.
 *
 * @example
 * const online = await PostgresOnlineStore.open({ connectionString: process.env.ONLINE_URL! });
 * const embedded = await PostgresOnlineStore.open({ pgliteDir: './.featurestore/online' });
 * const featureSet = { featureSetId: 'fs_1', major: 1 };
 * await online.write(featureSet, [
 *   { key: ['c42'], eventTime: Date.now(), writeSequence: 1, values: { amount: 9.5 } },
 * ]);
 * const [row] = await online.read({ featureSet, keys: [['c42']], ttlMs: 86_400_000 });
 */
export class PostgresOnlineStore implements OnlineStore {
  readonly driver: 'postgres' | 'pglite';
  /** The schema holding the table. */
  readonly schema: string;
  readonly #client: SqlClient;
  readonly #table: string;
  readonly #writeBatchSize: number;
  readonly #scanPageSize: number;
  #closed = false;

  private constructor(
    client: SqlClient,
    schema: string,
    driver: 'postgres' | 'pglite',
    options: PostgresOnlineStoreOptions,
  ) {
    this.#client = client;
    this.schema = schema;
    this.driver = driver;
    this.#table = `"${schema}".online_records`;
    this.#writeBatchSize = positive('writeBatchSize', options.writeBatchSize ?? 5000);
    this.#scanPageSize = positive('scanPageSize', options.scanPageSize ?? 1000);
  }

  /**
   * Connects and migrates the online tables to the newest version. Loads only the client it
   * needs (`pg` or `@electric-sql/pglite`).
   *
   * @example
   * await PostgresOnlineStore.open({ pool, schema: 'featurestore_online' });
   */
  static async open(options: PostgresOnlineStoreOptions): Promise<PostgresOnlineStore> {
    const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
    positive('writeBatchSize', options.writeBatchSize ?? 5000);
    positive('scanPageSize', options.scanPageSize ?? 1000);
    const pglite = 'pgliteDir' in options || 'pglite' in options;
    const client = pglite ? await openPGliteClient(options) : await openPgClient(options);
    try {
      if (options.migrations === 'require') {
        await requireMigrated(client, schema, onlineMigrations(schema));
      } else {
        await migrateOnline(client, schema);
      }
    } catch (error) {
      await client.close().catch(() => {});
      throw error;
    }
    return new PostgresOnlineStore(client, schema, pglite ? 'pglite' : 'postgres', options);
  }

  /**
   * Brings the online tables up to the newest migration and disconnects (`featurestore
   * migrate`); safe when several run at once. Returns the versions applied and the version
   * the tables are now at.
   */
  static async migrate(
    options: PostgresConnection & { schema?: string },
  ): Promise<{ applied: number[]; version: number }> {
    const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
    const pglite = 'pgliteDir' in options || 'pglite' in options;
    const client = pglite ? await openPGliteClient(options) : await openPgClient(options);
    try {
      const applied = await migrateOnline(client, schema);
      return { applied, version: await recordedVersion(client, schema, 'online_migrations') };
    } finally {
      await client.close();
    }
  }

  /**
   * Applies each key's newest record of the batch when it is at least as new as the stored
   * one (greater event time, or equal and a greater-or-equal sequence); returns how many
   * records applied.
   */
  async write(featureSet: FeatureSetVersionRef, records: readonly OnlineRecord[]): Promise<number> {
    this.#assertOpen();
    checkFeatureSet(featureSet);
    checkOnlineRecords(records);
    const newest = [...newestPerKey(records).values()];
    let applied = 0;
    for (let start = 0; start < newest.length; start += this.#writeBatchSize) {
      applied += await this.#upsert(featureSet, newest.slice(start, start + this.#writeBatchSize));
    }
    return applied;
  }

  async #upsert(
    featureSet: FeatureSetVersionRef,
    records: readonly OnlineRecord[],
  ): Promise<number> {
    // The WHERE clause is evaluated against the row as the latest committed writer left it,
    // with that row locked: an older record can never land over a newer one.
    const rows = await this.#query(
      `WITH applied AS (
        INSERT INTO ${this.#table} AS stored
          (feature_set_id, major, key, event_time, write_sequence, feature_values)
        SELECT $1, $2, batch.key, batch.event_time, batch.write_sequence, batch.feature_values
        FROM unnest($3::text[], $4::float8[], $5::float8[], $6::text[])
          AS batch (key, event_time, write_sequence, feature_values)
        ORDER BY batch.key COLLATE "C"
        ON CONFLICT (feature_set_id, major, key) DO UPDATE SET
          event_time = excluded.event_time,
          write_sequence = excluded.write_sequence,
          feature_values = excluded.feature_values
        WHERE excluded.event_time > stored.event_time
          OR (excluded.event_time = stored.event_time
            AND excluded.write_sequence >= stored.write_sequence)
        RETURNING 1
      )
      SELECT count(*)::integer AS applied FROM applied`,
      [
        featureSet.featureSetId,
        featureSet.major,
        records.map((record) => encodeKey(record.key)),
        records.map((record) => record.eventTime),
        records.map((record) => record.writeSequence),
        records.map((record) => encodeValues(record.values)),
      ],
    );
    return toNumber(rows[0]?.applied ?? 0);
  }

  /**
   * Compare-and-set past newest-wins (see the port), per `writeBatchSize` replacements: one
   * transaction locks the stored rows in key order (`FOR UPDATE`, the order upserts lock in),
   * compares them, and updates or deletes the matching ones without waiting on any other row;
   * then the keys that must be absent are inserted by one statement in key order (`ON CONFLICT
   * DO NOTHING`: a key a concurrent writer created meanwhile is not replaced). Neither step
   * holds a lock while it waits for one out of key order, so replaces and writes never
   * deadlock.
   */
  async replace(
    featureSet: FeatureSetVersionRef,
    replacements: readonly OnlineReplacement[],
  ): Promise<boolean[]> {
    this.#assertOpen();
    checkFeatureSet(featureSet);
    checkReplacements(replacements);
    const applied: boolean[] = [];
    for (let start = 0; start < replacements.length; start += this.#writeBatchSize) {
      const batch = replacements.slice(start, start + this.#writeBatchSize);
      applied.push(...(await this.#replaceBatch(featureSet, batch)));
    }
    return applied;
  }

  async #replaceBatch(
    featureSet: FeatureSetVersionRef,
    batch: readonly OnlineReplacement[],
  ): Promise<boolean[]> {
    const { featureSetId, major } = featureSet;
    const keys = batch.map((replacement) => encodeKey(replacement.key));
    const applied = await this.#client.transaction(async (tx) => {
      const locked = await tx.query(
        `SELECT key, event_time, write_sequence FROM ${this.#table}
        WHERE feature_set_id = $1 AND major = $2 AND key = ANY($3::text[])
        ORDER BY key FOR UPDATE`,
        [featureSetId, major, keys],
      );
      const stored = new Map(locked.map((row) => [row.key as string, row]));
      const matches = batch.map(({ expected }, i) => {
        const row = stored.get(keys[i]!);
        if (!row) return expected === null;
        return (
          expected !== null &&
          toNumber(row.event_time) === expected.eventTime &&
          toNumber(row.write_sequence) === expected.writeSequence
        );
      });
      const removed: string[] = [];
      const updated: StoredRow[] = [];
      batch.forEach(({ expected, record }, i) => {
        if (!matches[i] || expected === null) return;
        if (record === null) removed.push(keys[i]!);
        else updated.push({ key: keys[i]!, record });
      });
      if (removed.length > 0) {
        await tx.query(
          `DELETE FROM ${this.#table}
          WHERE feature_set_id = $1 AND major = $2 AND key = ANY($3::text[])`,
          [featureSetId, major, removed],
        );
      }
      if (updated.length > 0) {
        await tx.query(
          `UPDATE ${this.#table} AS stored SET
            event_time = batch.event_time,
            write_sequence = batch.write_sequence,
            feature_values = batch.feature_values
          FROM unnest($3::text[], $4::float8[], $5::float8[], $6::text[])
            AS batch (key, event_time, write_sequence, feature_values)
          WHERE stored.feature_set_id = $1 AND stored.major = $2 AND stored.key = batch.key`,
          [featureSetId, major, ...columnsOf(updated)],
        );
      }
      return matches;
    });
    const inserted: (StoredRow & { index: number })[] = [];
    batch.forEach(({ expected, record }, i) => {
      if (applied[i] && expected === null && record !== null) {
        inserted.push({ key: keys[i]!, record, index: i });
      }
    });
    if (inserted.length > 0) {
      const created = await this.#query(
        `INSERT INTO ${this.#table}
          (feature_set_id, major, key, event_time, write_sequence, feature_values)
        SELECT $1, $2, batch.key, batch.event_time, batch.write_sequence, batch.feature_values
        FROM unnest($3::text[], $4::float8[], $5::float8[], $6::text[])
          AS batch (key, event_time, write_sequence, feature_values)
        ORDER BY batch.key COLLATE "C"
        ON CONFLICT (feature_set_id, major, key) DO NOTHING
        RETURNING key`,
        [featureSetId, major, ...columnsOf(inserted)],
      );
      const done = new Set(created.map((row) => row.key as string));
      for (const { key, index } of inserted) applied[index] = done.has(key);
    }
    return applied;
  }

  /** One query for every key; `undefined` for missing or expired keys, in request order. */
  async read(request: OnlineReadRequest): Promise<(OnlineRecord | undefined)[]> {
    this.#assertOpen();
    checkFeatureSet(request.featureSet);
    if (request.keys.length === 0) return [];
    const keys = [...new Set(request.keys.map(encodeKey))];
    const rows = await this.#query(
      `SELECT key, event_time, write_sequence, feature_values FROM ${this.#table}
      WHERE feature_set_id = $1 AND major = $2 AND key = ANY($3::text[]) AND event_time > $4`,
      [request.featureSet.featureSetId, request.featureSet.major, keys, oldestOf(request)],
    );
    return answer(request, new Map(rows.map((row) => [row.key as string, row])));
  }

  /**
   * Several feature sets in one query: the requested (feature set, key, oldest event time)
   * triples travel as arrays and are joined with the table.
   */
  async readMany(requests: readonly OnlineReadRequest[]): Promise<(OnlineRecord | undefined)[][]> {
    this.#assertOpen();
    for (const request of requests) checkFeatureSet(request.featureSet);
    const indexes: number[] = [];
    const featureSetIds: string[] = [];
    const majors: number[] = [];
    const keys: string[] = [];
    const oldest: number[] = [];
    for (const [i, request] of requests.entries()) {
      const limit = oldestOf(request);
      for (const key of new Set(request.keys.map(encodeKey))) {
        indexes.push(i);
        featureSetIds.push(request.featureSet.featureSetId);
        majors.push(request.featureSet.major);
        keys.push(key);
        oldest.push(limit);
      }
    }
    if (keys.length === 0) return requests.map(() => []);
    const rows = await this.#query(
      `SELECT wanted.i, stored.key, stored.event_time, stored.write_sequence, stored.feature_values
      FROM unnest($1::integer[], $2::text[], $3::integer[], $4::text[], $5::float8[])
        AS wanted (i, feature_set_id, major, key, oldest)
      JOIN ${this.#table} AS stored
        ON stored.feature_set_id = wanted.feature_set_id
        AND stored.major = wanted.major
        AND stored.key = wanted.key
      WHERE stored.event_time > wanted.oldest`,
      [indexes, featureSetIds, majors, keys, oldest],
    );
    const found = requests.map(() => new Map<string, SqlRow>());
    for (const row of rows) found[toNumber(row.i)]!.set(row.key as string, row);
    return requests.map((request, i) => answer(request, found[i]!));
  }

  async delete(
    featureSet: FeatureSetVersionRef,
    keys: readonly (readonly string[])[],
  ): Promise<void> {
    this.#assertOpen();
    checkFeatureSet(featureSet);
    if (keys.length === 0) return;
    await this.#query(
      `DELETE FROM ${this.#table}
      WHERE feature_set_id = $1 AND major = $2 AND key = ANY($3::text[])`,
      [featureSet.featureSetId, featureSet.major, keys.map(encodeKey)],
    );
  }

  async drop(featureSet: FeatureSetVersionRef): Promise<void> {
    this.#assertOpen();
    checkFeatureSet(featureSet);
    await this.#query(`DELETE FROM ${this.#table} WHERE feature_set_id = $1 AND major = $2`, [
      featureSet.featureSetId,
      featureSet.major,
    ]);
  }

  /**
   * Every record of the version, page by page in key order (keyset pagination on the primary
   * key), so a long scan holds no transaction open. Records written during the scan may or
   * may not appear; none appears twice.
   */
  async *scan(featureSet: FeatureSetVersionRef): AsyncIterable<OnlineRecord> {
    this.#assertOpen();
    checkFeatureSet(featureSet);
    // Stored keys are JSON arrays: every one sorts after the empty string.
    let after = '';
    for (;;) {
      this.#assertOpen();
      const rows = await this.#query(
        `SELECT key, event_time, write_sequence, feature_values FROM ${this.#table}
        WHERE feature_set_id = $1 AND major = $2 AND key > $3
        ORDER BY key LIMIT $4`,
        [featureSet.featureSetId, featureSet.major, after, this.#scanPageSize],
      );
      for (const row of rows) yield toRecord(decodeKey(row.key as string), row, undefined);
      if (rows.length < this.#scanPageSize) return;
      after = rows.at(-1)!.key as string;
    }
  }

  /** Ends the pool or PGlite instance if the store created it; later calls fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.close();
  }

  #query(text: string, params: readonly unknown[]): Promise<SqlRow[]> {
    return this.#client.query(text, params);
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new FeatureStoreError(
        'UNAVAILABLE',
        `the ${this.driver} online store on schema "${this.schema}" is closed: open a new one with PostgresOnlineStore.open()`,
      );
    }
  }
}

/** Records at or before this event time read as missing; -Infinity without a TTL. */
function oldestOf(request: OnlineReadRequest): number {
  return request.ttlMs === undefined
    ? Number.NEGATIVE_INFINITY
    : (request.now ?? Date.now()) - request.ttlMs;
}

/** One result per requested key, each a fresh object (duplicates do not share values). */
function answer(
  request: OnlineReadRequest,
  found: Map<string, SqlRow>,
): (OnlineRecord | undefined)[] {
  return request.keys.map((key) => {
    const row = found.get(encodeKey(key));
    return row ? toRecord([...key], row, request.features) : undefined;
  });
}

function toRecord(
  key: string[],
  row: SqlRow,
  features: readonly string[] | undefined,
): OnlineRecord {
  return {
    key,
    eventTime: toNumber(row.event_time),
    writeSequence: toNumber(row.write_sequence),
    values: decodeValues(row.feature_values as string, features),
  };
}

/** A record to store under its encoded key. */
interface StoredRow {
  key: string;
  record: Omit<OnlineRecord, 'key'>;
}

/** The unnest columns of records to store: keys, event times, write sequences, values. */
function columnsOf(rows: readonly StoredRow[]): [string[], number[], number[], string[]] {
  return [
    rows.map((row) => row.key),
    rows.map((row) => row.record.eventTime),
    rows.map((row) => row.record.writeSequence),
    rows.map((row) => encodeValues(row.record.values)),
  ];
}

function checkFeatureSet(featureSet: FeatureSetVersionRef): void {
  if (
    typeof featureSet?.featureSetId !== 'string' ||
    featureSet.featureSetId === '' ||
    !Number.isInteger(featureSet.major) ||
    featureSet.major < 0 ||
    featureSet.major > 2_147_483_647
  ) {
    throw new ValidationError(
      `feature set version ${JSON.stringify(featureSet)} is invalid: it needs a featureSetId and a major version (an integer from 0)`,
      { details: { field: 'featureSet', value: featureSet } },
    );
  }
}

function positive(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ValidationError(`${field} must be a positive integer, got ${value}`, {
      details: { field, value },
    });
  }
  return value;
}
