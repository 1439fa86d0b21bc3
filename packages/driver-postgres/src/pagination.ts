import type { Page, PageRequest } from '@featurestore/core/driver';
import { ValidationError } from '@featurestore/core/driver';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** The page size a request asks for: 100 by default, 1 to 1000. */
export function pageSizeOf(request: PageRequest | undefined): number {
  const size = request?.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new ValidationError(
      `pageSize ${size} is invalid: pass an integer from 1 to ${MAX_PAGE_SIZE}, and follow nextPageToken for more`,
      { details: { field: 'pageSize', value: size } },
    );
  }
  return size;
}

/**
 * Keyset pagination: a token holds the sort key of the last item returned (base64url of a JSON
 * array), so the next page starts strictly after it, whatever was inserted or deleted since.
 */
export function encodePageToken(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** What a part of a sort key is, so a forged token is refused before the database sees it. */
export type PageKeyPart = 'text' | 'uuid' | 'time';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Exactly what `Date.toISOString` writes: `Date.parse` alone takes forms PostgreSQL refuses.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function partIsValid(part: unknown, kind: PageKeyPart): boolean {
  if (typeof part !== 'string') return false;
  switch (kind) {
    case 'uuid':
      return UUID.test(part);
    case 'time':
      return ISO_TIME.test(part) && !Number.isNaN(Date.parse(part));
    default:
      // PostgreSQL text cannot hold NUL: a query with one fails instead of finding nothing.
      return !part.includes('\u0000');
  }
}

/**
 * The sort key inside `token`, checked part by part against `kinds` (a uuid where the key
 * has an id, a time where it has one); a `ValidationError` naming the page token otherwise,
 * so that a forged token never reaches the database as a value it cannot parse.
 */
export function decodePageToken(token: string, kinds: readonly PageKeyPart[]): string[] {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (
    !Array.isArray(key) ||
    key.length !== kinds.length ||
    !key.every((part, i) => partIsValid(part, kinds[i]!))
  ) {
    throw invalidPageToken(token);
  }
  return key as string[];
}

/** The error for a token that does not hold a sort key this listing could have written. */
export function invalidPageToken(token: string): ValidationError {
  return new ValidationError(
    `pageToken ${JSON.stringify(token)} is not a token this listing returned: pass the nextPageToken of the previous page unchanged, or omit it to start over`,
    { details: { field: 'pageToken', value: token } },
  );
}

/**
 * Cuts the `size + 1` rows a query fetched to one page; the extra row only says that another
 * page exists.
 */
export function toPage<T>(items: T[], size: number, keyOf: (item: T) => string[]): Page<T> {
  if (items.length <= size) return { items };
  const page = items.slice(0, size);
  return { items: page, nextPageToken: encodePageToken(keyOf(page.at(-1)!)) };
}
