import { type FeatureType, ValidationError } from '@featurestore/core';
import type { FeatureVector, Row, Value } from '@featurestore/protocol/featurestore/v1/online';
import { NullValue } from '@featurestore/protocol/featurestore/v1/online';

/*
 * Typed `Value` messages ↔ the values the engine takes and returns. The engine keeps values
 * JSON-compatible and exact (int64 a number when safe, else its decimal string; times ISO
 * 8601; dates YYYY-MM-DD; bytes base64), so a value's engine form does not say its type: the
 * messages of a read are typed by the feature's declared type, and every type round-trips.
 */

const NULL: Value = Object.freeze({ nullValue: NullValue.NULL_VALUE });

/**
 * A value of a request (an entity's key, a pushed row's field) as the engine takes it;
 * `undefined` when the message sets no kind (the field is then not given at all).
 */
export function engineValueOf(value: Value, where: string): unknown {
  if (value.nullValue !== undefined) return null;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.int64Value !== undefined) {
    // int32 features take numbers: every safe integer goes as one, the rest as exact text.
    const number = Number(value.int64Value);
    return Number.isSafeInteger(number) ? number : value.int64Value;
  }
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.bytesValue !== undefined) return Buffer.from(value.bytesValue).toString('base64');
  if (value.dateValue !== undefined) return value.dateValue;
  if (value.timestampValue !== undefined) return value.timestampValue;
  if (value.listValue !== undefined) {
    return value.listValue.values.map((item, index) => {
      const converted = engineValueOf(item, `${where}[${index}]`);
      if (converted === undefined) {
        throw new ValidationError(
          `${where}[${index}] is a Value with no kind set: a list item is a value or null_value`,
          { details: { field: where, index } },
        );
      }
      if (Array.isArray(converted)) {
        throw new ValidationError(
          `${where}[${index}] is a list inside a list: list features hold scalars`,
          { details: { field: where, index } },
        );
      }
      return converted;
    });
  }
  return undefined;
}

/** A `Row` of a request as the engine's object: fields whose Value sets no kind left out. */
export function engineRowOf(row: Row, where: string): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row.values)) {
    const converted = engineValueOf(value, `${where}, field "${name}"`);
    if (converted !== undefined) result[name] = converted;
  }
  return result;
}

/** A value the engine returned, as a `Value` of the feature's declared `type`. */
export function valueMessageOf(type: FeatureType, value: unknown): Value {
  if (value === null || value === undefined) return NULL;
  if (type.startsWith('list<')) {
    const element = type.slice(5, -1) as FeatureType;
    return Array.isArray(value)
      ? { listValue: { values: value.map((item) => valueMessageOf(element, item)) } }
      : untyped(value);
  }
  switch (type) {
    case 'bool':
      return typeof value === 'boolean' ? { boolValue: value } : untyped(value);
    case 'int32':
    case 'int64':
      // A safe integer number, or the decimal text of a larger one: exact either way.
      return (typeof value === 'number' && Number.isInteger(value)) ||
        (typeof value === 'string' && /^-?\d+$/.test(value))
        ? { int64Value: String(value) }
        : untyped(value);
    case 'float32':
    case 'float64':
      return typeof value === 'number' ? { doubleValue: value } : untyped(value);
    case 'bytes':
      return typeof value === 'string'
        ? { bytesValue: Buffer.from(value, 'base64') }
        : untyped(value);
    case 'date':
      return typeof value === 'string' ? { dateValue: value } : untyped(value);
    case 'timestamp': {
      const time = typeof value === 'string' || value instanceof Date ? new Date(value) : undefined;
      return time && !Number.isNaN(time.getTime()) ? { timestampValue: time } : untyped(value);
    }
    default:
      return typeof value === 'string' ? { stringValue: value } : untyped(value);
  }
}

/**
 * A value that does not have its declared type's form: a stored row written under another
 * version of the schema. Sent by its own JavaScript type rather than failing the whole read.
 */
function untyped(value: unknown): Value {
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) ? { int64Value: String(value) } : { doubleValue: value };
  }
  if (Array.isArray(value)) return { listValue: { values: value.map(untyped) } };
  if (value === null || value === undefined) return NULL;
  return { stringValue: typeof value === 'string' ? value : JSON.stringify(value) };
}

/** An output column of a read: its name in the engine's rows and its feature's type. */
export interface TypedColumn {
  name: string;
  type: FeatureType;
}

/** The engine's result rows as `FeatureVector`s, values in the order of `columns`. */
export function featureVectorsOf(
  rows: readonly Record<string, unknown>[],
  columns: readonly TypedColumn[],
): FeatureVector[] {
  return rows.map((row) => ({
    values: columns.map((column) => valueMessageOf(column.type, row[column.name])),
  }));
}
