import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NotSupportedError, ValidationError } from '../errors.js';
import type { DataFormat } from '../ports/compute-engine.js';
import { listAll } from '../storage/object-keys.js';
import {
  isRemoteUri,
  type LocatedObject,
  type StorageLocator,
  storageRoot,
} from './storage-locator.js';

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
 * Expands a source (a file, or a folder of files; local or in a storage that `locate`
 * knows) into the files to read and their format. Files of several formats in one folder
 * are an error unless `format` picks one.
 */
export async function resolveSource(
  source: string,
  format?: DataFormat,
  locate?: StorageLocator,
): Promise<ResolvedSource> {
  if (isRemoteUri(source)) {
    const located = locate?.(source);
    if (!located) {
      throw new NotSupportedError(`source ${source}: no storage is configured for this scheme`, {
        details: { field: 'source', value: source },
      });
    }
    return resolveStoredSource(source, located, format);
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
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name);
  return pickFiles(source, names, format, (name) => pathToFileURL(join(path, name)).href);
}

/** A single object, or every object under the prefix (as a folder). */
async function resolveStoredSource(
  source: string,
  { storage, key }: LocatedObject,
  format?: DataFormat,
): Promise<ResolvedSource> {
  const base = storageRoot(storage);
  if (key !== '' && !key.endsWith('/') && (await storage.head(key))) {
    const detected = format ?? formatOfPath(key);
    if (!detected) {
      throw new ValidationError(
        `source ${source}: cannot tell its format from the name: pass --format csv|parquet|json`,
        { details: { field: 'format', value: source } },
      );
    }
    return { uris: [`${base}${key}`], format: detected };
  }
  const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
  const names: string[] = [];
  for await (const object of listAll(storage, prefix)) {
    const rest = object.key.slice(prefix.length);
    if (!rest.includes('/')) names.push(rest);
  }
  if (names.length === 0) {
    throw new ValidationError(`source ${source} does not exist: check the URL`, {
      details: { field: 'source', value: source },
    });
  }
  return pickFiles(source, names, format, (name) => `${base}${prefix}${name}`);
}

/** In a folder, hidden files and `_`-prefixed markers (`_SUCCESS`) are skipped. */
function pickFiles(
  source: string,
  all: readonly string[],
  format: DataFormat | undefined,
  uriOf: (name: string) => string,
): ResolvedSource {
  const names = all.filter((name) => !/^[._]/.test(name)).sort();
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
  return { uris: files.map(uriOf), format: chosen };
}
