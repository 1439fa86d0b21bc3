import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  UnavailableError,
  ValidationError,
} from '@featurestore/core/driver';
import { serviceEnv, uniqueName } from '@featurestore/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertPostgresError, PostgresMetadataStore } from '../src/index.js';

const url = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');
const schema = uniqueName('errors');
let pool: pg.Pool;
let store: PostgresMetadataStore;

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

function project(name = uniqueName('project')) {
  const now = new Date();
  return {
    id: randomUUID(),
    name,
    description: '',
    ownerId: 'owner',
    tags: {},
    createdAt: now,
    updatedAt: now,
    revision: 1,
  };
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
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

describe('convertPostgresError with real PostgreSQL errors', () => {
  it('a duplicate name is an AlreadyExistsError naming the entity and the value', async () => {
    const fraud = project();
    await store.insertProject(fraud);
    const error = await failure(store.insertProject(project(fraud.name)));
    expect(error).toBeInstanceOf(AlreadyExistsError);
    expect((error as AlreadyExistsError).message).toMatch(
      new RegExp(`^project "${fraud.name}" already exists: choose another name`),
    );
    expect((error as AlreadyExistsError).details).toMatchObject({
      sqlstate: '23505',
      constraint: 'projects_name_key',
      entity: 'project',
      name: fraud.name,
    });
  });

  it('converts a raw pg error the same way', async () => {
    const taken = project();
    await store.insertProject(taken);
    const raw = await failure(
      pool.query(
        `INSERT INTO "${schema}".projects (id, name, owner_id, created_at, updated_at, revision)
         VALUES ($1, $2, 'x', now(), now(), 1)`,
        [randomUUID(), taken.name],
      ),
    );
    const converted = convertPostgresError(raw, { target: 'PostgreSQL at db:5432' });
    expect(converted).toBeInstanceOf(AlreadyExistsError);
    expect(converted.message).toContain(`project "${taken.name}" already exists`);
    expect(converted.cause).toBe(raw);
  });

  it('a missing referenced row is a NotFoundError naming what to create first', async () => {
    const ghost = randomUUID();
    const error = await failure(
      store.putPermission({
        projectId: ghost,
        userId: randomUUID(),
        role: 'viewer',
        grantedAt: new Date(),
        grantedBy: 'x',
      }),
    );
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toBe(
      `project ${ghost} does not exist: create it first, or check the id`,
    );
  });

  it('a malformed id is a ValidationError quoting the value', async () => {
    const error = await failure(store.getProject({ id: 'not-a-uuid' }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/rejected a value: .*"not-a-uuid"/);
  });

  it('a serialization failure is a ConflictError asking to retry the transaction', async () => {
    const table = `"${schema}".skew`;
    await pool.query(`CREATE TABLE ${table} (n int)`);
    const [a, b] = [await pool.connect(), await pool.connect()];
    try {
      for (const client of [a, b]) {
        await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
        await client.query(`SELECT count(*) FROM ${table}`);
      }
      await a.query(`INSERT INTO ${table} VALUES (1)`);
      await b.query(`INSERT INTO ${table} VALUES (2)`);
      await a.query('COMMIT');
      const raw = await failure(b.query('COMMIT'));
      const converted = convertPostgresError(raw);
      expect(converted).toBeInstanceOf(ConflictError);
      expect(converted.details.sqlstate).toBe('40001');
      expect(converted.message).toMatch(/retry the whole transaction/);
      expect(converted.retryable).toBe(true);
    } finally {
      await b.query('ROLLBACK').catch(() => {});
      a.release();
      b.release();
    }
  });

  it('a terminated connection is an UnavailableError', async () => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    await client.connect();
    const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await pool.query('SELECT pg_terminate_backend($1)', [pid]);
    const converted = convertPostgresError(await failure(client.query('SELECT 1')), {
      target: 'PostgreSQL at test',
    });
    await client.end().catch(() => {});
    expect(converted).toBeInstanceOf(UnavailableError);
    expect(converted.retryable).toBe(true);
    expect(converted.message).toMatch(/^cannot reach PostgreSQL at test: /);
  });

  it('a refused connection fails open() quickly with an UnavailableError naming the host', async () => {
    const port = await closedPort();
    const started = Date.now();
    const error = await failure(
      PostgresMetadataStore.open({
        connectionString: `postgres://nobody:secret@127.0.0.1:${port}/x`,
      }),
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error).toBeInstanceOf(UnavailableError);
    const message = (error as Error).message;
    expect(message).toContain(`cannot reach PostgreSQL at 127.0.0.1:${port}/x`);
    expect(message).toContain('ECONNREFUSED');
    expect(message).not.toContain('secret');
  });

  it('an unknown table is an INTERNAL error carrying the server message and a hint', async () => {
    const converted = convertPostgresError(
      await failure(pool.query('SELECT * FROM no_such_table')),
      {
        sql: 'SELECT * FROM no_such_table',
      },
    );
    expect(converted.code).toBe('INTERNAL');
    expect(converted.message).toMatch(/42P01: relation "no_such_table" does not exist/);
    expect(converted.message).toMatch(/PostgresMetadataStore\.open\(\)/);
    expect(converted.details.sql).toBe('SELECT * FROM no_such_table');
  });

  it('a FeatureStoreError passes through unchanged', () => {
    const original = new ConflictError('stale');
    expect(convertPostgresError(original)).toBe(original);
  });

  it('a deadlock is a ConflictError', () => {
    const converted = convertPostgresError(
      Object.assign(new Error('deadlock detected'), { code: '40P01' }),
    );
    expect(converted).toBeInstanceOf(ConflictError);
    expect(converted.message).toMatch(/deadlock/);
    expect(converted.retryable).toBe(true);
  });
});
