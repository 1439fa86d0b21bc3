import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../src/input-limits.js';
import { checkJsonLimits } from '../src/json-limits.js';

// The streaming check that runs before DuckDB reads a JSON-lines file: depth counts brackets
// outside strings only (escaped quotes and backslashes included), across the 64 KiB chunks the
// file is read in, and starts again on each line.
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const padding = 'x'.repeat(65_530);

const CASES: [string, string, RegExp | undefined][] = [
  ['depth 64 (the object and 63 arrays)', `{"a":${nested(MAX_JSON_DEPTH - 1)}}\n`, undefined],
  ['depth 65', `{"a":1}\n{"a":${nested(MAX_JSON_DEPTH)}}\n`, /line 2 nests .* more than 64 levels/],
  ['brackets inside a string', `{"a":"${'['.repeat(1000)}"}\n`, undefined],
  ['an escaped quote before brackets in a string', `{"a":"\\"${'{'.repeat(1000)}"}\n`, undefined],
  [
    'an escaped backslash ends the string before brackets',
    `{"a":"\\\\",${'"b":['.repeat(70)}1${']'.repeat(70)}}\n`,
    /line 1 nests/,
  ],
  ['depth starts again on each line', `${`{"a":${nested(40)}}\n`.repeat(3)}`, undefined],
  [
    'a broken string ends at its line',
    `{"a":"open\n{"b":${nested(MAX_JSON_DEPTH - 1)}}\n`,
    undefined,
  ],
  [
    'a string across the 64 KiB chunk boundary, brackets after it',
    `{"a":"${padding}\\"[[","b":${nested(MAX_JSON_DEPTH)}}\n`,
    /line 1 nests/,
  ],
  ['no line break at the end', `{"a":1}\n{"a":${nested(MAX_JSON_DEPTH)}}`, /line 2 nests/],
];

describe('JSON-lines limits before DuckDB reads the file', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'featurestore-json-limits-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each(CASES)('%s', async (label, content, refused) => {
    for (const gzip of [false, true]) {
      const path = join(root, `${label.replaceAll(' ', '-')}-${gzip}.jsonl`);
      await writeFile(path, gzip ? gzipSync(content) : content);
      const check = checkJsonLimits({ path, uri: `file://${path}`, name: 'f.jsonl' }, gzip);
      if (refused) {
        await expect(check).rejects.toMatchObject({
          code: 'VALIDATION',
          message: expect.stringMatching(refused),
          details: expect.objectContaining({ limit: MAX_JSON_DEPTH }),
        });
      } else {
        await expect(check).resolves.toBeUndefined();
      }
    }
  });
});
