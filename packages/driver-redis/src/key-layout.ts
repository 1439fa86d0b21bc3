import type { FeatureSetVersionRef } from '@featurestore/core/driver';

/**
 * Where records live: `fs:{<featureSetId>:<major>}:<key>`.
 *
 * - The braces are a Redis Cluster hash tag: every key of one feature set version hashes to
 *   one slot, so one `MGET`, one write script and one `SCAN` reach all of them.
 * - The feature set id is percent-encoded down to `[A-Za-z0-9_.-]`, so the prefix holds no
 *   `:` or `}` (no version's prefix is a prefix of another's) and no glob character (the
 *   prefix is its own `SCAN MATCH` pattern).
 * - The key's columns are length-prefixed, each `<length>:<value>` with the length in UTF-16
 *   units: `['a:b']` is `3:a:b`, `['a', 'b']` is `1:a1:b`, `['']` is `0:`. No value can be
 *   mistaken for a separator, whatever characters it holds.
 *
 * - A record's feature names are stored once per shape, under `<prefix>~<shape id>`: `~`
 *   never starts an encoded key, which starts with a digit.
 *
 * @example
 * versionPrefix({ featureSetId: 'fs_7', major: 2 }); // 'fs:{fs_7:2}:'
 * encodeKey('fs:{fs_7:2}:', ['c42', 'eu']); // 'fs:{fs_7:2}:3:c422:eu'
 */
export function versionPrefix(featureSet: FeatureSetVersionRef): string {
  return `fs:{${escapeId(featureSet.featureSetId)}:${featureSet.major}}:`;
}

export function encodeKey(prefix: string, key: readonly string[]): string {
  let encoded = prefix;
  for (const column of key) encoded += `${column.length}:${column}`;
  return encoded;
}

/** Where the feature names of one record shape are kept (see `record-codec.ts`). */
export function shapeKey(prefix: string, shapeId: string): string {
  return `${prefix}~${shapeId}`;
}

/** The key columns of a stored key (after its prefix); `undefined` when it is not ours. */
export function decodeKey(encoded: string): string[] | undefined {
  const columns: string[] = [];
  let at = 0;
  while (at < encoded.length) {
    const colon = encoded.indexOf(':', at);
    if (colon <= at) return undefined;
    const digits = encoded.slice(at, colon);
    if (!/^(0|[1-9][0-9]*)$/.test(digits)) return undefined;
    const end = colon + 1 + Number(digits);
    if (end > encoded.length) return undefined;
    columns.push(encoded.slice(colon + 1, end));
    at = end;
  }
  return columns;
}

/** The `SCAN MATCH` pattern of every key of a version: its prefix holds no glob character. */
export function versionPattern(prefix: string): string {
  return `${prefix}*`;
}

function escapeId(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/gu, (char) =>
    [...Buffer.from(char, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase()}`).join(''),
  );
}
