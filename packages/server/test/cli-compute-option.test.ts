import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempStore } from './helpers.js';

/** `--compute URL` chooses where jobs run (issue 14), as --metadata, --online… choose parts. */
describe('featurestore --compute', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  beforeAll(async () => {
    store = await tempStore();
  });
  afterAll(async () => store?.remove());

  it('reaches the composition: an engine no driver provides is refused, naming it', async () => {
    const result = await cli(store.dir, '--compute', 'nosuch://x', 'project', 'list');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/nosuch/);
  });

  it('duckdb:// is the default engine, given or not', async () => {
    expect((await cli(store.dir, '--compute', 'duckdb://', 'project', 'list')).code).toBe(0);
  });

  it('is refused beside --endpoint: the server runs jobs on its own engine', async () => {
    const result = await cli(
      store.dir,
      '--endpoint',
      '127.0.0.1:1',
      '--compute',
      'spark://local[2]',
      'project',
      'list',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--compute configures a store opened by this command');
  });
});
