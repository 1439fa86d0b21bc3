import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PermissionDeniedError, ValidationError } from '../errors.js';
import type { Principal } from '../ports/identity-provider.js';
import { isRemoteUri } from './storage-locator.js';

/** What a file is read as, for messages: an ingestion source or a training set's entity file. */
export type SourceRole = 'source' | 'entity file';

export interface SourceAccessOptions {
  /**
   * Landing roots: absolute folders (or `file://` URLs) and URI prefixes (`s3://landing/`,
   * `abfss://fs@account.dfs.core.windows.net/in/`) under which callers other than the local
   * owner may read sources and entity files. None by default.
   */
  roots?: readonly string[];
  /**
   * The store's own files (its storage root, its metadata, queue and temporary folders):
   * nobody reads them as a source or entity file, the local owner included.
   */
  protected?: readonly string[];
}

interface Places {
  /** Absolute local folders, as given (lexically normalized). */
  local: string[];
  /** Normalized URIs, each ending with `/`. */
  uris: string[];
}

/**
 * Who may read which files as ingestion sources and entity files. The local owner of a store
 * (`via: 'local'`: an in-process caller, the CLI without a token) reads any local path or
 * configured storage; everyone else reads only under the landing roots. Nobody reads the
 * store's own data. Local paths are judged on their real path (symbolic links resolved), so a
 * link inside a root that leads outside it is refused.
 */
export class SourceAccess {
  readonly #roots: Places;
  readonly #protected: Places;
  /** Real paths of the configured folders, once they exist (a folder source checks many files). */
  readonly #realFolders = new Map<string, string>();

  constructor(options: SourceAccessOptions = {}) {
    this.#roots = places(options.roots ?? [], 'sources.roots');
    this.#protected = places(options.protected ?? [], 'protected');
  }

  /** The landing roots as configured, for messages and docs. */
  get roots(): string[] {
    return [...this.#roots.local, ...this.#roots.uris];
  }

  /**
   * Refuses, before the file system is touched, a local path a caller may not read even
   * lexically: whether it exists is none of their business.
   */
  async checkLocalPath(
    principal: Principal,
    role: SourceRole,
    given: string,
    path: string,
  ): Promise<void> {
    if (isLocalOwner(principal)) return;
    for (const root of this.#roots.local) {
      if (isWithin(root, path) || isWithin(await this.#real(root), path)) return;
    }
    throw this.#outsideRoots(principal, role, given);
  }

  /**
   * Refuses a file or folder by its real path (after `realpath`): outside every landing root
   * for a caller other than the local owner, or inside the store's own data for anyone.
   */
  async checkRealPath(
    principal: Principal,
    role: SourceRole,
    given: string,
    real: string,
  ): Promise<void> {
    for (const place of this.#protected.local) {
      if (isWithin(place, real) || isWithin(await this.#real(place), real)) {
        throw storeData(role, given);
      }
    }
    if (isLocalOwner(principal)) return;
    for (const root of this.#roots.local) {
      if (isWithin(await this.#real(root), real)) return;
    }
    throw this.#outsideRoots(principal, role, given, true);
  }

  /**
   * Refuses a storage URI (`s3://…`, `abfss://…`) under the store's own storage, or, for a
   * caller other than the local owner, outside every landing root. Compares normalized URIs
   * at `/` boundaries; `.`, `..` and empty segments are refused outright.
   */
  checkUri(principal: Principal, role: SourceRole, given: string, uri: string): void {
    const normalized = normalizeUri(uri, role);
    if (this.#protected.uris.some((place) => isUnderUri(place, normalized))) {
      throw storeData(role, given);
    }
    if (isLocalOwner(principal)) return;
    if (this.#roots.uris.some((root) => isUnderUri(root, normalized))) return;
    throw this.#outsideRoots(principal, role, given);
  }

  /** A configured folder's real path, or its lexical one while it does not exist. */
  async #real(folder: string): Promise<string> {
    const known = this.#realFolders.get(folder);
    if (known !== undefined) return known;
    const real = await realpath(folder).catch(() => undefined);
    if (real === undefined) return folder;
    this.#realFolders.set(folder, real);
    return real;
  }

  #outsideRoots(
    principal: Principal,
    role: SourceRole,
    given: string,
    throughLink = false,
  ): PermissionDeniedError {
    const roots = this.roots;
    const where =
      roots.length === 0
        ? 'no landing roots are configured, so none can be read: an administrator lists the folders and URI prefixes callers may read in sources.roots of the config (or FEATURESTORE_SOURCE_ROOTS)'
        : `the landing roots are ${roots.join(', ')}: put the file under one of them, or have an administrator add its folder to sources.roots of the config (or FEATURESTORE_SOURCE_ROOTS)`;
    return new PermissionDeniedError(
      `user "${principal.name}" may not read ${role} ${given}${throughLink ? ': it leads outside the landing roots through a symbolic link' : ''}: callers signed in with a token or OIDC read ${role}s only under the landing roots; ${where}`,
      { details: { field: role === 'source' ? 'source' : 'entities', value: given } },
    );
  }
}

/** The in-process caller or the CLI user without a token: the owner of the machine's files. */
function isLocalOwner(principal: Principal): boolean {
  return principal.via === 'local';
}

function storeData(role: SourceRole, given: string): PermissionDeniedError {
  return new PermissionDeniedError(
    `${role} ${given} is inside the store's own files (its data, metadata, queue or temporary folders), which are never read as a ${role}: read a feature set's data with retrieve, and ingest from a copy kept elsewhere`,
    { details: { field: role === 'source' ? 'source' : 'entities', value: given } },
  );
}

function places(list: readonly string[], field: string): Places {
  const result: Places = { local: [], uris: [] };
  for (const entry of list) {
    if (isRemoteUri(entry)) {
      const normalized = normalizeUri(entry, field);
      result.uris.push(normalized.endsWith('/') ? normalized : `${normalized}/`);
    } else if (entry.startsWith('file://')) {
      result.local.push(resolve(fileURLToPath(entry)));
    } else if (isAbsolute(entry)) {
      result.local.push(resolve(entry));
    } else {
      throw new ValidationError(
        `${field}: ${JSON.stringify(entry)} must be an absolute folder or a file://, s3:// or abfss:// URL`,
        { details: { field, value: entry } },
      );
    }
  }
  return result;
}

/**
 * `scheme://authority/path` with the scheme and authority lowercased. Dot segments and empty
 * segments (`//`) are refused rather than resolved: object stores take keys literally, so
 * `s3://landing/../x` is not `s3://x`, and resolving it would only hide what is read.
 */
export function normalizeUri(uri: string, field: string): string {
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(uri);
  const invalid = (reason: string) =>
    new ValidationError(`${field} ${uri} is not a usable URL: ${reason}`, {
      details: { field, value: uri },
    });
  if (!match) throw invalid('it must look like scheme://bucket/path, without ? or #');
  const [, scheme = '', authority = '', path = ''] = match;
  if (authority === '') throw invalid('the bucket or filesystem is missing');
  const segments = path.split('/').slice(1);
  const inner = path.endsWith('/') ? segments.slice(0, -1) : segments;
  if (inner.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw invalid('empty, "." and ".." path segments are not allowed');
  }
  return `${scheme.toLowerCase()}://${authority.toLowerCase()}${path}`;
}

/** True when `uri` is `root` (a prefix ending with `/`) or lies under it. */
function isUnderUri(root: string, uri: string): boolean {
  return uri.startsWith(root) || `${uri}/` === root;
}

/** True when `path` is `folder` or lies under it (absolute, normalized paths). */
export function isWithin(folder: string, path: string): boolean {
  const rest = relative(folder, path);
  return rest === '' || (rest !== '..' && !rest.startsWith(`..${sep}`) && !isAbsolute(rest));
}
