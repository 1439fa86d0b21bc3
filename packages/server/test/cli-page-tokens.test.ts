import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempStore } from './helpers.js';

const keyset = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');

describe('a forged --page-token', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  beforeAll(async () => {
    store = await tempStore();
    // The first open creates the embedded database: slow on a busy machine, so not in a test.
    await cli(store.dir, 'project', 'list');
  });
  afterAll(async () => store.remove());

  it.each([
    ['featureset list', ['featureset', 'list'], 'garbage'],
    ['featureset list', ['featureset', 'list'], keyset(['a', 'not-a-uuid'])],
    ['project list', ['project', 'list'], keyset(['a\u0000'])],
    ['jobs list', ['jobs', 'list'], keyset(['1', '6f1c2a8e-0000-4000-8000-000000000000'])],
    ['jobs list', ['jobs', 'list'], keyset(['2026-01-01T00:00:00.000Z', 'nope'])],
  ])(
    '%s with forged token %# is a VALIDATION error naming the page token',
    async (_call, argv, token) => {
      const result = await cli(store.dir, ...argv, '--page-token', token);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^error: pageToken ".*" is not a token this listing returned: pass the nextPageToken of the previous page unchanged, or omit it to start over \[VALIDATION\]\n$/,
      );
    },
  );
});
