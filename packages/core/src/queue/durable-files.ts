import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { makePrivateFolder, PRIVATE_FILE_MODE } from '../storage/private-modes.js';

/**
 * Replaces `path` with `data` so that a crash leaves the old or the new content, never a mix:
 * written to a temporary file, flushed, renamed over the target, and the folder flushed so
 * the rename itself survives a power loss.
 */
export async function writeFileAtomic(path: string, data: string, fsync: boolean): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temporary, 'w', PRIVATE_FILE_MODE);
    try {
      await handle.writeFile(data);
      if (fsync) await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  if (fsync) await syncDirectory(dirname(path));
}

/**
 * Flushes a folder's entries (new, renamed and deleted files) to disk. Platforms that cannot
 * open a folder for that (Windows) skip it.
 */
export async function syncDirectory(path: string): Promise<void> {
  let handle: import('node:fs/promises').FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    await handle.datasync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') {
      throw error;
    }
  } finally {
    await handle?.close();
  }
}

/**
 * Creates `path` (and missing parents, 0700 like every folder of a store); with `fsync`,
 * flushes the folders that gained an entry, so a new folder survives a power loss along with
 * the files written into it.
 */
export async function makeFolder(path: string, fsync: boolean): Promise<void> {
  const first = await makePrivateFolder(path);
  if (!fsync || first === undefined) return;
  for (let folder = path; ; folder = dirname(folder)) {
    await syncDirectory(dirname(folder));
    if (folder === first || dirname(folder) === folder) return;
  }
}
