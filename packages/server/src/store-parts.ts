import { randomUUID } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE, ValidationError } from '@featurestore/core';
import type { FeatureStoreConfig } from './config.js';
import { redactSecrets } from './redact-secrets.js';
import { defaultStorageUrl } from './storage-urls.js';

/** The file in an embedded store's folder that remembers the parts it was opened with. */
export const STORE_PARTS_FILE = 'store.json';

/**
 * The parts of an embedded store that live outside its metadata: where online values, pushed
 * rows and offline data are. `null` is the embedded default (the online store in PGlite, the
 * local log and the `data` folder inside the store). URLs are kept with their secrets blanked
 * (`redactSecrets`): a changed password is not a different part.
 */
export interface StoreParts {
  online: string | null;
  queue: string | null;
  storage: string | null;
}

const PARTS: readonly { part: keyof StoreParts; flag: string; fallback: string }[] = [
  { part: 'online', flag: '--online', fallback: 'the embedded online store (no --online)' },
  { part: 'queue', flag: '--queue', fallback: 'the local log in the store (no --queue)' },
  { part: 'storage', flag: '--storage', fallback: 'the data folder in the store (no --storage)' },
];

/** The parts `config` names for the store in `storeDir`. */
export function storePartsOf(config: FeatureStoreConfig, storeDir: string): StoreParts {
  const named = (url: string | undefined) => (url === undefined ? null : redactSecrets(url));
  return {
    online: named(config.online),
    queue: named(config.queue),
    storage:
      config.storage === undefined || config.storage === defaultStorageUrl(storeDir)
        ? null
        : redactSecrets(config.storage),
  };
}

/**
 * Binds an embedded store to the parts it is opened with: the first open writes them to
 * `<store>/store.json`; a later open naming other parts (a forgotten `--online`, which would
 * read an empty online store and answer nothing) is refused with a `ValidationError` naming
 * the part, the remembered and the given value — unless `rebind`, which remembers the new
 * parts from then on. Call it while holding the store's lock, before opening the parts; call
 * what it returns once they opened, to remember them (a URL that does not open is not).
 */
export async function bindStoreParts(
  storeDir: string,
  config: FeatureStoreConfig,
  options: { rebind?: boolean } = {},
): Promise<() => Promise<void>> {
  const file = join(storeDir, STORE_PARTS_FILE);
  const given = storePartsOf(config, storeDir);
  const remembered = await readParts(file, options.rebind === true);
  if (remembered && !options.rebind) {
    for (const { part, flag, fallback } of PARTS) {
      if (remembered[part] === given[part]) continue;
      const describe = (value: string | null) => (value === null ? fallback : value);
      throw new ValidationError(
        `the embedded store ${storeDir} was opened with ${part} ${describe(remembered[part])}, and is now given ${describe(given[part])}: pass the same ${flag} as before (or set it in the config file or environment), or add --rebind to use ${describe(given[part])} for this store from now on (${file} remembers it)`,
        {
          details: {
            field: part,
            remembered: remembered[part],
            given: given[part],
            file,
            flag,
          },
        },
      );
    }
    return async () => undefined;
  }
  if (remembered && PARTS.every(({ part }) => remembered[part] === given[part])) {
    return async () => undefined;
  }
  return () => writeAtomically(file, `${JSON.stringify(given, null, 2)}\n`);
}

/** The remembered parts; `undefined` when none are (or when `rebind` replaces a bad file). */
async function readParts(file: string, rebind: boolean): Promise<StoreParts | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Record<string, unknown> | null;
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      PARTS.every(({ part }) => parsed[part] === null || typeof parsed[part] === 'string')
    ) {
      return { online: parsed.online, queue: parsed.queue, storage: parsed.storage } as StoreParts;
    }
  } catch {
    // reported below
  }
  if (rebind) return undefined;
  throw new ValidationError(
    `${file} is not a valid record of the embedded store's parts (it should hold {"online", "queue", "storage"}, each a URL or null): add --rebind to write it again from the parts given now`,
    { details: { field: 'store.json', file } },
  );
}

/** Writes a complete file or none: a temporary file renamed into place. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temporary = `${file}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, text, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
    await rename(temporary, file);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}
