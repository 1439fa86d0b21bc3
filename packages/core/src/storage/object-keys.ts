import { ValidationError } from '../errors.js';
import type { ObjectInfo, ObjectStorage } from '../ports/object-storage.js';

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
