import { ValidationError } from '../errors.js';

// Days and smaller only: months and years have no fixed length, and a TTL must be exact.
const ISO_DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** The longest duration accepted: 100 years of 365.25 days, written the way it is parsed. */
export const MAX_DURATION = 'P36525D';

/** `MAX_DURATION` in milliseconds. */
export const MAX_DURATION_MS = 36_525 * 24 * 3600 * 1000;

/** Long values are cut in messages so that one line stays readable (the details keep it all). */
function quoted(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/**
 * Parses an ISO 8601 duration (`P30D`, `PT12H`, `P1DT30M`, `P2W`) into milliseconds.
 * Years and months are refused because their length varies. The result is finite, longer
 * than zero and at most `MAX_DURATION` (100 years): a longer one is surely a mistake, and an
 * unbounded one overflows the dates and timestamps it is added to.
 */
export function parseDuration(field: string, value: string): number {
  const match = ISO_DURATION.exec(value);
  if (!match || value === 'P' || value.endsWith('T')) {
    throw new ValidationError(
      `${field} ${quoted(value)} is not an ISO 8601 duration in weeks, days, hours, minutes or seconds (e.g. P30D, PT12H)`,
      { details: { field, value } },
    );
  }
  const [, weeks, days, hours, minutes, seconds] = match;
  const ms =
    ((Number(weeks ?? 0) * 7 + Number(days ?? 0)) * 24 * 3600 +
      Number(hours ?? 0) * 3600 +
      Number(minutes ?? 0) * 60 +
      Number(seconds ?? 0)) *
    1000;
  // `!(ms <= MAX)` also catches Infinity from hundreds of digits.
  if (!(ms <= MAX_DURATION_MS)) {
    throw new ValidationError(
      `${field} ${quoted(value)} is longer than the limit of 100 years (${MAX_DURATION}): use a shorter duration`,
      { details: { field, value, limit: MAX_DURATION } },
    );
  }
  if (ms <= 0) {
    throw new ValidationError(`${field} ${quoted(value)} must be longer than zero`, {
      details: { field, value },
    });
  }
  return ms;
}
