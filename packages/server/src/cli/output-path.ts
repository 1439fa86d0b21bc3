import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '@featurestore/core';
import type { FeatureStoreConfig } from '../config.js';
import { defaultStorageUrl } from '../storage-urls.js';

/**
 * Checks a local `--out` file before the job runs and returns its real path: its folder must
 * exist, and neither the file nor its folder (after symbolic links) may lie inside the store
 * folder or a local storage root. Writing there would overwrite the store's own data — a
 * committed Parquet part, which later reads would serve — or its metadata.
 */
export async function confinedOutputPath(out: string, config: FeatureStoreConfig): Promise<string> {
  const wanted = resolve(out);
  let folder: string;
  try {
    folder = await realpath(dirname(wanted));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ValidationError(
      code === 'ENOENT' || code === 'ENOTDIR'
        ? `--out ${out}: the folder ${dirname(wanted)} does not exist: create it first`
        : `--out ${out}: the folder ${dirname(wanted)} cannot be opened (${code}): choose another`,
      { cause: error, details: { field: 'out', value: out } },
    );
  }
  let path = resolve(folder, basename(wanted));
  const existing = await lstat(path).catch(() => undefined);
  if (existing?.isSymbolicLink()) {
    try {
      path = await realpath(path);
    } catch {
      // Where a dangling link points cannot be judged safely (it may point into the store).
      throw new ValidationError(
        `--out ${out} is a symbolic link to a file that does not exist: name the file itself`,
        { details: { field: 'out', value: out } },
      );
    }
  }
  if (existing?.isDirectory()) {
    throw new ValidationError(`--out ${out} is a folder: name a file (FILE.csv or FILE.parquet)`, {
      details: { field: 'out', value: out },
    });
  }
  for (const root of await protectedRoots(config)) {
    if (isInside(path, root)) {
      throw new ValidationError(
        `--out ${out} is inside the store's own folder ${root}: writing there could overwrite its data; choose a file outside it`,
        { details: { field: 'out', value: out } },
      );
    }
  }
  return path;
}

/** The store folder and a local storage root, as real paths (those that exist). */
async function protectedRoots(config: FeatureStoreConfig): Promise<string[]> {
  const store = resolve(config.store);
  const storage = config.storage ?? defaultStorageUrl(store);
  const roots = [store];
  if (storage.startsWith('file://')) roots.push(fileURLToPath(storage));
  const real = await Promise.all(roots.map((root) => realpath(root).catch(() => root)));
  return [...new Set([...roots, ...real])];
}

function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
