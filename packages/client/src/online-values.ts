import {
  type FeatureColumn,
  NullValue,
  type Row,
  type Value,
} from '@featurestore/protocol/featurestore/v1/online';
import { ValidationError } from './errors.js';

/*
 * JavaScript values ↔ typed `Value` messages. Values come back in the engine's forms, so a
 * row read through the client equals one read in process: int64 a number when safe, else
 * its decimal string; timestamps ISO 8601 strings; dates YYYY-MM-DD; bytes base64.
 */

/**
 * A value of an entity key or a pushed row as a message, by its JavaScript type: the server
 * checks it against the feature's type (a string for a timestamp or an int64 is parsed there).
 */
export function valueMessage(value: unknown, where: string): Value {
  if (value === null) return { nullValue: NullValue.NULL_VALUE };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'bigint') return { int64Value: value.toString() };
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) ? { int64Value: String(value) } : { doubleValue: value };
  }
  if (typeof value === 'string') return { stringValue: value };
  if (value instanceof Date) return { timestampValue: value };
  if (value instanceof Uint8Array) return { bytesValue: Buffer.from(value) };
  if (Array.isArray(value)) {
    return {
      listValue: { values: value.map((item, index) => valueMessage(item, `${where}[${index}]`)) },
    };
  }
  throw new ValidationError(
    `${where} is ${typeof value === 'object' ? 'an object' : typeof value}: give a boolean, number, bigint, string, Date, Uint8Array, list or null`,
    { details: { field: where } },
  );
}

/** A row or an entity as a `Row` message; fields that are `undefined` are left out. */
export function rowMessage(row: Record<string, unknown>, where: string): Row {
  const values: Record<string, Value> = {};
  for (const [name, value] of Object.entries(row)) {
    if (value !== undefined) values[name] = valueMessage(value, `${where}, field "${name}"`);
  }
  return { values };
}

/** A value of a read in the engine's form; `null` for a missing one. */
export function engineValue(value: Value | undefined): unknown {
  if (value === undefined || value.nullValue !== undefined) return null;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.int64Value !== undefined) {
    const number = Number(value.int64Value);
    return Number.isSafeInteger(number) ? number : value.int64Value;
  }
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.bytesValue !== undefined) return Buffer.from(value.bytesValue).toString('base64');
  if (value.dateValue !== undefined) return value.dateValue;
  if (value.timestampValue !== undefined) return value.timestampValue.toISOString();
  if (value.listValue !== undefined) return value.listValue.values.map(engineValue);
  return null;
}

/** The columns of one entity's vector as the row the engine returns: the keys, then the columns. */
export function resultRow(
  entity: Record<string, unknown>,
  columns: readonly FeatureColumn[],
  values: readonly Value[],
): Record<string, unknown> {
  const row: Record<string, unknown> = { ...entity };
  columns.forEach((column, index) => {
    row[column.name] = engineValue(values[index]);
  });
  return row;
}
