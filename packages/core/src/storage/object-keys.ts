import { FeatureStoreError, ValidationError } from '../errors.js';
import type { ByteRange, ObjectInfo, ObjectStorage } from '../ports/object-storage.js';

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
