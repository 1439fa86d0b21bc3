import { randomUUID } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import * as fsPromises from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PRIVATE_FILE_MODE, PRIVATE_FOLDER_MODE, UnavailableError } from '@featurestore/core';

interface Holder {
  pid: number;
  /** Start time of the process in clock ticks since boot (Linux), to detect PID reuse. */
  startTicks?: string;
  host: string;
  acquiredAt: string;
}

/**
 * The file operations the lock uses: `node:fs/promises` by default. A seam for tests that
 * inject faults (a full disk) that cannot be produced for real.
 */
export interface LockFiles {
  mkdir(path: string, options: { recursive: true; mode: number }): Promise<unknown>;
  writeFile(path: string, data: string, options: { flag: 'wx'; mode: number }): Promise<void>;
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  link(existing: string, path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<{ mtimeMs: number }>;
}

export interface AcquireOptions {
  /** How long to wait for a live holder (default 3,000 ms). */
  waitMs?: number;
  /** The file operations (tests inject faults here). */
  files?: LockFiles;
}

const LOCK_FILE = 'featurestore.lock';

/**
 * An unreadable lock file younger than this may still be being written by an older release,
 * which created the file first and wrote its contents afterwards; older, it is judged stale.
 * This release never shows a partly written lock (it links a complete file into place).
 */
const UNREADABLE_GRACE_MS = 1000;

/** Linux: field 22 of /proc/<pid>/stat. Elsewhere undefined (PID reuse goes undetected). */
function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function isAlive(holder: Holder): boolean {
  if (holder.host !== hostname()) return true; // cannot check another machine: assume it runs
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const ticks = processStartTicks(holder.pid);
  return holder.startTicks === undefined || ticks === undefined || ticks === holder.startTicks;
}

/**
 * The embedded store is one folder that one process owns at a time: PGlite has no lock of
 * its own (upstream issue #1106), and two processes on one folder corrupt it silently. A lock
 * file records the holder's PID; a holder that died (even by `kill -9`) is detected by its
 * PID and process start time, so a stale file never blocks the next open.
 *
 * The lock file appears complete or not at all: its contents are written to a temporary file
 * that is then hard-linked to the lock's name (which fails if the lock exists). A failure on
 * the way (a full disk) removes the temporary file and leaves no lock behind; a lock file that
 * cannot be read (empty or garbled, left by a crash of an older release) is stale.
 */
export class StoreLock {
  readonly #path: string;
  readonly #files: LockFiles;
  readonly #onExit = () => this.#releaseSync();

  private constructor(path: string, files: LockFiles) {
    this.#path = path;
    this.#files = files;
    process.once('exit', this.#onExit);
  }

  /** Waits up to `waitMs` for a live holder to finish, then fails naming its PID. */
  static async acquire(folder: string, options: AcquireOptions = {}): Promise<StoreLock> {
    const files = options.files ?? fsPromises;
    const dir = resolve(folder);
    const path = join(dir, LOCK_FILE);
    const me: Holder = {
      pid: process.pid,
      host: hostname(),
      acquiredAt: new Date().toISOString(),
      ...(processStartTicks(process.pid) === undefined
        ? {}
        : { startTicks: processStartTicks(process.pid)! }),
    };
    const deadline = Date.now() + (options.waitMs ?? 3000);
    try {
      // The store folder holds tokens' hashes and feature data: its owner's alone.
      await files.mkdir(dir, { recursive: true, mode: PRIVATE_FOLDER_MODE });
      for (;;) {
        if (await createComplete(files, path, JSON.stringify(me))) {
          await removeLeftovers(files, dir);
          return new StoreLock(path, files);
        }
        const found = await readLock(files, path);
        if (found === 'gone') continue;
        if (
          found.holder ? !isAlive(found.holder) : Date.now() - found.mtimeMs > UNREADABLE_GRACE_MS
        ) {
          await removeStale(files, path, found.text);
          continue;
        }
        if (Date.now() >= deadline) {
          const holder = found.holder;
          const who = holder
            ? `process ${holder.pid} on ${holder.host} (since ${holder.acquiredAt})`
            : 'another process';
          throw new UnavailableError(
            `the embedded store ${dir} is in use by ${who}: one process owns an embedded store at a time — wait for it to finish, or run \`featurestore serve\` or use PostgreSQL (--metadata postgres://…) for shared access`,
            { details: { store: dir, holderPid: holder?.pid } },
          );
        }
        await sleep(100);
      }
    } catch (error) {
      if (error instanceof UnavailableError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new UnavailableError(
        `cannot take the lock of the embedded store ${dir} (${path}): ${error instanceof Error ? error.message : String(error)}${code === 'ENOSPC' ? ' — the disk is full: free some space and retry' : ''}; no lock was left behind`,
        {
          details: { store: dir, file: path, ...(code === undefined ? {} : { errno: code }) },
          cause: error,
        },
      );
    }
  }

  async release(): Promise<void> {
    process.removeListener('exit', this.#onExit);
    const found = await readLock(this.#files, this.#path).catch(() => 'gone' as const);
    if (found !== 'gone' && found.holder?.pid === process.pid) {
      await this.#files.unlink(this.#path).catch(() => undefined);
    }
  }

  #releaseSync(): void {
    try {
      const holder = JSON.parse(readFileSync(this.#path, 'utf8')) as Holder;
      if (holder.pid === process.pid) unlinkSync(this.#path);
    } catch {
      // already gone
    }
  }
}

/**
 * Creates `path` holding `text` atomically: `false` when it already exists. Whatever fails,
 * the temporary file is removed and `path` is either complete and ours or untouched.
 */
async function createComplete(files: LockFiles, path: string, text: string): Promise<boolean> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  try {
    await files.writeFile(temporary, text, { flag: 'wx', mode: PRIVATE_FILE_MODE });
    await files.link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await files.unlink(temporary).catch(() => undefined);
  }
}

type FoundLock = 'gone' | { text: string; holder: Holder | undefined; mtimeMs: number };

async function readLock(files: LockFiles, path: string): Promise<FoundLock> {
  try {
    const { mtimeMs } = await files.stat(path);
    const text = await files.readFile(path, 'utf8');
    return { text, holder: parseHolder(text), mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const holder = JSON.parse(text) as Partial<Holder> | null;
    return typeof holder?.pid === 'number' && typeof holder.host === 'string'
      ? (holder as Holder)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes the temporary files of lock takers killed between writing and linking (or while
 * moving a stale lock aside). A live taker's file exists for a moment only: one older than
 * the grace is a dead one's.
 */
async function removeLeftovers(files: LockFiles, dir: string): Promise<void> {
  const names = await files.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(`${LOCK_FILE}.`) || !/\.(tmp|stale)$/.test(name)) continue;
    const path = join(dir, name);
    const { mtimeMs } = await files.stat(path).catch(() => ({ mtimeMs: Date.now() }));
    if (Date.now() - mtimeMs > UNREADABLE_GRACE_MS) await files.unlink(path).catch(() => undefined);
  }
}

/**
 * Moves the stale file aside and checks it is the one judged stale: if another process
 * replaced it with a live lock in between, that lock is put back untouched.
 */
async function removeStale(files: LockFiles, path: string, staleText: string): Promise<void> {
  const aside = `${path}.${randomUUID()}.stale`;
  try {
    await files.rename(path, aside);
  } catch {
    return; // someone else moved it first
  }
  const moved = await files.readFile(aside, 'utf8').catch(() => staleText);
  if (moved !== staleText) await files.link(aside, path).catch(() => undefined);
  await files.unlink(aside).catch(() => undefined);
}
