import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NotSupportedError, ValidationError } from '../errors.js';
import type { DataFormat } from '../ports/compute-engine.js';

const EXTENSIONS: Record<DataFormat, readonly string[]> = {
  csv: ['.csv'],
  parquet: ['.parquet', '.pq'],
  json: ['.json', '.jsonl', '.ndjson'],
};

export interface ResolvedSource {
  /** The files to read, in name order. */
  uris: string[];
  format: DataFormat;
}

export function formatOfPath(path: string): DataFormat | undefined {
  const extension = extname(path).toLowerCase();
  return (Object.keys(EXTENSIONS) as DataFormat[]).find((format) =>
    EXTENSIONS[format].includes(extension),
  );
}

/**
 * Expands a source (a file, or a folder of files) into the files to read and their format.
 * In a folder, hidden files and `_`-prefixed markers (`_SUCCESS`) are skipped; files of
 * several formats are an error unless `format` picks one.
 */
export async function resolveSource(source: string, format?: DataFormat): Promise<ResolvedSource> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) && !source.startsWith('file://')) {
    throw new NotSupportedError(
      `source ${source}: only local files and file:// URLs can be ingested so far (S3 and ADLS sources come with their storage drivers)`,
      { details: { field: 'source', value: source } },
    );
  }
  const path = source.startsWith('file://') ? fileURLToPath(source) : resolve(source);
  const info = await stat(path).catch(() => undefined);
  if (!info) {
    throw new ValidationError(`source ${source} does not exist: check the path`, {
      details: { field: 'source', value: source },
    });
  }
  if (info.isFile()) {
    const detected = format ?? formatOfPath(path);
    if (!detected) {
      throw new ValidationError(
        `source ${source}: cannot tell its format from the name: pass --format csv|parquet|json`,
        { details: { field: 'format', value: source } },
      );
    }
    return { uris: [pathToFileURL(path).href], format: detected };
  }
  const names = (await readdir(path, { withFileTypes: true }))
    .filter((entry) => entry.isFile() && !/^[._]/.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  const formats = new Set(names.map(formatOfPath).filter((f) => f !== undefined));
  const chosen = format ?? (formats.size === 1 ? [...formats][0] : undefined);
  if (!chosen) {
    throw new ValidationError(
      formats.size === 0
        ? `source folder ${source} holds no CSV, Parquet or JSON files`
        : `source folder ${source} mixes formats (${[...formats].join(', ')}): pass --format to pick one`,
      { details: { field: 'source', value: source } },
    );
  }
  const files = names.filter((name) => formatOfPath(name) === chosen);
  if (files.length === 0) {
    throw new ValidationError(`source folder ${source} holds no ${chosen} files`, {
      details: { field: 'source', value: source },
    });
  }
  return { uris: files.map((name) => pathToFileURL(join(path, name)).href), format: chosen };
}
