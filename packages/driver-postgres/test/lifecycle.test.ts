import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { FeatureStoreError, ValidationError } from '@featurestore/core/driver';
import { serviceEnv, uniqueName } from '@featurestore/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresMetadataStore } from '../src/index.js';

const url = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');
const schema = uniqueName('lifecycle');
let pool: pg.Pool;
let store: PostgresMetadataStore;

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: url });
  store = await PostgresMetadataStore.open({ pool, schema });
});

afterAll(async () => {
  await store?.close();
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

describe('store lifecycle', () => {
  it('an injected pool stays open after close()', async () => {
    const own = await PostgresMetadataStore.open({ pool, schema });
    await own.close();
    expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
  });

  it('calls after close() fail with a non-retryable UNAVAILABLE error', async () => {
    const own = await PostgresMetadataStore.open({ connectionString: url, schema });
    await own.close();
    const error = await failure(own.listProjects());
    expect(error).toBeInstanceOf(FeatureStoreError);
    expect((error as FeatureStoreError).code).toBe('UNAVAILABLE');
    expect((error as FeatureStoreError).retryable).toBe(false);
    expect((error as Error).message).toMatch(/is closed/);
    await expect(own.transaction(async () => 1)).rejects.toThrow(/is closed/);
    await own.close();
  });

  it('the tx object refuses work after its transaction ended', async () => {
    let leaked: Parameters<Parameters<typeof store.transaction>[0]>[0] | undefined;
    await store.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.listUsers()).rejects.toThrow(/transaction has ended/);
  });

  it('refuses calls on the store from inside its own transaction callback', async () => {
    await expect(
      store.transaction(async () => {
        await store.listUsers();
      }),
    ).rejects.toThrow(/inside its own transaction callback: make every call .* on its tx/);
    await expect(store.transaction(() => store.transaction(async () => 1))).rejects.toThrow(
      /inside its own transaction callback/,
    );
    // Work the callback started may use the store once the transaction is over.
    let over!: () => void;
    const transactionOver = new Promise<void>((resolve) => {
      over = resolve;
    });
    let later: Promise<unknown> | undefined;
    await store.transaction(async () => {
      later = transactionOver.then(() => store.listUsers());
    });
    over();
    await expect(later).resolves.toMatchObject({ items: [] });
  });

  it('rejects an invalid schema name before connecting', async () => {
    for (const bad of ['Bad', 'pg_catalog', 'a-b', '', 'x'.repeat(64)]) {
      await expect(
        PostgresMetadataStore.open({ connectionString: url, schema: bad }),
      ).rejects.toBeInstanceOf(ValidationError);
    }
  });
});

describe('an injected PGlite', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'featurestore-pglite-injected-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is used as it is and stays open after close()', async () => {
    const db = await PGlite.create(dir);
    try {
      const own = await PostgresMetadataStore.open({ pglite: db, schema: 'injected' });
      expect(own.driver).toBe('pglite');
      expect((await own.listProjects()).items).toEqual([]);
      // With one connection, a store call inside the transaction would wait forever: it fails.
      await expect(own.transaction(() => own.listUsers())).rejects.toThrow(/tx argument/);
      await own.close();
      const tables = await db.query<{ name: string }>(
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'injected' ORDER BY 1",
      );
      expect(tables.rows.map((row) => row.name)).toEqual([
        'access_tokens',
        'consumer_offsets',
        'feature_set_versions',
        'feature_sets',
        'ingestions',
        'jobs',
        'pending_online_applies',
        'permissions',
        'projects',
        'schema_migrations',
        'users',
      ]);
    } finally {
      await db.close();
    }
  });
});
