import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A store holds token hashes, e-mails and feature data (sensitive columns included): only its
 * owner may read it, whatever the process umask. Folders are created 0700 and files 0600.
 */
export const PRIVATE_FOLDER_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `path` and missing parents, each 0700; returns the first folder created, as `mkdir`. */
export function makePrivateFolder(path: string): Promise<string | undefined> {
  return mkdir(path, { recursive: true, mode: PRIVATE_FOLDER_MODE });
}

/**
 * Sets every folder under `root` (itself included) to 0700 and every file to 0600: a store
 * created before modes were set, or files a library created with its own modes (PGlite writes
 * 0666). Symbolic links are left alone (chmod would follow them out of the store); entries
 * removed while walking are skipped. Returns how many entries changed.
 */
export async function tightenModes(root: string): Promise<number> {
  let changed = 0;
  const visit = async (path: string): Promise<void> => {
    let info: import('node:fs').Stats;
    try {
      info = await lstat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const wanted = info.isDirectory()
      ? PRIVATE_FOLDER_MODE
      : info.isFile()
        ? PRIVATE_FILE_MODE
        : undefined;
    if (wanted === undefined) return;
    if (info.isDirectory()) {
      let names: string[] = [];
      try {
        names = await readdir(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      for (const name of names) await visit(join(path, name));
    }
    // A folder after its content: a walk cut short leaves `root` loose, so it is walked again.
    if ((info.mode & 0o777) !== wanted) {
      await chmod(path, wanted).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      changed += 1;
    }
  };
  await visit(root);
  return changed;
}
