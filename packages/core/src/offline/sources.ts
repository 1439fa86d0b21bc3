import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NotSupportedError, ValidationError } from '../errors.js';
import type { DataFormat } from '../ports/compute-engine.js';
import type { Principal } from '../ports/identity-provider.js';
import { listAll } from '../storage/object-keys.js';
import type { SourceAccess, SourceRole } from './source-access.js';
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

/**
 * The format a file name says (`.csv`, `.parquet`, `.jsonl`…); a `.gz` ending is looked through
 * (`day1.csv.gz` is CSV: the compute engine reads gzip by its content).
 */
export function formatOfPath(path: string): DataFormat | undefined {
  const name = path.toLowerCase();
  const extension = extname(name.endsWith('.gz') ? name.slice(0, -3) : name);
  return (Object.keys(EXTENSIONS) as DataFormat[]).find((format) =>
    EXTENSIONS[format].includes(extension),
  );
}

/** Who reads a source, under which policy: checked before anything is read. */
export interface SourceReader {
  principal: Principal;
  access: SourceAccess;
  /** What the file is read as, for messages (default `source`). */
  role?: SourceRole;
}

export interface ResolveSourceOptions {
  /** Overrides the format told by the file names. */
  format?: DataFormat | undefined;
  /** Finds the storage behind `s3://…`/`abfss://…` sources. */
  locate?: StorageLocator | undefined;
}

/**
 * Expands a source (a file, or a folder of files; local or in a storage that `locate`
 * knows) into the files to read and their format, after checking that `reader` may read
 * each of them (`SourceAccess`). Local files are returned by their real path, the one that
 * was checked. Files of several formats in one folder are an error unless `format` picks one.
 */
export async function resolveSource(
  source: string,
  reader: SourceReader,
  { format, locate }: ResolveSourceOptions = {},
): Promise<ResolvedSource> {
  const role = reader.role ?? 'source';
  if (isRemoteUri(source)) {
    reader.access.checkUri(reader.principal, role, source, source);
    const located = locate?.(source);
    if (!located) {
      throw new NotSupportedError(`${role} ${source}: no storage is configured for this scheme`, {
        details: { field: 'source', value: source },
      });
    }
    const resolved = await resolveStoredSource(source, located, format);
    for (const uri of resolved.uris) reader.access.checkUri(reader.principal, role, source, uri);
    return resolved;
  }
  const path = localPathOf(source, role);
  await reader.access.checkLocalPath(reader.principal, role, source, path);
  const real = await realpath(path).catch((error: NodeJS.ErrnoException) => {
    throw unreadable(source, role, error);
  });
  await reader.access.checkRealPath(reader.principal, role, source, real);
  const info = await stat(real).catch((error: NodeJS.ErrnoException) => {
    throw unreadable(source, role, error);
  });
  if (info.isFile()) {
    const detected = format ?? formatOfPath(path);
    if (!detected) {
      throw new ValidationError(
        `${role} ${source}: cannot tell its format from the name: pass --format csv|parquet|json`,
        { details: { field: 'format', value: source } },
      );
    }
    return { uris: [pathToFileURL(real).href], format: detected };
  }
  if (!info.isDirectory()) {
    throw new ValidationError(
      `${role} ${source} is not a regular file or a folder (it is a FIFO, socket or device): pass a regular file, or a folder of files`,
      { details: { field: 'source', value: source } },
    );
  }
  const entries = await readdir(real, { withFileTypes: true }).catch(
    (error: NodeJS.ErrnoException) => {
      throw unreadable(source, role, error);
    },
  );
  // Symbolic links are followed and judged by where they lead, like the folder itself.
  const files = new Map<string, string>();
  for (const entry of entries) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    const file = await realpath(join(real, entry.name)).catch(() => undefined);
    if (file === undefined || !(await stat(file).catch(() => undefined))?.isFile()) continue;
    files.set(entry.name, file);
  }
  const picked = pickFiles(source, [...files.keys()], format, (name) => files.get(name)!);
  for (const file of picked.uris) {
    await reader.access.checkRealPath(reader.principal, role, source, file);
  }
  return { ...picked, uris: picked.uris.map((file) => pathToFileURL(file).href) };
}

/** The absolute local path of a plain path or `file://` URL. */
function localPathOf(source: string, role: SourceRole): string {
  if (!source.startsWith('file://')) return resolve(source);
  try {
    return fileURLToPath(source);
  } catch (error) {
    throw new ValidationError(
      `${role} ${source} is not a local file URL: use file:///absolute/path`,
      { cause: error, details: { field: 'source', value: source } },
    );
  }
}

function unreadable(source: string, role: SourceRole, error: NodeJS.ErrnoException) {
  const missing = error.code === 'ENOENT' || error.code === 'ENOTDIR';
  return new ValidationError(
    missing
      ? `${role} ${source} does not exist: check the path`
      : `${role} ${source} cannot be read (${error.code ?? error.message}): check the path and its permissions`,
    { cause: error, details: { field: 'source', value: source } },
  );
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
