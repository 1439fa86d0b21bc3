import type { JobProgress } from '../ports/compute-engine.js';

const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/**
 * A progress report in words, as `jobs get` and the progress bar show it:
 * `validate and write 42% · 210 MB of 500 MB · 1,234,567 rows · 180,000 rows/s · ETA 16 s`.
 * Without a phase, the report's own message.
 */
export function progressMessage(progress: JobProgress): string | undefined {
  if (progress.phase === undefined) return progress.message;
  const parts = [
    progress.phaseFraction === undefined
      ? progress.phase
      : `${progress.phase} ${Math.floor(progress.phaseFraction * 100)}%`,
  ];
  if (progress.bytesRead !== undefined && progress.bytesTotal !== undefined) {
    parts.push(`${bytes(progress.bytesRead)} of ${bytes(progress.bytesTotal)}`);
  }
  if (progress.rows !== undefined) parts.push(`${COUNT.format(progress.rows)} rows`);
  if (progress.rowsPerSecond !== undefined) {
    parts.push(`${COUNT.format(progress.rowsPerSecond)} rows/s`);
  }
  if (progress.etaSeconds !== undefined) parts.push(`ETA ${duration(progress.etaSeconds)}`);
  if (progress.message !== undefined) parts.push(progress.message);
  return parts.join(' · ');
}

function bytes(count: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = count;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
