import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliJson, tempStore } from './helpers.js';

const nines = `P${'9'.repeat(400)}D`;

describe('durations on the command line are finite and at most 100 years', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let schema: (timeToLive: string) => Promise<string>;
  beforeAll(async () => {
    store = await tempStore();
    await cliJson(store.dir, 'project', 'create', 'shop');
    schema = async (timeToLive) => {
      const path = join(store.dir, `schema-${Math.random().toString(36).slice(2)}.json`);
      await writeFile(
        path,
        JSON.stringify({
          primaryKey: ['id'],
          eventTime: 'ts',
          timeToLive,
          features: [
            { name: 'id', type: 'int64' },
            { name: 'ts', type: 'timestamp' },
          ],
        }),
      );
      return path;
    };
    await cliJson(
      store.dir,
      'featureset',
      'register',
      'shop',
      'kept',
      '--schema',
      await schema('P1D'),
    );
    await cliJson(store.dir, 'user', 'create', 'alice');
  });
  afterAll(async () => store.remove());

  it.each([
    [
      'a register TTL of 400 nines',
      async () => ['featureset', 'register', 'shop', 'a', '--schema', await schema(nines)],
      /timeToLive "P9+…" is longer than the limit of 100 years \(P36525D\)/,
    ],
    [
      'a register TTL of 100 years and a day',
      async () => ['featureset', 'register', 'shop', 'b', '--schema', await schema('P36526D')],
      /timeToLive "P36526D" is longer than the limit of 100 years/,
    ],
    [
      'an update TTL of 400 nines',
      async () => ['featureset', 'update', 'shop', 'kept', '--ttl', nines],
      /timeToLive "P9+…" is longer than the limit of 100 years/,
    ],
    [
      'a token expiry of eleven digits of days',
      async () => [
        'token',
        'create',
        '--name',
        'x',
        '--user',
        'alice',
        '--expires-in',
        'P99999999999D',
      ],
      /expiresIn "P99999999999D" is longer than the limit of 100 years/,
    ],
    [
      'a token expiry of 400 nines',
      async () => ['token', 'create', '--name', 'y', '--user', 'alice', '--expires-in', nines],
      /expiresIn "P9+…" is longer than the limit/,
    ],
    [
      'a jobs wait timeout that is not a number',
      async () => ['jobs', 'wait', 'job_x', '--timeout', 'soon'],
      /--timeout "soon" is not a number of seconds above zero and at most 100 years/,
    ],
    [
      'a jobs wait timeout of 1e400 seconds',
      async () => ['jobs', 'wait', 'job_x', '--timeout', '1e400'],
      /--timeout "1e400" is not a number of seconds/,
    ],
    [
      'an online push timeout below zero',
      async () => ['online', 'push', 'shop', 'kept', 'rows.jsonl', '--timeout', '-1'],
      /--timeout "-1" is not a number of seconds/,
    ],
  ])('%s is a VALIDATION error and changes nothing', async (_case, argv, message) => {
    const result = await cli(store.dir, ...(await argv()));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('[VALIDATION]');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    const sets = await cliJson<{ items: { name: string; timeToLive?: string }[] }>(
      store.dir,
      'featureset',
      'list',
      '--project',
      'shop',
    );
    expect(sets.items.map((set) => [set.name, set.timeToLive])).toEqual([['kept', 'P1D']]);
    const tokens = await cliJson<{ items: unknown[] }>(
      store.dir,
      'token',
      'list',
      '--user',
      'alice',
    );
    expect(tokens.items).toEqual([]);
  });

  it('keeps accepting the longest duration, 100 years', async () => {
    const token = await cliJson<{ token: { expiresAt: string } }>(
      store.dir,
      'token',
      'create',
      '--name',
      'century',
      '--user',
      'alice',
      '--expires-in',
      'P36525D',
    );
    const years = (Date.parse(token.token.expiresAt) - Date.now()) / (365.25 * 86_400_000);
    expect(Math.round(years)).toBe(100);
  });
});
