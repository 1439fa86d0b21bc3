import { ValidationError } from '../errors.js';

// Days and smaller only: months and years have no fixed length, and a TTL must be exact.
const ISO_DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Parses an ISO 8601 duration (`P30D`, `PT12H`, `P1DT30M`, `P2W`) into milliseconds.
 * Years and months are refused because their length varies.
 */
export function parseDuration(field: string, value: string): number {
  const match = ISO_DURATION.exec(value);
  if (!match || value === 'P' || value.endsWith('T')) {
    throw new ValidationError(
      `${field} ${JSON.stringify(value)} is not an ISO 8601 duration in weeks, days, hours, minutes or seconds (e.g. P30D, PT12H)`,
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
  if (ms <= 0) {
    throw new ValidationError(`${field} ${JSON.stringify(value)} must be longer than zero`, {
      details: { field, value },
    });
  }
  return ms;
}
