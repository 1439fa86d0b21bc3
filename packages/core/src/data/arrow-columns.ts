import {
  Binary,
  Bool,
  type Data,
  type DataType,
  DateDay,
  Field,
  Float32,
  Float64,
  Int32,
  Int64,
  List,
  makeBuilder,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  TimestampMicrosecond,
  Utf8,
} from 'apache-arrow';
import { elementType, type ScalarType } from '../model/feature-types.js';
import type { ColumnType } from './output-values.js';

/*
 * Output columns as apache-arrow data, by feature type: bool → Bool, int32 → Int32,
 * int64 → Int64, float32 → Float32, float64 → Float64, string → Utf8, bytes → Binary,
 * date → DateDay, timestamp → Timestamp(MICROSECOND, "UTC"), list<T> → List<T>; an entity
 * file's columns (`text`) → Utf8. Values come decoded by `cellDecoder` (times in microseconds,
 * dates in days).
 */

function scalarType(type: ScalarType | 'text'): DataType {
  switch (type) {
    case 'bool':
      return new Bool();
    case 'int32':
      return new Int32();
    case 'int64':
      return new Int64();
    case 'float32':
      return new Float32();
    case 'float64':
      return new Float64();
    case 'bytes':
      return new Binary();
    case 'date':
      return new DateDay();
    case 'timestamp':
      return new TimestampMicrosecond('UTC');
    default:
      return new Utf8();
  }
}

/** The Arrow type of an output column. */
export function arrowType(type: ColumnType): DataType {
  if (type === 'text') return new Utf8();
  const scalar = scalarType(elementType(type));
  return type.startsWith('list<') ? new List(new Field('item', scalar, true)) : scalar;
}

function validity(values: readonly unknown[]): { bitmap: Uint8Array; nulls: number } {
  const bitmap = new Uint8Array(Math.ceil(values.length / 8));
  let nulls = 0;
  values.forEach((value, i) => {
    if (value === null) nulls++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  });
  return { bitmap, nulls };
}

/** One column's values as Arrow data. */
export function columnData(type: ColumnType, values: readonly unknown[]): Data {
  const target = arrowType(type);
  if (type !== 'text' && type.startsWith('list<')) {
    const offsets = new Int32Array(values.length + 1);
    const items: unknown[] = [];
    values.forEach((value, i) => {
      if (value !== null) items.push(...(value as unknown[]));
      offsets[i + 1] = items.length;
    });
    const child = columnData(elementType(type as Exclude<ColumnType, 'text'>), items);
    const { bitmap, nulls } = validity(values);
    return makeData({
      type: target as List,
      length: values.length,
      nullCount: nulls,
      nullBitmap: bitmap,
      valueOffsets: offsets,
      child,
    });
  }
  if (type === 'timestamp' || type === 'date') {
    // Built directly: Arrow's builders take times in (rounded) milliseconds.
    const { bitmap, nulls } = validity(values);
    if (type === 'date') {
      const days = new Int32Array(values.length);
      values.forEach((value, i) => {
        if (value !== null) days[i] = value as number;
      });
      return makeData({
        type: target as DateDay,
        length: values.length,
        nullCount: nulls,
        nullBitmap: bitmap,
        data: days,
      });
    }
    const micros = new BigInt64Array(values.length);
    values.forEach((value, i) => {
      if (value !== null) micros[i] = value as bigint;
    });
    return makeData({
      type: target as TimestampMicrosecond,
      length: values.length,
      nullCount: nulls,
      nullBitmap: bitmap,
      data: micros,
    });
  }
  const builder = makeBuilder({ type: target, nullValues: [null] });
  for (const value of values) builder.append(value as never);
  return builder.finish().flush() as Data;
}

/** Rows of decoded values (one array per row, in column order) as one record batch. */
export function recordBatch(
  columns: readonly { name: string; type: ColumnType }[],
  rows: readonly (readonly unknown[])[],
): RecordBatch {
  const fields = columns.map((column) => new Field(column.name, arrowType(column.type), true));
  const children = columns.map((column, c) =>
    columnData(
      column.type,
      rows.map((row) => row[c] ?? null),
    ),
  );
  const struct = makeData({
    type: new Struct(fields),
    length: rows.length,
    nullCount: 0,
    children,
  });
  return new RecordBatch(new Schema(fields), struct);
}
