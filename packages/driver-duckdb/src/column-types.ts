import { elementType, type FeatureType, type ScalarType } from '@featurestore/core/driver';

/*
 * How feature types are stored. Timestamps are TIMESTAMPTZ (Parquet: INT64 TIMESTAMP,
 * isAdjustedToUTC, microseconds) and every connection runs with TimeZone = UTC, so a time
 * written without a zone means UTC everywhere.
 */
const SCALAR_SQL: Record<ScalarType, string> = {
  bool: 'BOOLEAN',
  int32: 'INTEGER',
  int64: 'BIGINT',
  float32: 'FLOAT',
  float64: 'DOUBLE',
  string: 'VARCHAR',
  bytes: 'BLOB',
  date: 'DATE',
  timestamp: 'TIMESTAMPTZ',
};

export function isList(type: FeatureType): boolean {
  return type.startsWith('list<');
}

/** The DuckDB type a feature is stored as. */
export function sqlType(type: FeatureType): string {
  const scalar = SCALAR_SQL[elementType(type)];
  return isList(type) ? `${scalar}[]` : scalar;
}

/** ISO 8601 with `Z`: milliseconds like `Date#toISOString`, microseconds when present. */
export function isoTimeSql(value: string): string {
  return (
    `CASE WHEN microsecond(${value}) % 1000 = 0 ` +
    `THEN strftime(${value}, '%Y-%m-%dT%H:%M:%S.%gZ') ` +
    `ELSE strftime(${value}, '%Y-%m-%dT%H:%M:%S.%fZ') END`
  );
}

function scalarTextSql(value: string, type: ScalarType): string {
  switch (type) {
    case 'timestamp':
      return isoTimeSql(value);
    case 'date':
      return `strftime(${value}, '%Y-%m-%d')`;
    case 'bytes':
      return `to_base64(${value})`;
    default:
      return value;
  }
}

/**
 * A feature as CSV text, the same conventions ingestion reads: times ISO 8601 with `Z`, bytes
 * base64, lists as JSON arrays; NULL stays NULL (an empty field).
 */
export function csvTextSql(value: string, type: FeatureType): string {
  const scalar = elementType(type);
  if (!isList(type)) return scalarTextSql(value, scalar);
  if (scalar === 'timestamp' || scalar === 'date' || scalar === 'bytes') {
    return `CAST(to_json(list_transform(${value}, lambda __e: ${scalarTextSql('__e', scalar)})) AS VARCHAR)`;
  }
  return `CAST(to_json(${value}) AS VARCHAR)`;
}

/**
 * A feature as a JSON Lines value: numbers, booleans, strings and lists stay JSON values;
 * times, dates and bytes take their text form, and int64 its decimal text (JSON readers
 * would round integers beyond 2^53).
 */
export function jsonValueSql(value: string, type: FeatureType): string {
  const scalar = elementType(type);
  if (!JSON_AS_TEXT.has(scalar)) return value;
  // CSV writes an int64's digits as they are; JSON needs them as a string.
  const text = (element: string) =>
    scalar === 'int64' ? `CAST(${element} AS VARCHAR)` : scalarTextSql(element, scalar);
  return isList(type) ? `list_transform(${value}, lambda __e: ${text('__e')})` : text(value);
}

/** Values JSON cannot hold exactly, written in their text form. */
const JSON_AS_TEXT = new Set(['timestamp', 'date', 'bytes', 'int64']);

/**
 * A natively typed column (a Parquet or JSON entity file) as CSV text, by the same
 * conventions as features: times ISO 8601 UTC, bytes base64, lists JSON arrays.
 */
export function nativeCsvTextSql(value: string, nativeType: string): string {
  if (nativeType.startsWith('TIMESTAMP')) return isoTimeSql(`CAST(${value} AS TIMESTAMPTZ)`);
  if (nativeType === 'DATE') return scalarTextSql(value, 'date');
  if (nativeType === 'BLOB') return scalarTextSql(value, 'bytes');
  if (
    nativeType.endsWith('[]') ||
    nativeType.startsWith('STRUCT') ||
    nativeType.startsWith('MAP')
  ) {
    return `CAST(to_json(${value}) AS VARCHAR)`;
  }
  return value;
}
