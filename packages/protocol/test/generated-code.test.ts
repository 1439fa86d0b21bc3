import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const committed = join(root, 'packages/protocol/src/gen');

/** Every file under `dir`, relative to it, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

describe('generated gRPC code', () => {
  const scratch = mkdtemp(join(tmpdir(), 'featurestore-gen-'));
  afterAll(async () => rm(await scratch, { recursive: true, force: true }));

  it('is what `npm run generate` makes from proto/ (run it and commit the result)', async () => {
    const out = await scratch;
    // The same command as `npm run generate`, writing under a scratch folder instead.
    await promisify(execFile)(join(root, 'node_modules/.bin/buf'), ['generate', '-o', out], {
      cwd: root,
    });
    const fresh = join(out, 'packages/protocol/src/gen');
    const files = await filesUnder(fresh);
    expect(files.length).toBeGreaterThan(0);
    expect(await filesUnder(committed)).toEqual(files);
    for (const file of files) {
      const expected = await readFile(join(fresh, file), 'utf8');
      const actual = await readFile(join(committed, file), 'utf8');
      expect(actual, `${file} is out of date: run npm run generate`).toBe(expected);
    }
  });

  it('has the descriptor set `npm run generate` builds from proto/ (what server reflection serves)', async () => {
    const out = join(await scratch, 'descriptor-set.binpb');
    // The second half of `npm run generate`, writing to the scratch folder.
    await promisify(execFile)(join(root, 'node_modules/.bin/buf'), ['build', 'proto', '-o', out], {
      cwd: root,
    });
    const committedSet = await readFile(join(root, 'packages/protocol/descriptor-set.binpb'));
    expect(
      committedSet.equals(await readFile(out)),
      'packages/protocol/descriptor-set.binpb is out of date: run npm run generate',
    ).toBe(true);
  });
});
