import { ValidationError } from '@featurestore/core/driver';
import { contentStream } from './compressed-files.js';
import type { KnownFile } from './duckdb-errors.js';
import { bytesText, MAX_COLUMNS, MAX_LINE_BYTES } from './input-limits.js';

/*
 * The header of a CSV file, read in JavaScript before DuckDB sees the file. DuckDB cannot
 * tell the header's field count by itself without a probe (`null_padding`, which its parallel
 * reader refuses when a later row holds a quoted line break), and a probe sized by the commas
 * of the first line would build one SQL column per comma of a 100,000-column line. Reading the
 * first record here stops at MAX_COLUMNS fields or MAX_LINE_BYTES bytes, whichever comes first.
 */

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function refuse(file: KnownFile, why: string, details: Record<string, unknown> = {}): never {
  throw new ValidationError(`${file.name} header (line 1) ${why}`, {
    details: { file: file.uri, line: 1, ...details },
  });
}

/** The bytes of the first record, without its line end; stops at the limits. */
async function firstRecord(file: KnownFile, gzip: boolean): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let fields = 1;
  let inQuotes = false;
  const stream = contentStream(file.path, gzip);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i]!;
        if (byte === QUOTE) inQuotes = !inQuotes;
        else if (inQuotes && (byte === LF || byte === CR)) {
          refuse(file, 'has a column name with a line break: write each name on the first line');
        } else if (!inQuotes && byte === COMMA && ++fields > MAX_COLUMNS) {
          refuse(
            file,
            `has more than ${MAX_COLUMNS.toLocaleString('en-US')} columns, the limit for one file: split the file's columns over several feature sets`,
            { limit: MAX_COLUMNS },
          );
        } else if (!inQuotes && byte === LF) {
          chunks.push(chunk.subarray(0, i));
          return Buffer.concat(chunks);
        }
        if (bytes + i >= MAX_LINE_BYTES) {
          refuse(
            file,
            `is longer than ${bytesText(MAX_LINE_BYTES)}, the limit for one line: is this a CSV file?`,
            { limit: MAX_LINE_BYTES },
          );
        }
      }
      bytes += chunk.length;
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  if (inQuotes) refuse(file, 'is not valid CSV: a quoted name is not closed');
  return Buffer.concat(chunks);
}

/**
 * The field names of the first record (RFC 4180: `"` quotes, doubled inside a quoted name; a
 * UTF-8 BOM is skipped; `\n` or `\r\n` ends it). Names are not trimmed.
 */
export async function readCsvHeader(file: KnownFile, gzip: boolean): Promise<string[]> {
  let record = await firstRecord(file, gzip);
  if (record.at(-1) === CR) record = record.subarray(0, -1);
  let text: string;
  try {
    text = utf8.decode(record);
  } catch {
    refuse(file, 'is not UTF-8 text: convert the file to UTF-8');
  }
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const names: string[] = [];
  let i = 0;
  for (;;) {
    let name = '';
    if (text[i] === '"') {
      for (i++; ; ) {
        const quote = text.indexOf('"', i);
        name += text.slice(i, quote);
        i = quote + 1;
        if (text[i] !== '"') break;
        name += '"';
        i++;
      }
      if (i < text.length && text[i] !== ',') {
        refuse(file, 'is not valid CSV: a quoted name must end at a comma or the end of the line');
      }
    } else {
      const comma = text.indexOf(',', i);
      const end = comma < 0 ? text.length : comma;
      name = text.slice(i, end);
      i = end;
    }
    names.push(name);
    if (i >= text.length) return names;
    i++; // the comma
  }
}
