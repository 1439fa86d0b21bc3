import type { MaterializeResult } from '@featurestore/core';

/** What `materialize` did, key by key, in one line. */
export function materializedMessage(
  featureSet: string,
  result: MaterializeResult,
  rebuild: boolean | undefined,
): string {
  const parts = [
    `${result.written} written`,
    `${result.unchanged} already online`,
    ...(rebuild ? [] : [`${result.older} kept (the online value is newer)`]),
    ...(rebuild ? [`${result.deleted} removed (no committed row)`] : []),
  ];
  // A rebuild's "older" keys were changed by a concurrent writer during it, and kept.
  if (rebuild && result.older > 0) parts.push(`${result.older} kept (written online meanwhile)`);
  const what = rebuild ? 'rebuilt the online values of' : 'materialized';
  return `${what} ${featureSet} from ${result.rows} keys with committed rows: ${parts.join(', ')}`;
}
