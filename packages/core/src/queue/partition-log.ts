/** One message as a partition log stores it. */
export interface LogEntry {
  /** Position in the partition: 0, 1, 2… without gaps. */
  offset: number;
  /** Publish time in epoch milliseconds. */
  timestamp: number;
  key: string;
  value: Uint8Array;
  headers?: Record<string, string>;
}

export type NewLogEntry = Omit<LogEntry, 'offset'>;

/**
 * An append-only sequence of entries: one partition of one topic. Appends are serialized by
 * the log itself, so offsets follow the order of `append` calls.
 */
export interface PartitionLog {
  /** Offset of the oldest retained entry. */
  readonly start: number;
  /** Offset the next appended entry gets. */
  readonly end: number;
  /** Resolves, with the offset of the first entry, once they are stored (on disk, for a file log). */
  append(entries: readonly NewLogEntry[]): Promise<number>;
  /** Up to `max` entries from `from` on (from `start` when `from` is older than it). */
  read(from: number, max: number): Promise<LogEntry[]>;
  close(): Promise<void>;
}

/** A partition log in memory: the queue's test mode. */
export class MemoryPartitionLog implements PartitionLog {
  readonly start = 0;
  readonly #entries: LogEntry[] = [];

  get end(): number {
    return this.#entries.length;
  }

  async append(entries: readonly NewLogEntry[]): Promise<number> {
    const first = this.#entries.length;
    for (const entry of entries) {
      this.#entries.push({
        ...entry,
        offset: this.#entries.length,
        // The caller may reuse its buffer once publish resolves.
        value: new Uint8Array(entry.value),
        ...(entry.headers ? { headers: { ...entry.headers } } : {}),
      });
    }
    return first;
  }

  async read(from: number, max: number): Promise<LogEntry[]> {
    return this.#entries.slice(Math.max(from, this.start), Math.max(from, this.start) + max);
  }

  async close(): Promise<void> {}
}
