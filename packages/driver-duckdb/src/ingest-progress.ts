import { open, stat } from 'node:fs/promises';
import { isGzip } from './compressed-files.js';
import type { JobRun } from './job-run.js';
import type { SourceFile } from './sources.js';
import { literal } from './sql.js';

/** The engine's share of an ingestion each phase fills: reading headers, writing, statistics. */
const WRITE_FROM = 0.02;
const STATISTICS_FROM = 0.9;
/** Bytes of a text file read at each of three places to estimate its rows from its size. */
const SAMPLE_WINDOW_BYTES = 1 << 18;

interface Sized {
  bytes: number;
  /** Rows the file holds (exact for Parquet, estimated for text), when it can be told. */
  rows: number | undefined;
}

/**
 * The progress of an ingestion's `validate and write` phase in bytes of the source read (each
 * file's size times DuckDB's estimate of how far its scan is), rows (exact once a file is
 * written, estimated meanwhile), rows per second and the seconds left at that pace.
 */
export class IngestProgress {
  readonly #run: JobRun;
  readonly #files: Sized[];
  readonly #bytesTotal: number;
  readonly #started = performance.now();
  #bytesDone = 0;
  #rowsDone = 0;

  private constructor(run: JobRun, files: Sized[]) {
    this.#run = run;
    this.#files = files;
    this.#bytesTotal = files.reduce((sum, file) => sum + file.bytes, 0);
  }

  /** Measures the sources (sizes, and rows from Parquet footers or a sample of text). */
  static async of(run: JobRun, files: readonly SourceFile[]): Promise<IngestProgress> {
    const sized: Sized[] = [];
    for (const file of files) {
      const bytes = (await stat(file.path)).size;
      sized.push({ bytes, rows: await estimatedRows(run, file, bytes) });
    }
    return new IngestProgress(run, sized);
  }

  /** The phase begins: the job's fraction moves past the headers. */
  start(): void {
    this.#report(0, 0);
  }

  /** File `index` is `fraction` read, as DuckDB estimates it. */
  reading(index: number, fraction: number): void {
    const file = this.#files[index]!;
    const rows = file.rows === undefined ? undefined : this.#rowsDone + fraction * file.rows;
    this.#report(this.#bytesDone + fraction * file.bytes, rows);
  }

  /** File `index` is written with `rows` rows: the counts become exact. */
  written(index: number, rows: number): void {
    this.#bytesDone += this.#files[index]!.bytes;
    this.#rowsDone += rows;
    this.#report(this.#bytesDone, this.#rowsDone);
  }

  /** The statistics phase, from its start (`phaseFraction` 0) to its end (1, all rows). */
  statistics(phaseFraction: number, rows: number): void {
    this.#run.report({
      fraction: STATISTICS_FROM + phaseFraction * (1 - STATISTICS_FROM),
      phase: 'statistics',
      phaseFraction,
      rows,
    });
  }

  #report(bytesRead: number, rows: number | undefined): void {
    const seconds = (performance.now() - this.#started) / 1000;
    const phaseFraction = this.#bytesTotal > 0 ? Math.min(1, bytesRead / this.#bytesTotal) : 1;
    const bytesPerSecond = seconds > 0 ? bytesRead / seconds : 0;
    this.#run.report({
      fraction: WRITE_FROM + phaseFraction * (STATISTICS_FROM - WRITE_FROM),
      phase: 'validate and write',
      phaseFraction,
      bytesRead: Math.round(bytesRead),
      bytesTotal: this.#bytesTotal,
      ...(rows === undefined ? {} : { rows: Math.round(rows) }),
      ...(rows === undefined || seconds <= 0 ? {} : { rowsPerSecond: rows / seconds }),
      ...(bytesPerSecond > 0
        ? { etaSeconds: Math.max(0, this.#bytesTotal - bytesRead) / bytesPerSecond }
        : {}),
    });
  }
}

/**
 * A file's rows: Parquet's footer says; a text file's are its size divided by the bytes per
 * line of windows at its start, middle and end (none told for a compressed one, whose size
 * says little).
 */
async function estimatedRows(
  run: JobRun,
  file: SourceFile,
  bytes: number,
): Promise<number | undefined> {
  if (file.format === 'parquet') {
    const [row] = await run.query(
      `SELECT sum(num_rows) AS rows FROM parquet_file_metadata(${literal(file.path)})`,
    );
    return row?.rows === undefined || row.rows === null ? undefined : Number(row.rows);
  }
  if (await isGzip(file.path)) return undefined;
  const handle = await open(file.path, 'r');
  try {
    // Windows at the start, the middle and the end: ids and values grow along many files.
    const window = Math.min(SAMPLE_WINDOW_BYTES, bytes);
    const starts = [0, Math.floor((bytes - window) / 2), bytes - window];
    let sampled = 0;
    let lines = 0;
    const buffer = Buffer.alloc(window);
    for (const start of new Set(starts)) {
      const { bytesRead } = await handle.read(buffer, 0, window, start);
      sampled += bytesRead;
      for (let i = 0; i < bytesRead; i++) if (buffer[i] === 0x0a) lines++;
    }
    if (lines === 0 || sampled === 0) return undefined;
    const rows = Math.round((bytes * lines) / sampled);
    // A CSV's first line is its header.
    return file.format === 'csv' ? Math.max(0, rows - 1) : rows;
  } finally {
    await handle.close();
  }
}
