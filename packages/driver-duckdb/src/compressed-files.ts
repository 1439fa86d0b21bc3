import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/*
 * Gzip-compressed CSV and JSON lines (`.csv.gz`, or any name: the first bytes tell) are read
 * as they are: DuckDB decompresses them while reading, and the checks that read a file in
 * JavaScript first (the CSV header, the JSON limits) decompress as well.
 */

/** True when the file starts with the gzip magic bytes. */
export async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    return bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** The file's content as a byte stream, decompressed when it is gzip. */
export function contentStream(path: string, gzip: boolean): Readable {
  const raw = createReadStream(path);
  if (!gzip) return raw;
  const gunzip = createGunzip();
  raw.on('error', (error) => gunzip.destroy(error));
  return raw.pipe(gunzip);
}
