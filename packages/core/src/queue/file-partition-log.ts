import { type FileHandle, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE } from '../storage/private-modes.js';
import { makeFolder, syncDirectory } from './durable-files.js';
import type { LogEntry, NewLogEntry, PartitionLog } from './partition-log.js';

export interface FilePartitionLogOptions {
  /** Flush every append to disk before it resolves (`fdatasync`). */
  fsync: boolean;
  /** A segment is closed and a new one started once it holds this many bytes. */
  segmentBytes: number;
  /** Closed segments whose last write is older than this are deleted (milliseconds). */
  retentionMs: number;
  /** The clock retention is judged by (epoch milliseconds); tests pass their own. */
  now: () => number;
}

/** One line of a segment file. Values are base64: the file stays JSON Lines, readable by hand. */
interface StoredLine {
  /** offset */
  o: number;
  /** timestamp */
  t: number;
  /** key */
  k: string;
  /** value, base64 */
  v: string;
  /** headers */
  h?: Record<string, string>;
}

interface Segment {
  /** Offset of its first entry; also its file name, zero-padded. */
  base: number;
  path: string;
  /** Bytes of complete entries. */
  size: number;
  /**
   * When this process last appended to it, by the log's clock; for a segment of an earlier
   * process, its file's modification time stands in.
   */
  lastWriteMs?: number;
}

const SEGMENT_NAME = /^(\d{20})\.jsonl$/;
const NEWLINE = 0x0a;
/** Bytes read per call; a longer entry makes the read grow until its end. */
const READ_CHUNK = 1024 * 1024;
/** Remembered file positions of offsets where reads stopped, so the next read seeks. */
const POSITION_CACHE = 256;

/**
 * A partition log in a folder of segment files (`00000000000000000000.jsonl`, named by the
 * offset of their first entry), one JSON line per entry. Only the last segment is written:
 * appends go to its end and are flushed before they resolve; once it reaches `segmentBytes`
 * a new segment starts, and closed segments past the retention are deleted. Opening checks the
 * last segment and cuts off an entry a crash left half written.
 */
export class FilePartitionLog implements PartitionLog {
  readonly #folder: string;
  readonly #options: FilePartitionLogOptions;
  readonly #segments: Segment[];
  #writer: FileHandle;
  #end: number;
  /** Appends run one after the other, in call order. */
  #tail: Promise<void> = Promise.resolve();
  readonly #positions = new Map<number, number>();
  #closed = false;

  private constructor(
    folder: string,
    options: FilePartitionLogOptions,
    segments: Segment[],
    writer: FileHandle,
    end: number,
  ) {
    this.#folder = folder;
    this.#options = options;
    this.#segments = segments;
    this.#writer = writer;
    this.#end = end;
  }

  /** Opens (creating it when missing) the log in `folder`, recovering a torn last entry. */
  static async open(folder: string, options: FilePartitionLogOptions): Promise<FilePartitionLog> {
    await makeFolder(folder, options.fsync);
    const bases = (await readdir(folder))
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((base): base is string => base !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const segments: Segment[] = [];
    for (const base of bases.slice(0, -1)) {
      const path = join(folder, segmentName(base));
      segments.push({ base, path, size: (await stat(path)).size });
    }
    const lastBase = bases.at(-1) ?? 0;
    const lastPath = join(folder, segmentName(lastBase));
    const writer = await open(lastPath, 'a+', PRIVATE_FILE_MODE);
    try {
      const { size, count } = await recoverSegment(writer, lastBase);
      if (bases.length === 0 && options.fsync) await syncDirectory(folder);
      segments.push({ base: lastBase, path: lastPath, size });
      return new FilePartitionLog(folder, options, segments, writer, lastBase + count);
    } catch (error) {
      await writer.close();
      throw error;
    }
  }

  get start(): number {
    return this.#segments[0]!.base;
  }

  get end(): number {
    return this.#end;
  }

  append(entries: readonly NewLogEntry[]): Promise<number> {
    const run = this.#tail.then(() => this.#append(entries));
    this.#tail = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  async #append(entries: readonly NewLogEntry[]): Promise<number> {
    if (this.#closed) throw new Error(`the partition log in ${this.#folder} is closed`);
    const first = this.#end;
    if (entries.length === 0) return first;
    const text = entries
      .map((entry, i) => {
        const line: StoredLine = {
          o: this.#end + i,
          t: entry.timestamp,
          k: entry.key,
          v: Buffer.from(
            entry.value.buffer,
            entry.value.byteOffset,
            entry.value.byteLength,
          ).toString('base64'),
          ...(entry.headers && Object.keys(entry.headers).length > 0 ? { h: entry.headers } : {}),
        };
        return `${JSON.stringify(line)}\n`;
      })
      .join('');
    const bytes = Buffer.from(text, 'utf8');
    const segment = this.#segments.at(-1)!;
    try {
      let written = 0;
      while (written < bytes.length) {
        written += (await this.#writer.write(bytes, written, bytes.length - written)).bytesWritten;
      }
      if (this.#options.fsync) await this.#writer.datasync();
    } catch (error) {
      // Cut off whatever part did land, so the next append starts on a line boundary.
      await this.#writer.truncate(segment.size).catch(() => {});
      throw error;
    }
    segment.size += bytes.length;
    segment.lastWriteMs = this.#options.now();
    this.#end += entries.length;
    if (segment.size >= this.#options.segmentBytes) await this.#roll();
    return first;
  }

  /** Starts a new segment at the end, then deletes closed segments past the retention. */
  async #roll(): Promise<void> {
    const path = join(this.#folder, segmentName(this.#end));
    const writer = await open(path, 'a+', PRIVATE_FILE_MODE);
    if (this.#options.fsync) await syncDirectory(this.#folder);
    await this.#writer.close();
    this.#writer = writer;
    this.#segments.push({ base: this.#end, path, size: 0 });
    const horizon = this.#options.now() - this.#options.retentionMs;
    while (this.#segments.length > 1) {
      const oldest = this.#segments[0]!;
      const lastWrite = oldest.lastWriteMs ?? (await stat(oldest.path)).mtimeMs;
      if (lastWrite >= horizon) break;
      this.#segments.shift();
      await rm(oldest.path, { force: true });
    }
  }

  async read(from: number, max: number): Promise<LogEntry[]> {
    const start = Math.max(from, this.start);
    const end = this.#end;
    if (start >= end || max <= 0) return [];
    const index = this.#segments.findLastIndex((segment) => segment.base <= start);
    const segment = this.#segments[index]!;
    const segmentEnd = this.#segments[index + 1]?.base ?? end;
    // Only bytes of complete appends: an append in progress is not visible yet.
    const size = segment.size;
    const handle = await open(segment.path, 'r').catch((error: NodeJS.ErrnoException) => {
      // Retention deleted the segment meanwhile: the read starts again at the new start.
      if (error.code === 'ENOENT' && segment !== this.#segments[index]) return undefined;
      throw error;
    });
    if (!handle) return this.read(from, max);
    try {
      let position =
        start === segment.base
          ? 0
          : (this.#positions.get(start) ?? (await skipLines(handle, start - segment.base, size)));
      const entries: LogEntry[] = [];
      let offset = start;
      let chunkSize = READ_CHUNK;
      while (entries.length < max && offset < segmentEnd && position < size) {
        const chunk = Buffer.alloc(Math.min(chunkSize, size - position));
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
        if (bytesRead === 0) break;
        let lineStart = 0;
        for (
          let newline = chunk.indexOf(NEWLINE);
          newline >= 0 && newline < bytesRead && entries.length < max;
          newline = chunk.indexOf(NEWLINE, lineStart)
        ) {
          entries.push(parseLine(chunk.subarray(lineStart, newline), offset, segment.path));
          offset++;
          lineStart = newline + 1;
        }
        if (lineStart === 0) {
          // One entry longer than the chunk: read again with room for it.
          if (bytesRead < chunk.length) break;
          chunkSize *= 2;
          continue;
        }
        // A partial line at the chunk's end is read again, whole, by the next round.
        position += lineStart;
      }
      this.#remember(offset, position, offset < segmentEnd);
      return entries;
    } finally {
      await handle.close();
    }
  }

  #remember(offset: number, position: number, inSegment: boolean): void {
    if (!inSegment) return;
    this.#positions.delete(offset);
    this.#positions.set(offset, position);
    if (this.#positions.size > POSITION_CACHE) {
      this.#positions.delete(this.#positions.keys().next().value!);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#tail;
    this.#closed = true;
    await this.#writer.close();
  }
}

function segmentName(base: number): string {
  return `${String(base).padStart(20, '0')}.jsonl`;
}

function parseLine(bytes: Buffer, offset: number, path: string): LogEntry {
  const line = JSON.parse(bytes.toString('utf8')) as StoredLine;
  if (line.o !== offset) {
    throw new Error(`${path} is corrupt: expected offset ${offset}, found ${line.o}`);
  }
  return {
    offset,
    timestamp: line.t,
    key: line.k,
    // A copy: small decoded Buffers are views into Node's shared pool.
    value: Uint8Array.from(Buffer.from(line.v, 'base64')),
    ...(line.h ? { headers: line.h } : {}),
  };
}

/** The byte position after the first `lines` lines of the file. */
async function skipLines(handle: FileHandle, lines: number, size: number): Promise<number> {
  let position = 0;
  let remaining = lines;
  const chunk = Buffer.alloc(Math.min(READ_CHUNK, size));
  while (remaining > 0 && position < size) {
    const { bytesRead } = await handle.read(
      chunk,
      0,
      Math.min(chunk.length, size - position),
      position,
    );
    if (bytesRead === 0) break;
    let index = -1;
    while (remaining > 0) {
      index = chunk.indexOf(NEWLINE, index + 1);
      if (index < 0 || index >= bytesRead) break;
      remaining--;
      if (remaining === 0) return position + index + 1;
    }
    position += bytesRead;
  }
  return position;
}

/**
 * Validates the last segment line by line and cuts it after the last sound entry: a crash in
 * the middle of an append leaves a partial line (or, without fsync, garbage) at the end.
 */
async function recoverSegment(
  handle: FileHandle,
  base: number,
): Promise<{ size: number; count: number }> {
  const content = await handle.readFile();
  let size = 0;
  let count = 0;
  for (
    let newline = content.indexOf(NEWLINE);
    newline >= 0;
    newline = content.indexOf(NEWLINE, size)
  ) {
    try {
      const line = JSON.parse(content.subarray(size, newline).toString('utf8')) as StoredLine;
      if (line.o !== base + count || typeof line.k !== 'string' || typeof line.v !== 'string')
        break;
    } catch {
      break;
    }
    size = newline + 1;
    count++;
  }
  if (size < content.length) {
    await handle.truncate(size);
    await handle.datasync();
  }
  return { size, count };
}
