import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metadataStoreConformance, serviceEnv, uniqueName } from '@featurestore/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { PostgresMetadataStore } from '../src/index.js';

const api = { describe, it, beforeAll, afterAll };

describe('PGlite', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  metadataStoreConformance(api, async () => {
    dir = await mkdtemp(join(tmpdir(), 'featurestore-pglite-'));
    return PostgresMetadataStore.open({ pgliteDir: dir, schema: uniqueName('conformance') });
  });
});

describe('PostgreSQL', () => {
  const url = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');
  const schema = uniqueName('conformance');
  afterAll(async () => {
    const pool = new pg.Pool({ connectionString: url });
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });
  metadataStoreConformance(api, () =>
    PostgresMetadataStore.open({ connectionString: url, schema }),
  );
});
