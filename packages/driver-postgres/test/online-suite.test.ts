import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onlineStoreConformance, serviceEnv, uniqueName } from '@featurestore/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { PostgresOnlineStore } from '../src/index.js';

const api = { describe, it, beforeAll, afterAll };

describe('online store on PGlite', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  onlineStoreConformance(api, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'featurestore-online-'));
    dirs.push(dir);
    return PostgresOnlineStore.open({ pgliteDir: dir, schema: 'online' });
  });
});

describe('online store on PostgreSQL', () => {
  const url = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');
  const schema = uniqueName('online');
  afterAll(async () => {
    const pool = new pg.Pool({ connectionString: url });
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });
  onlineStoreConformance(api, () => PostgresOnlineStore.open({ connectionString: url, schema }));
});

describe('online store on PostgreSQL, with small statements and pages', () => {
  const url = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');
  const schema = uniqueName('online_small');
  afterAll(async () => {
    const pool = new pg.Pool({ connectionString: url });
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });
  onlineStoreConformance(api, () =>
    PostgresOnlineStore.open({
      connectionString: url,
      schema,
      writeBatchSize: 7,
      scanPageSize: 10,
    }),
  );
});
