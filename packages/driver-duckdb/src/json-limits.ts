import { ValidationError } from '@featurestore/core';
import { contentStream } from './compressed-files.js';
import type { KnownFile } from './duckdb-errors.js';
import { bytesText, MAX_JSON_DEPTH, MAX_LINE_BYTES } from './input-limits.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LF = 0x0a;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/**
 * Fails with a `ValidationError` naming the line when a line of a JSON-lines file nests deeper
 * than MAX_JSON_DEPTH or is longer than MAX_LINE_BYTES. Runs before DuckDB reads the file:
 * deep nesting has crashed DuckDB's JSON reader (a segmentation fault at depth 10,000), and
 * feature values never nest more than two levels (an object holding a list). One streaming
 * pass over the bytes; brackets inside strings do not count.
 */
export async function checkJsonLimits(file: KnownFile, gzip: boolean): Promise<void> {
  let line = 1;
  let lineBytes = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  const refuse = (why: string, limit: number): never => {
    throw new ValidationError(`${file.name} line ${line} ${why}`, {
      details: { file: file.uri, line, limit },
    });
  };
  const stream = contentStream(file.path, gzip);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let lineStart = -lineBytes;
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i]!;
        if (inString) {
          if (escaped) escaped = false;
          else if (byte === BACKSLASH) escaped = true;
          else if (byte === QUOTE) inString = false;
          // A line break ends the line even inside a broken string: JSON strings hold none.
          if (byte !== LF) continue;
        }
        if (byte === QUOTE) {
          inString = true;
        } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
          if (++depth > MAX_JSON_DEPTH) {
            refuse(
              `nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep, the limit: feature values are scalars or lists of scalars; remove the deep value`,
              MAX_JSON_DEPTH,
            );
          }
        } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
          depth = Math.max(0, depth - 1);
        } else if (byte === LF) {
          if (i - lineStart > MAX_LINE_BYTES) {
            refuse(
              `is longer than ${bytesText(MAX_LINE_BYTES)}, the limit for one line`,
              MAX_LINE_BYTES,
            );
          }
          line++;
          lineStart = i + 1;
          depth = 0;
          inString = false;
          escaped = false;
        }
      }
      lineBytes = chunk.length - lineStart;
      if (lineBytes > MAX_LINE_BYTES) {
        refuse(
          `is longer than ${bytesText(MAX_LINE_BYTES)}, the limit for one line`,
          MAX_LINE_BYTES,
        );
      }
    }
  } finally {
    stream.destroy();
  }
}
