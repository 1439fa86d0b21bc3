import { elementType, type FeatureType, type ScalarType } from '../model/feature-types.js';

/*
 * The values of an output's CSV text (the compute engine writes them by the conventions files
 * are ingested with: times ISO 8601 UTC, dates YYYY-MM-DD, bytes base64, lists JSON arrays,
 * nan and ±inf for floats) decoded by feature type, exactly: int64 as bigint, times as
 * microseconds since the epoch (bigint), dates as days since the epoch.
 */

/** The type of an output column: a feature type, or `text` for an entity file's columns. */
export type ColumnType = FeatureType | 'text';

/** An instant `YYYY-MM-DDTHH:MM:SS[.f]Z` in microseconds since the epoch. */
export function microsOfIso(text: string): bigint {
  const match = /^(.*[T ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(text);
  const ms = match ? Date.parse(`${match[1]!.replace(' ', 'T')}${match[3] ?? 'Z'}`) : Number.NaN;
  if (Number.isNaN(ms)) throw new Error(`an output time ${JSON.stringify(text)} is not ISO 8601`);
  const fraction = (match![2] ?? '').padEnd(6, '0').slice(0, 6);
  return BigInt(ms) * 1000n + BigInt(fraction);
}

/** A date `YYYY-MM-DD` in days since the epoch. */
export function daysOfDate(text: string): number {
  const ms = Date.parse(`${text}T00:00:00Z`);
  if (Number.isNaN(ms)) throw new Error(`an output date ${JSON.stringify(text)} is not YYYY-MM-DD`);
  return Math.round(ms / 86_400_000);
}

function floatOf(text: string): number {
  switch (text.toLowerCase()) {
    case 'nan':
      return Number.NaN;
    case 'inf':
    case 'infinity':
      return Number.POSITIVE_INFINITY;
    case '-inf':
    case '-infinity':
      return Number.NEGATIVE_INFINITY;
    default:
      return Number(text);
  }
}

/**
 * The shortest decimal that is the same float32 (0.1 rather than 0.10000000149011612): what
 * was ingested, whichever way the output wrote the value (the engine writes a float32 list's
 * items at double precision, its scalars at float32's).
 */
export function float32Decimal(value: number): number {
  if (!Number.isFinite(value)) return value;
  const single = Math.fround(value);
  for (let digits = 1; digits < 9; digits++) {
    const decimal = Number(single.toPrecision(digits));
    if (Math.fround(decimal) === single) return decimal;
  }
  return Number(single.toPrecision(9));
}

function scalarOf(type: ScalarType, text: string): unknown {
  switch (type) {
    case 'bool':
      return text === 'true';
    case 'int32':
      return Number(text);
    case 'int64':
      return BigInt(text);
    case 'float32':
      return float32Decimal(floatOf(text));
    case 'float64':
      return floatOf(text);
    case 'string':
      return text;
    case 'bytes':
      return new Uint8Array(Buffer.from(text, 'base64'));
    case 'date':
      return daysOfDate(text);
    case 'timestamp':
      return microsOfIso(text);
  }
}

/** Types whose list elements are JSON strings; the others are bare numbers or booleans. */
const STRING_ELEMENTS = new Set<ScalarType>(['string', 'bytes', 'date', 'timestamp']);

/**
 * The decoder of one column's CSV text (never called for NULL). Lists of numbers are split
 * by hand rather than parsed as JSON: JSON would round int64 beyond 2^53, and it has no NaN.
 */
export function cellDecoder(type: ColumnType): (text: string) => unknown {
  if (type === 'text') return (text) => text;
  const scalar = elementType(type);
  if (!type.startsWith('list<')) return (text) => scalarOf(scalar, text);
  if (STRING_ELEMENTS.has(scalar)) {
    return (text) =>
      (JSON.parse(text) as (string | null)[]).map((item) =>
        item === null ? null : scalarOf(scalar, item),
      );
  }
  return (text) => {
    const inner = text.trim().slice(1, -1).trim();
    if (inner === '') return [];
    return inner.split(',').map((token) => {
      const item = token.trim();
      return item === 'null' ? null : scalarOf(scalar, item);
    });
  };
}

/**
 * A decoded value as a row gives it: times and dates as `Date` (dates at midnight UTC; a
 * `Date` holds milliseconds, so microseconds are cut: `toArrow` keeps them), the rest as
 * decoded.
 */
export function rowValueOf(type: ColumnType): (value: unknown) => unknown {
  if (type === 'text') return (value) => value;
  const scalar = elementType(type);
  const one =
    scalar === 'timestamp'
      ? (value: unknown) => new Date(Number(floorDiv(value as bigint, 1000n)))
      : scalar === 'date'
        ? (value: unknown) => new Date((value as number) * 86_400_000)
        : undefined;
  if (!one) return (value) => value;
  if (!type.startsWith('list<')) return (value) => (value === null ? null : one(value));
  return (value) =>
    value === null ? null : (value as unknown[]).map((item) => (item === null ? null : one(item)));
}

function floorDiv(value: bigint, divisor: bigint): bigint {
  const quotient = value / divisor;
  return value % divisor < 0n ? quotient - 1n : quotient;
}
