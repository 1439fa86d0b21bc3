import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** What a sweep of local scratch files found (or removed). */
export interface StaleTemporary {
  count: number;
  bytes: number;
}

/**
 * Finds the scratch files of processes that are gone under a store's `tmp` folder: staging
 * (spill) folders of compute jobs and DuckDB's temporary files. An entry counts as stale when
 * nothing in it changed for `graceMs` (a running job keeps writing its own); with `dryRun`,
 * nothing is removed.
 */
export async function sweepStaleTemporary(
  tmpDir: string,
  options: { graceMs: number; dryRun: boolean },
): Promise<StaleTemporary> {
  const cutoff = Date.now() - options.graceMs;
  const found: StaleTemporary = { count: 0, bytes: 0 };
  const candidates = [
    ...(await entries(join(tmpDir, 'spill'))),
    ...(await entries(tmpDir)).filter((path) => path !== join(tmpDir, 'spill')),
  ];
  for (const path of candidates) {
    const usage = await usageOf(path);
    if (usage === undefined || usage.newest >= cutoff) continue;
    found.count += 1;
    found.bytes += usage.bytes;
    if (!options.dryRun) await rm(path, { recursive: true, force: true });
  }
  return found;
}

async function entries(folder: string): Promise<string[]> {
  const names = await readdir(folder).catch(() => [] as string[]);
  return names.map((name) => join(folder, name));
}

/** Bytes under `path` and its newest modification time; undefined when it vanished. */
async function usageOf(path: string): Promise<{ bytes: number; newest: number } | undefined> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return undefined;
  const usage = { bytes: info.isFile() ? info.size : 0, newest: info.mtimeMs };
  if (!info.isDirectory()) return usage;
  for (const child of await entries(path)) {
    const inner = await usageOf(child);
    if (!inner) continue;
    usage.bytes += inner.bytes;
    usage.newest = Math.max(usage.newest, inner.newest);
  }
  return usage;
}
