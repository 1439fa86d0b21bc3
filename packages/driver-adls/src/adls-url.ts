import { ValidationError, validateObjectKey } from '@featurestore/core/driver';

/** The parts of an `abfss://filesystem@account.dfs.core.windows.net/prefix` URL. */
export interface AdlsLocation {
  filesystem: string;
  account: string;
  /** What follows `account.dfs.`: `core.windows.net`, or a sovereign cloud's suffix. */
  endpointSuffix: string;
  /** `undefined` for the filesystem's root. */
  prefix?: string;
}

const ACCOUNT = /^[a-z0-9]{3,24}$/;
/** Container (filesystem) names: 3-63 lowercase letters, digits and single hyphens. */
const FILESYSTEM = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;
const SUFFIX = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i;

/**
 * Parses `abfss://filesystem@account.dfs.core.windows.net/prefix` (also `abfs://`; the prefix
 * optional, a trailing `/` ignored, taken as written rather than percent-decoded).
 *
 * @example
 * parseAdlsUrl('abfss://features@acme.dfs.core.windows.net/prod');
 * // { filesystem: 'features', account: 'acme', endpointSuffix: 'core.windows.net', prefix: 'prod' }
 */
export function parseAdlsUrl(url: string): AdlsLocation {
  const match = /^abfss?:\/\/([^@/?#]*)@([^/?#]*)(?:\/(.*))?$/.exec(url);
  if (!match) {
    throw invalid(
      url,
      'it must look like abfss://<filesystem>@<account>.dfs.core.windows.net/<prefix>',
    );
  }
  const [, filesystem = '', host = '', rawPrefix] = match;
  const hostMatch = /^([^.]+)\.dfs\.(.+)$/.exec(host);
  if (!hostMatch || !SUFFIX.test(hostMatch[2]!)) {
    throw invalid(
      url,
      `the host "${host}" is not an ADLS Gen2 endpoint: use <account>.dfs.core.windows.net`,
    );
  }
  const account = hostMatch[1]!;
  if (!ACCOUNT.test(account)) throw invalid(url, accountProblem(account));
  if (!FILESYSTEM.test(filesystem)) throw invalid(url, filesystemProblem(filesystem));
  const prefix = normalizePrefix(rawPrefix, url);
  return {
    filesystem,
    account,
    endpointSuffix: hostMatch[2]!,
    ...(prefix === undefined ? {} : { prefix }),
  };
}

/** Validates a filesystem (container) name given as an option. */
export function validateFilesystem(filesystem: string): string {
  if (typeof filesystem !== 'string' || !FILESYSTEM.test(filesystem)) {
    throw new ValidationError(`ADLS ${filesystemProblem(String(filesystem))}`, {
      details: { field: 'filesystem', value: filesystem },
    });
  }
  return filesystem;
}

/** Validates a storage account name given as an option. */
export function validateAccount(account: string): string {
  if (typeof account !== 'string' || !ACCOUNT.test(account)) {
    throw new ValidationError(`ADLS ${accountProblem(String(account))}`, {
      details: { field: 'account', value: account },
    });
  }
  return account;
}

/** `a/b/` → `a/b`; `''` → undefined; a prefix that could escape or alias keys is refused. */
export function normalizePrefix(prefix: string | undefined, source?: string): string | undefined {
  if (prefix === undefined) return undefined;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (trimmed === '') return undefined;
  try {
    return validateObjectKey(trimmed);
  } catch (error) {
    const reason = (error as Error).message.replace(/^object key/, 'prefix');
    if (source !== undefined) throw invalid(source, reason);
    throw new ValidationError(reason, {
      cause: error,
      details: { field: 'prefix', value: prefix },
    });
  }
}

function filesystemProblem(filesystem: string): string {
  return filesystem === ''
    ? 'the filesystem (container) is missing'
    : `filesystem (container) name "${filesystem}" is invalid: use 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit`;
}

function accountProblem(account: string): string {
  return `storage account name "${account}" is invalid: use 3 to 24 lowercase letters and digits`;
}

function invalid(url: string, reason: string): ValidationError {
  return new ValidationError(`ADLS storage URL ${JSON.stringify(url)} is invalid: ${reason}`, {
    details: { field: 'url', value: url },
  });
}
