/*
 * Limits on input files, checked before DuckDB builds anything from a file: a file past them
 * would otherwise stall the process (100,000 CSV columns make one SQL column each) or crash it
 * (DuckDB's typed JSON reader recurses once per nesting level). README.md, "Limits", lists them.
 */

/** Columns of one source or entity file (CSV header fields, JSON keys, Parquet columns). */
export const MAX_COLUMNS = 4096;

/** Bytes of one CSV record or one JSON line (10 MB values fit). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * DuckDB's CSV read buffer (its default is 16 × `max_line_size`, 256 MiB per thread at this
 * limit, more than small memory limits allow): about its default size, and twice the longest
 * line, so a line never spans more than two buffers.
 */
export const CSV_BUFFER_BYTES = 2 * MAX_LINE_BYTES;

/** Nesting levels of one JSON line: the object is level 1, a list in it level 2. */
export const MAX_JSON_DEPTH = 64;

/** `33,554,432 bytes (32 MiB)` for messages. */
export function bytesText(bytes: number): string {
  return `${bytes.toLocaleString('en-US')} bytes (${bytes / (1024 * 1024)} MiB)`;
}
