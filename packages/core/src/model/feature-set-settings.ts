import { ValidationError } from '../errors.js';
import type { Tags } from './records.js';

/** Feature set tag: `off` stops applying committed ingestions to the online store. */
export const ONLINE_SYNC_TAG = 'featurestore.online';
/**
 * Feature set tag: what each ingestion computes per feature. `full` (the default): count,
 * nulls, min, max, mean, stddev and approximate distinct values; `basic`: count, nulls, min
 * and max (a third of the statistics scan, for large ingestions that need no profile).
 */
export const STATISTICS_TAG = 'featurestore.statistics';

export type StatisticsLevel = 'full' | 'basic';

/**
 * Tags under `featurestore.` are settings Featurestore reads itself, each with the values it
 * takes (the first is the default): a typo must not silently mean the default.
 */
const SETTINGS: Record<string, readonly string[]> = {
  [ONLINE_SYNC_TAG]: ['on', 'off'],
  [STATISTICS_TAG]: ['full', 'basic'] satisfies StatisticsLevel[],
};

/** Fails on an unknown `featurestore.` tag or a value the setting does not take. */
export function checkFeatureSetSettings(field: string, tags: Tags): void {
  for (const [key, value] of Object.entries(tags)) {
    if (!key.startsWith('featurestore.')) continue;
    const values = SETTINGS[key];
    if (!values) {
      throw new ValidationError(
        `${field}: "${key}" is not a Featurestore setting (tags starting with "featurestore." are reserved; known: ${Object.keys(SETTINGS).join(', ')})`,
        { details: { field, tag: key } },
      );
    }
    if (!values.includes(value)) {
      throw new ValidationError(
        `${field}: ${key} is ${JSON.stringify(value)}; use one of ${values.join(', ')}`,
        { details: { field, tag: key, value } },
      );
    }
  }
}

export function statisticsLevel(tags: Tags): StatisticsLevel {
  return tags[STATISTICS_TAG] === 'basic' ? 'basic' : 'full';
}
