import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { NotFoundError, ValidationError } from '../errors.js';
import type {
  ByteRange,
  ListOptions,
  ListPage,
  ObjectBody,
  ObjectInfo,
  ObjectStorage,
} from '../ports/object-storage.js';
import { toReadable } from './object-body.js';
import {
  listPageLimit,
  rangeAtOrPastEnd,
  validateByteRange,
  validateListPrefix,
  validateObjectKey,
} from './object-keys.js';
import { makePrivateFolder, PRIVATE_FILE_MODE } from './private-modes.js';

/** Writes land here first and are renamed into place, so readers never see half a file. */
const STAGING = '.staging';
const DEFAULT_PAGE = 1000;

/**
 * `ObjectStorage` on a local folder: the embedded default (`file://./.featurestore/data`).
 * Folders it creates are 0700 and files 0600: data files hold the features, sensitive ones too.
 *
 * @example
 * const storage = new LocalFileStorage('/var/lib/featurestore/data');
 * await storage.put('featuresets/1/v1/part-0.parquet', bytes);
 */
export class LocalFileStorage implements ObjectStorage {
  readonly driver = 'local';
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  uri(key: string): string {
    return pathToFileURL(this.#path(key)).href;
  }

  /** The local path of a key; compute engines on this machine read it directly. */
  pathOf(key: string): string {
    return this.#path(key);
  }

  async put(key: string, body: ObjectBody): Promise<ObjectInfo> {
    const target = this.#path(key);
    const staged = join(this.#root, STAGING, randomUUID());
    await makePrivateFolder(dirname(staged));
    try {
      await pipeline(toReadable(body), createWriteStream(staged, { mode: PRIVATE_FILE_MODE }));
      await makePrivateFolder(dirname(target));
      await rename(staged, target);
    } catch (error) {
      await rm(staged, { force: true });
      throw error;
    }
    const info = await stat(target);
    return { key, size: info.size, lastModified: info.mtime };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    if (range) validateByteRange(range, key);
    const path = this.#path(key);
    const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
      throw this.#convert(error, key);
    });
    if (!range) return handle.createReadStream();
    if (range.length === 0 || range.offset > 0) {
      const { size } = await handle.stat();
      if (range.length === 0 || range.offset >= size) {
        await handle.close();
        if (range.offset > size) rangeAtOrPastEnd(key, range, size);
        return Readable.from([]);
      }
    }
    return handle.createReadStream({
      start: range.offset,
      ...(range.length === undefined ? {} : { end: range.offset + range.length - 1 }),
    });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.#path(key));
      return info.isFile() ? { key, size: info.size, lastModified: info.mtime } : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    validateListPrefix(prefix);
    const limit = listPageLimit(options, DEFAULT_PAGE);
    // Start at the deepest folder the prefix names completely; filter the rest by key.
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    const keys: string[] = [];
    await this.#walk(base, (key) => {
      if (
        key.startsWith(prefix) &&
        (options.cursor === undefined || byteOrder(key, options.cursor) > 0)
      ) {
        keys.push(key);
      }
    });
    keys.sort(byteOrder);
    const pageKeys = keys.slice(0, limit);
    const objects = await Promise.all(
      pageKeys.map(async (key) => {
        const info = await stat(this.#path(key));
        return { key, size: info.size, lastModified: info.mtime };
      }),
    );
    const last = pageKeys.at(-1);
    return keys.length > limit && last !== undefined ? { objects, cursor: last } : { objects };
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const path = this.#path(key);
      await rm(path, { force: true });
      await this.#pruneEmptyParents(dirname(path));
    }
  }

  async rename(from: string, to: string): Promise<void> {
    const target = this.#path(to);
    await makePrivateFolder(dirname(target));
    await rename(this.#path(from), target).catch((error: NodeJS.ErrnoException) => {
      throw this.#convert(error, from);
    });
    await this.#pruneEmptyParents(dirname(this.#path(from)));
  }

  #path(key: string): string {
    validateObjectKey(key);
    if (key === STAGING || key.startsWith(`${STAGING}/`)) {
      throw new ValidationError(`object key ${JSON.stringify(key)} is reserved for staging`, {
        details: { field: 'key', value: key },
      });
    }
    return join(this.#root, ...key.split('/'));
  }

  async #walk(folder: string, visit: (key: string) => void): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(folder === '' ? this.#root : join(this.#root, ...folder.split('/')), {
        withFileTypes: true,
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const key = folder === '' ? entry.name : `${folder}/${entry.name}`;
      if (folder === '' && entry.name === STAGING) continue;
      if (entry.isDirectory()) await this.#walk(key, visit);
      else if (entry.isFile()) visit(key);
    }
  }

  /** Empty folders left by deletes would slow every later listing. */
  async #pruneEmptyParents(folder: string): Promise<void> {
    let current = folder;
    while (current.startsWith(this.#root + sep)) {
      try {
        await rmdir(current);
      } catch {
        return; // not empty (or already gone): stop climbing
      }
      current = dirname(current);
    }
  }

  #convert(error: NodeJS.ErrnoException, key: string): Error {
    if (error.code === 'ENOENT' || error.code === 'EISDIR') {
      return new NotFoundError(`object ${JSON.stringify(key)} does not exist in ${this.#root}`, {
        cause: error,
        details: { key },
      });
    }
    return error;
  }
}

/** S3 and ADLS order keys by their UTF-8 bytes; local listings must agree. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
