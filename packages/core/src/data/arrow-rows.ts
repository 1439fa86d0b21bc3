import {
  type Data,
  DataType,
  DateUnit,
  makeVector,
  type RecordBatch,
  RecordBatchReader,
  type Table,
  TimeUnit,
} from 'apache-arrow';
import { ValidationError } from '../errors.js';
import type { IngestRow } from './row-lines.js';

/*
 * Arrow data (apache-arrow, the JavaScript Arrow library) as the rows `ingest` writes: each
 * value in the form the ingestion's text rules read exactly. Integers of 64 bits stay bigints,
 * times keep their microseconds (Arrow's own getters would round them to milliseconds),
 * dates become `YYYY-MM-DD`, binary stays bytes and lists arrays. Types no feature type has
 * (decimals, structs, maps, unions, intervals, durations, times of day) are refused by column.
 */

/** What a column of Arrow data is read into, one value at a time. */
type ValueReader = (index: number) => unknown;

const UNIT_MICROS: Record<number, bigint> = {
  [TimeUnit.SECOND]: 1_000_000n,
  [TimeUnit.MILLISECOND]: 1000n,
  [TimeUnit.MICROSECOND]: 1n,
};

/** An instant in epoch units of `unit` as ISO 8601 UTC, without losing a digit. */
export function isoOfEpoch(value: bigint, unit: TimeUnit): string {
  // Nanoseconds: the fraction is written in full, and the ingestion refuses what is finer than
  // a microsecond, as it would in a file.
  const perSecond = unit === TimeUnit.NANOSECOND ? 1_000_000_000n : 1_000_000n;
  const total = unit === TimeUnit.NANOSECOND ? value : value * UNIT_MICROS[unit]!;
  let seconds = total / perSecond;
  let fraction = total % perSecond;
  if (fraction < 0n) {
    seconds -= 1n;
    fraction += perSecond;
  }
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const digits = unit === TimeUnit.NANOSECOND ? 9 : 6;
  return fraction === 0n ? `${base}Z` : `${base}.${fraction.toString().padStart(digits, '0')}Z`;
}

function unsupported(column: string, type: DataType): never {
  throw new ValidationError(
    `column "${column}" has Arrow type ${String(type)}, which no feature type holds: cast it to one of bool, int32, int64, float32, float64, utf8, binary, date, timestamp or a list of them`,
    { details: { column, arrowType: String(type) } },
  );
}

function readerOf(data: Data, column: string): ValueReader {
  const type = data.type as DataType;
  const valid = (index: number) => data.getValid(index);
  if (DataType.isTimestamp(type)) {
    const values = data.values as unknown as BigInt64Array;
    const unit = type.unit;
    return (i) => (valid(i) ? isoOfEpoch(BigInt(values[i]!), unit) : null);
  }
  if (DataType.isDate(type)) {
    const days = type.unit === DateUnit.DAY;
    const values = data.values as unknown as Int32Array | BigInt64Array;
    return (i) => {
      if (!valid(i)) return null;
      const ms = days ? Number(values[i]) * 86_400_000 : Number(values[i]);
      const iso = new Date(ms).toISOString();
      return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso;
    };
  }
  if (DataType.isList(type) || DataType.isLargeList(type)) {
    const offsets = data.valueOffsets as unknown as Int32Array | BigInt64Array;
    const child = readerOf(data.children[0]!, column);
    return (i) => {
      if (!valid(i)) return null;
      const items: unknown[] = [];
      for (let k = Number(offsets[i]); k < Number(offsets[i + 1]); k++) items.push(child(k));
      return items;
    };
  }
  if (DataType.isFixedSizeList(type)) {
    const size = type.listSize;
    const child = readerOf(data.children[0]!, column);
    return (i) => {
      if (!valid(i)) return null;
      const items: unknown[] = [];
      for (let k = i * size; k < (i + 1) * size; k++) items.push(child(k));
      return items;
    };
  }
  if (
    DataType.isDecimal(type) ||
    DataType.isStruct(type) ||
    DataType.isMap(type) ||
    DataType.isUnion(type) ||
    DataType.isInterval(type) ||
    DataType.isDuration(type) ||
    DataType.isTime(type)
  ) {
    unsupported(column, type);
  }
  // Booleans, integers (64 bits as bigint), floats, strings, binary, dictionaries, nulls:
  // Arrow's own getters give the exact value.
  const vector = makeVector(data);
  return (i) => vector.get(i);
}

/** The rows of one record batch, in order. */
export function* batchRows(batch: RecordBatch): Generator<IngestRow> {
  const names = batch.schema.fields.map((field) => field.name);
  const readers = names.map((name, c) => readerOf(batch.data.children[c]!, name));
  for (let i = 0; i < batch.numRows; i++) {
    const row: Record<string, unknown> = {};
    for (let c = 0; c < names.length; c++) row[names[c]!] = readers[c]!(i);
    yield row;
  }
}

/** The rows of a table, batch by batch. */
export function* tableRows(table: Table): Generator<IngestRow> {
  for (const batch of table.batches) yield* batchRows(batch);
}

/**
 * The rows of an Arrow IPC stream (or file) read from bytes as they arrive: one record batch
 * in memory at a time.
 */
export async function* ipcRows(
  bytes: Uint8Array | AsyncIterable<Uint8Array>,
): AsyncGenerator<IngestRow> {
  let reader: RecordBatchReader;
  try {
    reader =
      bytes instanceof Uint8Array
        ? RecordBatchReader.from(bytes)
        : await RecordBatchReader.from(bytes as AsyncIterable<Uint8Array>);
    await reader.open();
  } catch (error) {
    throw notArrow(error);
  }
  if (reader.isSync()) {
    for (const batch of reader) yield* batchRows(batch);
    return;
  }
  for await (const batch of reader) yield* batchRows(batch);
}

function notArrow(error: unknown): ValidationError {
  return new ValidationError(
    `the bytes are not an Arrow IPC stream (${(error as Error).message}): write them with tableToIPC or RecordBatchStreamWriter, or pass the Table itself`,
    { cause: error, details: { field: 'format', value: 'arrow' } },
  );
}

/** True for an apache-arrow `Table` (of this copy of the library or another). */
export function isArrowTable(value: unknown): value is Table {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as Table).batches) &&
    typeof (value as Table).numRows === 'number' &&
    typeof (value as Table).schema === 'object'
  );
}

/** True for an apache-arrow `RecordBatch`. */
export function isRecordBatch(value: unknown): value is RecordBatch {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray((value as Table).batches) &&
    typeof (value as RecordBatch).numRows === 'number' &&
    typeof (value as RecordBatch).getChildAt === 'function' &&
    typeof (value as RecordBatch).schema === 'object'
  );
}
