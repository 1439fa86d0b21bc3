import { ValidationError } from '../errors.js';
import { elementType, type FeatureType, type ScalarType } from '../model/feature-types.js';
import type { FeatureSetSchema, FeatureSpec } from '../model/records.js';
import { parseTime } from '../model/time.js';
import type { OnlineValue } from '../ports/online-store.js';

/*
 * Values as the online store keeps them: JSON-compatible, exact. Times are ISO 8601 strings
 * (UTC, `Z`), dates `YYYY-MM-DD`, bytes base64, int64 a number when it is a safe integer and a
 * decimal string otherwise (so no digit is ever lost).
 */

function fail(where: string, feature: FeatureSpec, value: unknown, expected: string): never {
  throw new ValidationError(
    `${where}, field "${feature.name}": ${JSON.stringify(value)} is not a ${feature.type} (${expected})`,
    { details: { field: feature.name, value } },
  );
}

function scalar(
  where: string,
  feature: FeatureSpec,
  type: ScalarType,
  value: unknown,
): OnlineValue {
  switch (type) {
    case 'bool':
      if (typeof value === 'boolean') return value;
      return fail(where, feature, value, 'true or false');
    case 'int32':
      if (Number.isInteger(value) && Math.abs(value as number) <= 2 ** 31) return value as number;
      return fail(where, feature, value, 'a 32-bit integer');
    case 'int64': {
      const text = typeof value === 'number' && Number.isInteger(value) ? String(value) : value;
      if (typeof text !== 'string' || !/^-?\d{1,19}$/.test(text)) {
        return fail(where, feature, value, 'an integer, or its decimal string');
      }
      const big = BigInt(text);
      if (big > 2n ** 63n - 1n || big < -(2n ** 63n))
        fail(where, feature, value, 'a 64-bit integer');
      return Number.isSafeInteger(Number(big)) ? Number(big) : big.toString();
    }
    case 'float32':
    case 'float64':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      return fail(where, feature, value, 'a finite number');
    case 'string':
      if (typeof value === 'string') return value;
      return fail(where, feature, value, 'a string');
    case 'bytes':
      if (typeof value === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(value)) return value;
      return fail(where, feature, value, 'base64 text');
    case 'date':
      if (
        typeof value === 'string' &&
        /^\d{4}-\d{2}-\d{2}$/.test(value) &&
        !Number.isNaN(Date.parse(value))
      ) {
        return value;
      }
      return fail(where, feature, value, 'YYYY-MM-DD');
    case 'timestamp':
      return toTime(where, feature, value).toISOString();
  }
}

/**
 * What `Date.toISOString` writes: `parseTime` would take it as it is, so one test and the
 * built-in parser do (most pushed times look like this; `parseTime` tries several forms).
 */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

function toTime(where: string, feature: FeatureSpec, value: unknown): Date {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value;
  if (typeof value === 'string') {
    if (ISO_UTC.test(value)) {
      const date = new Date(value);
      if (!Number.isNaN(date.getTime())) return date;
    }
    try {
      return parseTime(feature.name, value);
    } catch {
      // reported below with the row
    }
  }
  return fail(where, feature, value, 'an ISO 8601 time');
}

/** Converts one field of a pushed row, naming the row and field when it does not fit. */
export function toOnlineValue(where: string, feature: FeatureSpec, value: unknown): OnlineValue {
  if (value === null || value === undefined) return null;
  const type: FeatureType = feature.type;
  if (!type.startsWith('list<')) return scalar(where, feature, type as ScalarType, value);
  if (!Array.isArray(value)) return fail(where, feature, value, 'a JSON array');
  return value.map((item) =>
    item === null ? null : scalar(where, feature, elementType(type), item),
  );
}

/** A key column as the online store's key component: its canonical text. */
export function keyComponent(value: OnlineValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The event time of a row in epoch milliseconds. */
export function eventTimeOf(
  where: string,
  schema: FeatureSetSchema,
  row: Record<string, unknown>,
): number {
  const feature = schema.features.find((f) => f.name === schema.eventTime)!;
  return eventTimeValue(where, feature, row[schema.eventTime]);
}

/** `eventTimeOf` for a value already taken from its row (`feature` is the event time column). */
export function eventTimeValue(where: string, feature: FeatureSpec, value: unknown): number {
  if (value === null || value === undefined || value === '') {
    throw new ValidationError(`${where}, field "${feature.name}": the event time is missing`, {
      details: { field: feature.name },
    });
  }
  return feature.type === 'date'
    ? Date.parse(String(scalar(where, feature, 'date', value)))
    : toTime(where, feature, value).getTime();
}
