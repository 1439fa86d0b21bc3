import { randomUUID } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '@featurestore/core';

interface Holder {
  pid: number;
  /** Start time of the process in clock ticks since boot (Linux), to detect PID reuse. */
  startTicks?: string;
  host: string;
  acquiredAt: string;
}

const LOCK_FILE = 'featurestore.lock';

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
 */
export class StoreLock {
  readonly #path: string;
  readonly #onExit = () => this.#releaseSync();

  private constructor(path: string) {
    this.#path = path;
    process.once('exit', this.#onExit);
  }

  /** Waits up to `waitMs` for a live holder to finish, then fails naming its PID. */
  static async acquire(folder: string, options: { waitMs?: number } = {}): Promise<StoreLock> {
    const dir = resolve(folder);
    await mkdir(dir, { recursive: true });
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
    for (;;) {
      try {
        const handle = await open(path, 'wx');
        await handle.writeFile(JSON.stringify(me));
        await handle.close();
        return new StoreLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = await readHolder(path);
      if (holder && !isAlive(holder)) {
        await removeStale(path, holder);
        continue;
      }
      if (Date.now() >= deadline) {
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
  }

  async release(): Promise<void> {
    process.removeListener('exit', this.#onExit);
    const holder = await readHolder(this.#path);
    if (holder?.pid === process.pid) await unlink(this.#path).catch(() => undefined);
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

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Holder;
  } catch {
    return undefined; // gone, or being written right now: the caller retries
  }
}

/**
 * Moves the stale file aside and checks it is the one judged stale: if another process
 * replaced it with a live lock in between, that lock is put back untouched.
 */
async function removeStale(path: string, stale: Holder): Promise<void> {
  const aside = `${path}.${randomUUID()}`;
  try {
    await rename(path, aside);
  } catch {
    return; // someone else moved it first
  }
  const moved = await readHolder(aside);
  if (moved && (moved.pid !== stale.pid || moved.acquiredAt !== stale.acquiredAt)) {
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}
