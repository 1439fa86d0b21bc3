import { serviceEnv } from '@featurestore/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('PostgreSQL test service', () => {
  const client = new pg.Client({ connectionString: serviceEnv('FEATURESTORE_TEST_POSTGRES_URL') });

  beforeAll(async () => {
    await client.connect();
  });

  afterAll(async () => {
    await client.end();
  });

  it('round-trips rows through a table', async () => {
    // A temporary table vanishes with the session, so nothing is left behind on failure.
    await client.query('CREATE TEMP TABLE smoke (id int PRIMARY KEY, name text NOT NULL)');
    await client.query('INSERT INTO smoke (id, name) VALUES ($1, $2), ($3, $4)', [
      1,
      'one',
      2,
      'two',
    ]);

    const { rows } = await client.query<{ id: number; name: string }>(
      'SELECT id, name FROM smoke ORDER BY id',
    );

    expect(rows).toEqual([
      { id: 1, name: 'one' },
      { id: 2, name: 'two' },
    ]);
  });
});
