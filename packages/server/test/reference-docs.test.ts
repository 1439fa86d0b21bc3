import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REFERENCE_PAGES } from '../../../scripts/reference-docs.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Issue 17: the CLI and configuration references are generated from the code and kept current. */
describe('generated reference pages', () => {
  it.each(Object.entries(REFERENCE_PAGES))(
    '%s is what `npm run docs` makes (run it and commit)',
    async (page, generate) => {
      expect(
        await readFile(`${root}${page}`, 'utf8'),
        `${page} is out of date: run npm run docs`,
      ).toBe(generate());
    },
  );

  it('the configuration page lists every field of the config schema, and the CLI page every command', async () => {
    const configuration = REFERENCE_PAGES['docs/configuration.md']();
    for (const field of ['store', 'metadata', 'online', 'queue', 'storage', 'compute', 'drivers']) {
      expect(configuration).toContain(`| \`${field}\` |`);
    }
    const cli = REFERENCE_PAGES['docs/cli.md']();
    for (const command of ['project create', 'ingest', 'historical', 'online get', 'serve']) {
      expect(cli).toContain(`## featurestore ${command}\n`);
    }
  });
});
