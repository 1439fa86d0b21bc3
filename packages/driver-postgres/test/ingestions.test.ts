import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeatureSet, Ingestion } from '@featurestore/core/driver';
import { serviceEnv, uniqueName } from '@featurestore/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresMetadataStore } from '../src/index.js';

// What the conformance suite cannot ask of every driver: ingestion commits in this driver's
// own terms (commit order, transactions that survive a duplicate key).

const url = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');

async function newFeatureSet(store: PostgresMetadataStore): Promise<FeatureSet> {
  const now = new Date();
  const project = await store.insertProject({
    id: randomUUID(),
    name: uniqueName('project'),
    description: '',
    ownerId: 'owner',
    tags: {},
    createdAt: now,
    updatedAt: now,
    revision: 1,
  });
  const id = randomUUID();
  return store.insertFeatureSet({
    id,
    featureSetId: id,
    projectId: project.id,
    projectName: project.name,
    name: uniqueName('features'),
    ownerId: 'owner',
    version: { major: 1, minor: 0 },
    latestVersion: { major: 1, minor: 0 },
    schema: {
      primaryKey: ['k'],
      eventTime: 'ts',
      features: [
        { name: 'k', type: 'string' },
        { name: 'ts', type: 'timestamp' },
      ],
    },
    description: '',
    tags: {},
    createdAt: now,
    updatedAt: now,
    createdBy: 'owner',
    changes: [],
    revision: 1,
  });
}

function newIngestion(
  featureSet: FeatureSet,
  idempotencyKey?: string,
): Omit<Ingestion, 'sequence' | 'state'> {
  const id = randomUUID();
  return {
    id,
    featureSetId: featureSet.id,
    major: 1,
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    source: 'inline',
    format: 'json',
    rowCount: 1,
    files: [`featuresets/${featureSet.id}/v1/${id}/part-0.parquet`],
    statistics: {},
    committedAt: new Date(),
    committedBy: 'owner',
  };
}

/** Whether `promise` settled within `ms` milliseconds. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timeout = new Promise<false>((resolve) => setTimeout(() => resolve(false), ms));
  return Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    timeout,
  ]);
}

function duplicateKeyCases(open: () => Promise<PostgresMetadataStore>) {
  let store: PostgresMetadataStore;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    await store?.close();
  });

  it('a duplicate key names the feature set, the key and the existing ingestion', async () => {
    const featureSet = await newFeatureSet(store);
    const key = 'batch "7", retry';
    const first = await store.commitIngestion(newIngestion(featureSet, key));
    const error = await store.commitIngestion(newIngestion(featureSet, key)).catch((e) => e);
    expect(error.code).toBe('ALREADY_EXISTS');
    expect(error.message).toBe(
      `feature set ${featureSet.id} already has an ingestion with idempotency key "batch \\"7\\", retry" (${first.id}): a retry with that key returns the existing ingestion; read it with getIngestionByIdempotencyKey instead of committing again`,
    );
    expect(error.details).toEqual({
      entity: 'ingestion',
      featureSetId: featureSet.id,
      idempotencyKey: key,
      existingId: first.id,
    });
  });

  it('a duplicate key inside a transaction leaves the transaction usable', async () => {
    const featureSet = await newFeatureSet(store);
    const first = await store.commitIngestion(newIngestion(featureSet, 'k'));
    const found = await store.transaction(async (tx) => {
      await expect(tx.commitIngestion(newIngestion(featureSet, 'k'))).rejects.toMatchObject({
        code: 'ALREADY_EXISTS',
      });
      return tx.getIngestionByIdempotencyKey(featureSet.id, 'k');
    });
    expect(found).toEqual(first);
  });
}

describe('ingestions on PostgreSQL', () => {
  const schema = uniqueName('ingestions');
  let pool: pg.Pool;
  let store: PostgresMetadataStore;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url });
    store = await PostgresMetadataStore.open({ pool, schema });
  });
  afterAll(async () => {
    await store?.close();
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  duplicateKeyCases(() => PostgresMetadataStore.open({ pool, schema }));

  it('a commit waits for a transaction that committed an ingestion: sequence order is commit order', async () => {
    const featureSet = await newFeatureSet(store);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inTransaction!: (sequence: number) => void;
    const firstSequence = new Promise<number>((resolve) => {
      inTransaction = resolve;
    });
    const first = store.transaction(async (tx) => {
      inTransaction((await tx.commitIngestion(newIngestion(featureSet))).sequence);
      await gate;
    });
    const earlier = await firstSequence;
    const second = store.commitIngestion(newIngestion(featureSet));
    // Without the lock the second commit would take a greater sequence and become visible
    // before the first, smaller one: a reader would see sequence order differ from commit order.
    expect(await settlesWithin(second, 300)).toBe(false);
    expect(await store.listIngestions(featureSet.id)).toEqual([]);
    release();
    await first;
    const later = await second;
    expect(later.sequence).toBeGreaterThan(earlier);
    const listed = await store.listIngestions(featureSet.id);
    expect(listed.map((ingestion) => ingestion.sequence)).toEqual([earlier, later.sequence]);
  });

  it('stores in other schemas do not wait for each other', async () => {
    const otherSchema = uniqueName('ingestions_other');
    const other = await PostgresMetadataStore.open({ pool, schema: otherSchema });
    try {
      const featureSet = await newFeatureSet(store);
      const otherSet = await newFeatureSet(other);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let committed!: () => void;
      const inTransaction = new Promise<void>((resolve) => {
        committed = resolve;
      });
      const held = store.transaction(async (tx) => {
        await tx.commitIngestion(newIngestion(featureSet));
        committed();
        await gate;
      });
      await inTransaction;
      expect(await settlesWithin(other.commitIngestion(newIngestion(otherSet)), 5000)).toBe(true);
      release();
      await held;
    } finally {
      await other.close();
      await pool.query(`DROP SCHEMA IF EXISTS "${otherSchema}" CASCADE`);
    }
  });
});

describe('ingestions on PGlite', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'featurestore-pglite-ingestions-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  duplicateKeyCases(() => PostgresMetadataStore.open({ pgliteDir: dir }));
});
