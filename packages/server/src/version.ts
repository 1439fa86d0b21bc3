import { readFileSync } from 'node:fs';

/** The server package's version, read from its package.json (works from src and dist). */
export const VERSION: string = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
).version;
