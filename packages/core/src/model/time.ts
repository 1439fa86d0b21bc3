import { ValidationError } from '../errors.js';

const HAS_ZONE = /(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$/;

/**
 * Parses an ISO 8601 date or time; a time without a zone is UTC (as in data files), so the
 * same command means the same instant on every machine.
 */
export function parseTime(field: string, value: string): Date {
  const text = value.trim();
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text)
    ? `${text}T00:00:00Z`
    : HAS_ZONE.test(text)
      ? text
      : `${text.replace(' ', 'T')}Z`;
  const date = new Date(iso);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(date.getTime())) {
    throw new ValidationError(
      `${field} ${JSON.stringify(value)} is not an ISO 8601 time: write e.g. 2026-03-01 or 2026-03-01T12:00:00Z`,
      { details: { field, value } },
    );
  }
  return date;
}
