import { ValidationError } from '@featurestore/core/driver';
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
      // Inside strings, which hold most bytes, jump to the next quote, backslash or line
      // break (found natively, each position kept until passed).
      const end = chunk.length;
      const next = (byte: number, from: number) => {
        const at = chunk.indexOf(byte, from);
        return at < 0 ? end : at;
      };
      let quote = -1;
      let backslash = -1;
      let lineBreak = -1;
      for (let i = 0; i < end; i++) {
        if (inString) {
          if (escaped) {
            escaped = false;
            if (chunk[i] !== LF) continue;
          } else {
            if (quote < i) quote = next(QUOTE, i);
            if (backslash < i) backslash = next(BACKSLASH, i);
            if (lineBreak < i) lineBreak = next(LF, i);
            i = Math.min(quote, backslash, lineBreak);
            if (i === end) break;
            if (i === backslash) {
              escaped = true;
              continue;
            }
            if (i === quote) {
              inString = false;
              continue;
            }
            // A line break ends the line even inside a broken string: JSON strings hold none.
          }
        }
        const byte = chunk[i]!;
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
