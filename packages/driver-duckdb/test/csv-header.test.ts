import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCsvHeader } from '../src/csv-header.js';

// The CSV header is read in JavaScript (RFC 4180) before DuckDB sees the file: names as
// written, plain and gzip; refusals name the header and never quote it.
const CASES: [string, string | Buffer, string[] | RegExp][] = [
  ['plain', 'a,b,c\n1,2,3\n', ['a', 'b', 'c']],
  ['CRLF', 'a,b\r\n1,2\r\n', ['a', 'b']],
  ['a BOM', '\uFEFFa,b\n', ['a', 'b']],
  ['no line end', 'a,b', ['a', 'b']],
  ['quoted names with commas and quotes', '"a,b","say ""hi""",c\n', ['a,b', 'say "hi"', 'c']],
  ['a quoted name last, CRLF', 'a,"b"\r\n1,2\r\n', ['a', 'b']],
  ['blanks kept', ' a , b\n', [' a ', ' b']],
  ['empty names', 'a,,\n', ['a', '', '']],
  ['a line break in a data row only', 'a,b\n"x\ny",2\n', ['a', 'b']],
  ['a line break in a name', '"a\nb",c\n', /column name with a line break/],
  ['an unclosed quote', '"a,b', /quoted name is not closed/],
  ['text after a closing quote', '"a"x,b\n', /not valid CSV/],
  ['not UTF-8', Buffer.from([0x61, 0x2c, 0xff, 0xfe, 0x0a]), /not UTF-8/],
  ['4,096 columns', `${Array.from({ length: 4096 }, (_, i) => `c${i}`).join(',')}\n`, /^$/],
  [
    '4,097 columns',
    `${Array.from({ length: 4097 }, (_, i) => `c${i}`).join(',')}\n`,
    /more than 4,096 columns/,
  ],
];

describe('CSV header', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'featurestore-csv-header-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each(CASES)('%s', async (label, content, expected) => {
    for (const gzip of [false, true]) {
      const path = join(root, `${label.replaceAll(/\W/g, '-')}-${gzip}.csv`);
      await writeFile(path, gzip ? gzipSync(content) : content);
      const header = readCsvHeader({ path, uri: `file://${path}`, name: 'h.csv' }, gzip);
      if (Array.isArray(expected)) {
        await expect(header).resolves.toEqual(expected);
      } else if (expected.source === '^$') {
        await expect(header).resolves.toHaveLength(4096);
      } else {
        await expect(header).rejects.toMatchObject({
          code: 'VALIDATION',
          message: expect.stringMatching(
            new RegExp(`^h\\.csv header \\(line 1\\) .*${expected.source}`),
          ),
        });
      }
    }
  });
});
