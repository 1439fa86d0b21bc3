import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliJson, tempStore } from './helpers.js';

const WARNING =
  /^warning: --token shows the token to every user of this machine \(process listings\); use --token-file FILE or FEATURESTORE_TOKEN instead$/m;

describe('the access token from --token-file, FEATURESTORE_TOKEN or --token', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let secret: string;
  const file = (name: string) => join(store.dir, name);
  /** Alice's own token list names her token: the command ran as alice. */
  const asAlice = async (...auth: string[]) => {
    const result = await cli(store.dir, ...auth, '--json', 'token', 'list');
    return {
      ...result,
      names:
        result.code === 0
          ? JSON.parse(result.stdout).items.map((t: { name: string }) => t.name)
          : [],
    };
  };
  beforeAll(async () => {
    store = await tempStore();
    await cliJson(store.dir, 'user', 'create', 'alice');
    ({ secret } = await cliJson<{ secret: string }>(
      store.dir,
      'token',
      'create',
      '--name',
      'alices',
      '--user',
      'alice',
    ));
  });
  afterEach(() => {
    delete process.env.FEATURESTORE_TOKEN;
  });
  afterAll(async () => store.remove());

  it('reads the first line of --token-file, trimmed, and warns about nothing', async () => {
    await writeFile(file('token'), `  ${secret} \r\nsecond line is ignored\n`, { mode: 0o600 });
    const result = await asAlice('--token-file', file('token'));
    expect(result.code).toBe(0);
    expect(result.names).toEqual(['alices']);
    expect(result.stderr).toBe('');
  });

  it('takes FEATURESTORE_TOKEN without a warning', async () => {
    process.env.FEATURESTORE_TOKEN = secret;
    const result = await asAlice();
    expect(result.names).toEqual(['alices']);
    expect(result.stderr).toBe('');
  });

  it('still takes --token, with a one-line warning on stderr recommending the others', async () => {
    const result = await asAlice('--token', secret);
    expect(result.code).toBe(0);
    expect(result.names).toEqual(['alices']);
    expect(result.stderr).toMatch(WARNING);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('prefers --token-file to FEATURESTORE_TOKEN', async () => {
    process.env.FEATURESTORE_TOKEN = 'fst_not_a_token';
    await writeFile(file('token'), `${secret}\n`);
    expect((await asAlice('--token-file', file('token'))).names).toEqual(['alices']);
  });

  it.each([
    [
      'a missing file',
      async () => file('no-such-token'),
      /--token-file \S+no-such-token cannot be read: ENOENT/,
    ],
    [
      'an empty file',
      async () => writeFile(file('empty'), '').then(() => file('empty')),
      /--token-file \S+empty has no token on its first line/,
    ],
    [
      'a blank first line',
      async () => writeFile(file('blank'), ` \n${secret}\n`).then(() => file('blank')),
      /--token-file \S+blank has no token on its first line/,
    ],
    ['a folder', async () => store.dir, /--token-file \S+ cannot be read: EISDIR/],
  ])('refuses %s with a VALIDATION error naming the file', async (_case, make, message) => {
    const path = await make();
    const result = await cli(store.dir, '--token-file', path, 'token', 'list');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('[VALIDATION]');
  });

  it('refuses --token and --token-file together', async () => {
    await writeFile(file('token'), `${secret}\n`);
    const result = await cli(
      store.dir,
      '--token',
      secret,
      '--token-file',
      file('token'),
      'token',
      'list',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /--token and --token-file are both given: use one of them \[VALIDATION\]/,
    );
  });
});
