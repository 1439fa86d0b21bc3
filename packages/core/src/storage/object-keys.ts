import { FeatureStoreError, ValidationError } from '../errors.js';
import type { ByteRange, ListOptions, ObjectInfo, ObjectStorage } from '../ports/object-storage.js';

/**
 * Rejects keys that could escape the storage root or mean different things on different
 * backends (a local path, an S3 key and an ADLS path must name the same object).
 */
export function validateObjectKey(key: string): string {
  const problem =
    typeof key !== 'string' || key.length === 0
      ? 'it is empty'
      : key.startsWith('/')
        ? 'it must be relative (no leading "/")'
        : key.includes('\\')
          ? 'backslashes are not allowed'
          : key.includes('\0')
            ? 'NUL characters are not allowed'
            : key
                  .split('/')
                  .some((segment) => segment === '' || segment === '.' || segment === '..')
              ? 'empty, "." and ".." path segments are not allowed'
              : undefined;
  if (problem) {
    throw new ValidationError(`object key ${JSON.stringify(key)} is invalid: ${problem}`, {
      details: { field: 'key', value: key },
    });
  }
  return key;
}

/** Every object under `prefix`, following the pagination of `list`. */
export async function* listAll(storage: ObjectStorage, prefix: string): AsyncGenerator<ObjectInfo> {
  let cursor: string | undefined;
  do {
    const page = await storage.list(prefix, cursor === undefined ? {} : { cursor });
    yield* page.objects;
    cursor = page.cursor;
  } while (cursor !== undefined);
}

/** A byte range of whole, non-negative numbers; anything else names the range and key. */
export function validateByteRange(range: ByteRange, key: string): ByteRange {
  const bad =
    !Number.isInteger(range.offset) ||
    range.offset < 0 ||
    (range.length !== undefined && (!Number.isInteger(range.length) || range.length < 0));
  if (bad) {
    throw new ValidationError(`invalid byte range ${JSON.stringify(range)} for ${key}`, {
      details: { field: 'range', value: range },
    });
  }
  return range;
}

/** A listing prefix is a key's beginning: whole segments must be valid, the last may be partial. */
export function validateListPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  try {
    validateObjectKey(`${prefix}x`);
  } catch (error) {
    throw new ValidationError(
      `list prefix ${JSON.stringify(prefix)} is invalid: ${(error as Error).message.replace(/^.*?is invalid: /, '')}`,
      { cause: error, details: { field: 'prefix', value: prefix } },
    );
  }
  return prefix;
}

/** The page size a listing uses: `limit` when given (a positive integer), else the default. */
export function listPageLimit(options: ListOptions, defaultLimit: number): number {
  const limit = options.limit ?? defaultLimit;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new ValidationError(`list limit ${limit} must be a positive integer`, {
      details: { field: 'limit', value: limit },
    });
  }
  return limit;
}

/**
 * What a ranged read of an object of `size` bytes means when the range starts at or past its
 * end: reading from the very end is an empty read (as on a local file), past it a
 * `ValidationError` naming the range, the key and the size.
 */
export function rangeAtOrPastEnd(
  key: string,
  range: ByteRange,
  size: number,
  cause?: unknown,
): 'empty' {
  if (size === range.offset) return 'empty';
  const asked = `bytes=${range.offset}-${range.length === undefined ? '' : range.offset + range.length - 1}`;
  throw new ValidationError(
    `byte range ${asked} of object ${JSON.stringify(key)} starts past its end: the object has ${size} bytes`,
    {
      ...(cause === undefined ? {} : { cause }),
      details: { field: 'range', value: range, key, size },
    },
  );
}

/**
 * The error for a batch delete where some keys failed: names up to five of them with their
 * backend codes, says the others were deleted, and keeps the code and retryability of the
 * first failure (`converted`, the driver's conversion of it).
 */
export function partialDeleteError(
  failures: readonly { key: string; code: string }[],
  total: number,
  converted: Error,
  details: Record<string, unknown>,
): FeatureStoreError {
  const shown = failures
    .slice(0, 5)
    .map((failure) => `${JSON.stringify(failure.key)} (${failure.code})`)
    .join(', ');
  const more = failures.length > 5 ? ` and ${failures.length - 5} more` : '';
  const known = converted instanceof FeatureStoreError ? converted : undefined;
  return new FeatureStoreError(
    known?.code ?? 'INTERNAL',
    `${failures.length} of ${total} deletes failed: ${shown}${more}; the other objects were deleted. ${converted.message}`,
    { cause: converted, details: { failures, ...details }, retryable: known?.retryable ?? false },
  );
}
