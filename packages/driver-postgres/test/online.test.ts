import { PGlite } from '@electric-sql/pglite';
import { compareRecords, type OnlineRecord, type OnlineValue } from '@featurestore/core/driver';
import { serviceEnv, uniqueName } from '@featurestore/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgPoolLike, PostgresMetadataStore, PostgresOnlineStore } from '../src/index.js';

const url = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');
const T0 = Date.UTC(2025, 0, 1);
const schemas: string[] = [];
let admin: pg.Pool;

beforeAll(() => {
  admin = new pg.Pool({ connectionString: url });
});
afterAll(async () => {
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

function schemaName(prefix: string): string {
  const schema = uniqueName(prefix);
  schemas.push(schema);
  return schema;
}

function record(
  key: string[],
  eventTime: number,
  writeSequence: number,
  values: Record<string, OnlineValue>,
): OnlineRecord {
  return { key, eventTime, writeSequence, values };
}

/**
 * Waits until some backend waits for a lock the backend `holder` holds (`pg_blocking_pids`):
 * `work` has reached the lock. Fails if `work` settles first, or after `ms`.
 */
async function untilBlockedBy(holder: number, work: Promise<unknown>, ms = 10_000): Promise<void> {
  let settled = false;
  work.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  const deadline = Date.now() + ms;
  for (;;) {
    const { rows } = await admin.query<{ waiting: number }>(
      'SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
      [holder],
    );
    if (rows[0]!.waiting > 0) return;
    if (settled) throw new Error(`the work finished without waiting for the lock of ${holder}`);
    if (Date.now() > deadline)
      throw new Error(`nothing waited for the lock of ${holder} in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A pool that counts the statements sent through it: one round trip each. */
function countingPool(pool: pg.Pool): PgPoolLike & { statements: string[] } {
  const statements: string[] = [];
  return {
    statements,
    query: (text: string, values?: unknown[]) => {
      statements.push(text);
      return pool.query(text, values);
    },
    connect: () => pool.connect(),
    end: () => pool.end(),
  };
}

describe('concurrent writers on PostgreSQL', () => {
  let pool: pg.Pool;
  let store: PostgresOnlineStore;
  const schema = schemaName('online_race');

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 8 });
    store = await PostgresOnlineStore.open({ pool, schema });
  });
  afterAll(async () => {
    await store?.close();
    await pool?.end();
  });

  it('never lets an older record replace a newer one, seen at any moment', async () => {
    const featureSet = { featureSetId: uniqueName('race'), major: 1 };
    const keys = Array.from({ length: 40 }, (_, i) => [`entity${i}`, String(i % 4)]);
    const writers = 16;
    const rounds = 40;
    // Values follow from (event time, sequence), so equal pairs carry equal values.
    const batchOf = () =>
      keys
        .map((key) => {
          const eventTime = T0 + Math.floor(Math.random() * 50);
          const sequence = Math.floor(Math.random() * 6);
          return record(key, eventTime, sequence, { v: `${eventTime}/${sequence}` });
        })
        .sort(() => Math.random() - 0.5);
    const expected = new Map<string, OnlineRecord>();
    const remember = (batch: OnlineRecord[]) => {
      for (const candidate of batch) {
        const id = JSON.stringify(candidate.key);
        const current = expected.get(id);
        if (!current || compareRecords(candidate, current) >= 0) expected.set(id, candidate);
      }
    };

    let running = true;
    const regressions: string[] = [];
    let observations = 0;
    const monitor = (async () => {
      const seen = new Map<string, OnlineRecord>();
      while (running) {
        const rows = await store.read({ featureSet, keys });
        observations++;
        for (const row of rows) {
          if (!row) continue;
          const id = JSON.stringify(row.key);
          const before = seen.get(id);
          if (before && compareRecords(row, before) < 0) {
            regressions.push(`${id}: ${before.values.v} then ${row.values.v}`);
          }
          seen.set(id, row);
        }
      }
    })();

    const applied = await Promise.all(
      Array.from({ length: writers }, async () => {
        let total = 0;
        for (let round = 0; round < rounds; round++) {
          const batch = batchOf();
          remember(batch);
          total += await store.write(featureSet, batch);
        }
        return total;
      }),
    );
    running = false;
    await monitor;

    expect(regressions).toEqual([]);
    expect(observations).toBeGreaterThan(1);
    expect(applied.reduce((sum, n) => sum + n, 0)).toBeGreaterThanOrEqual(keys.length);
    const rows = await store.read({ featureSet, keys });
    expect(rows).toEqual(keys.map((key) => expected.get(JSON.stringify(key))));
    await store.drop(featureSet);
  }, 60_000);

  it('re-checks the rule against a newer row committed while the write waited for its lock', async () => {
    const featureSet = { featureSetId: uniqueName('lock'), major: 1 };
    await store.write(featureSet, [record(['k'], T0, 1, { v: 'first' })]);
    const holder = await pool.connect();
    try {
      const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await holder.query('BEGIN');
      // Another writer makes the row newer and holds its lock, uncommitted.
      await holder.query(
        `UPDATE "${schema}".online_records
        SET event_time = $1, write_sequence = 1, feature_values = $2
        WHERE feature_set_id = $3 AND major = 1`,
        [T0 + 100, JSON.stringify({ v: 'newer' }), featureSet.featureSetId],
      );
      // Newer than what was committed when it started, older than what commits meanwhile.
      const waiting = store.write(featureSet, [record(['k'], T0 + 50, 9, { v: 'middle' })]);
      await untilBlockedBy(rows[0]!.pid, waiting);
      await holder.query('COMMIT');
      expect(await waiting).toBe(0);
    } finally {
      holder.release();
    }
    expect(await store.read({ featureSet, keys: [['k']] })).toEqual([
      record(['k'], T0 + 100, 1, { v: 'newer' }),
    ]);
    await store.drop(featureSet);
  });

  it('does not deadlock when batches lock the same keys in different orders', async () => {
    const featureSet = { featureSetId: uniqueName('order'), major: 1 };
    const keys = Array.from({ length: 200 }, (_, i) => [`k${i}`]);
    // Without a lock order, two of these batches deadlock within a few rounds (40P01).
    await Promise.all(
      Array.from({ length: 12 }, async (_, writer) => {
        for (let round = 0; round < 10; round++) {
          const batch = [...keys]
            .sort(() => Math.random() - 0.5)
            .map((key) => record(key, T0 + round, writer, { round, writer }));
          await store.write(featureSet, batch);
        }
      }),
    );
    const rows = await store.read({ featureSet, keys });
    expect(rows.every((row) => row?.values.round === 9 && row.values.writer === 11)).toBe(true);
    await store.drop(featureSet);
  }, 60_000);
});

describe('round trips', () => {
  let pool: pg.Pool;
  let counting: ReturnType<typeof countingPool>;
  let store: PostgresOnlineStore;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url });
    counting = countingPool(pool);
    store = await PostgresOnlineStore.open({ pool: counting, schema: schemaName('online_trips') });
  });
  afterAll(async () => {
    await store?.close();
    await pool?.end();
  });

  it('writes a batch, reads many keys, and reads several feature sets in one statement each', async () => {
    const a = { featureSetId: uniqueName('a'), major: 1 };
    const b = { featureSetId: uniqueName('b'), major: 2 };
    const records = Array.from({ length: 1000 }, (_, i) => record([`k${i}`], T0, 1, { i }));
    counting.statements.length = 0;
    expect(await store.write(a, [...records, records[0]!])).toBe(1000);
    expect(await store.write(b, records.slice(0, 10))).toBe(10);
    expect(counting.statements).toHaveLength(2);

    counting.statements.length = 0;
    const rows = await store.read({ featureSet: a, keys: records.map((r) => r.key) });
    expect(rows).toEqual(records);
    const many = await store.readMany([
      { featureSet: a, keys: [['k1'], ['k2']], features: ['i'] },
      { featureSet: b, keys: [['k3'], ['k999']] },
      { featureSet: a, keys: [['k5']], ttlMs: 1000, now: T0 + 5000 },
    ]);
    expect(many).toEqual([[records[1], records[2]], [records[3], undefined], [undefined]]);
    expect(counting.statements).toHaveLength(2);
    await store.drop(a);
    await store.drop(b);
  });
});

describe('values and keys', () => {
  let store: PostgresOnlineStore;
  beforeAll(async () => {
    store = await PostgresOnlineStore.open({
      connectionString: url,
      schema: schemaName('online_values'),
    });
  });
  afterAll(async () => {
    await store?.close();
  });

  it('keeps NaN, infinities, negative zero and NUL characters exactly', async () => {
    const featureSet = { featureSetId: uniqueName('edges'), major: 0 };
    const values = {
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      ninf: Number.NEGATIVE_INFINITY,
      nzero: -0,
      list: [Number.NaN, 1, -0, null],
      nul: 'a\u0000b',
      n: 'NaN',
      lookalike: ['n'],
    };
    const written = record(['key\u0000with nul', ''], T0 + 0.5, 2 ** 53, values);
    expect(await store.write(featureSet, [written])).toBe(1);
    const [row] = await store.read({ featureSet, keys: [written.key] });
    expect(row).toEqual(written);
    expect(Object.is(row?.values.nzero, -0)).toBe(true);
    const scanned: OnlineRecord[] = [];
    for await (const found of store.scan(featureSet)) scanned.push(found);
    expect(scanned).toEqual([written]);
  });

  it('refuses records and feature sets it cannot store faithfully', async () => {
    const featureSet = { featureSetId: uniqueName('bad'), major: 1 };
    const bad = [
      { ...record(['k'], Number.NaN, 1, {}) },
      { ...record(['k'], T0, Number.POSITIVE_INFINITY, {}) },
      { ...record([1 as unknown as string], T0, 1, {}) },
      { ...record(['k'], T0, 1, null as unknown as Record<string, OnlineValue>) },
    ];
    for (const one of bad) {
      await expect(store.write(featureSet, [one])).rejects.toMatchObject({ code: 'VALIDATION' });
    }
    for (const ref of [
      { featureSetId: '', major: 1 },
      { featureSetId: 'x', major: -1 },
      { featureSetId: 'x', major: 1.5 },
    ]) {
      await expect(store.read({ featureSet: ref, keys: [['k']] })).rejects.toMatchObject({
        code: 'VALIDATION',
      });
    }
  });
});

describe('schemas and migrations', () => {
  it('shares a schema with the metadata store, each counting its own migrations', async () => {
    const schema = schemaName('online_shared');
    const [metadata, online] = await Promise.all([
      PostgresMetadataStore.open({ connectionString: url, schema }),
      PostgresOnlineStore.open({ connectionString: url, schema }),
    ]);
    const again = await PostgresOnlineStore.open({ connectionString: url, schema });
    const tables = await admin.query(
      'SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1',
      [schema],
    );
    expect(tables.rows.map((row) => row.tablename)).toEqual(
      expect.arrayContaining([
        'online_migrations',
        'online_records',
        'schema_migrations',
        'projects',
      ]),
    );
    const versions = await admin.query(`SELECT version FROM "${schema}".online_migrations`);
    expect(versions.rows).toEqual([{ version: 1 }]);
    await Promise.all([metadata.close(), online.close(), again.close()]);
  });

  it('refuses online tables migrated by a newer driver', async () => {
    const schema = schemaName('online_newer');
    await (await PostgresOnlineStore.open({ connectionString: url, schema })).close();
    await admin.query(
      `INSERT INTO "${schema}".online_migrations (version, name) VALUES (99, 'future')`,
    );
    await expect(PostgresOnlineStore.open({ connectionString: url, schema })).rejects.toThrow(
      /at migration 99, newer than this driver knows \(1\): upgrade/,
    );
  });

  it('runs on a PGlite instance it shares with the metadata store, leaving it open', async () => {
    const db = await PGlite.create();
    try {
      const metadata = await PostgresMetadataStore.open({ pglite: db });
      const online = await PostgresOnlineStore.open({ pglite: db });
      expect(online.driver).toBe('pglite');
      const featureSet = { featureSetId: 'fs', major: 1 };
      await online.write(featureSet, [record(['k'], T0, 1, { v: 1 })]);
      await online.close();
      await metadata.close();
      const rows = await db.query('SELECT count(*)::int AS n FROM featurestore.online_records');
      expect(rows.rows).toEqual([{ n: 1 }]);
    } finally {
      await db.close();
    }
  });

  it('rejects a bad schema name or batch size before connecting', async () => {
    await expect(
      PostgresOnlineStore.open({ connectionString: url, schema: 'Bad-Name' }),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(
      PostgresOnlineStore.open({ connectionString: url, writeBatchSize: 0 }),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('names an unreachable server', async () => {
    const error = await PostgresOnlineStore.open({
      connectionString: 'postgres://nobody@127.0.0.1:1/none',
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'UNAVAILABLE' });
    expect((error as Error).message).toMatch(/cannot reach PostgreSQL at 127\.0\.0\.1:1/);
  });
});
