import type { OnlineValue } from '@featurestore/core';

/**
 * The value stored under one key: every feature of one record in one binary string, so a read
 * of many keys is one `MGET` and the client decodes one buffer per key instead of parsing a
 * field per feature.
 *
 * Format 1 (little-endian):
 *
 * | bytes | content |
 * |---|---|
 * | 1 | format (1) |
 * | 8 | event time, float64 epoch ms |
 * | 8 | write sequence, float64 |
 * | varint + n | the names block: its length, then a varint count and each feature name as varint length + UTF-8 |
 * | … | one tagged value per name, in the same order |
 *
 * The 17-byte header is the same in every format version: the write script compares it
 * (`struct.unpack('<dd', value, 2)`) without knowing the rest. Value tags: null, false, true,
 * int32 (4 bytes), float64 (8 bytes), string (varint length + UTF-8), list (varint count +
 * tagged items). Records of one shape carry byte-identical names blocks, which the decoder
 * recognizes and parses once.
 */
export const FORMAT = 1;
export const HEADER_BYTES = 17;

const NULL = 0;
const FALSE = 1;
const TRUE = 2;
const INT32 = 3;
const FLOAT64 = 4;
const STRING = 5;
const LIST = 6;

/** Encodes records into one growing buffer; each `encode` returns a view of its bytes. */
export class RecordEncoder {
  #buffer: Buffer;
  /** Where the record being encoded starts, and where its next byte goes. */
  #start = 0;
  #offset = 0;
  /** The previous record's names and their encoded block, copied when the next is equal. */
  #lastNames: string[] = [];
  #lastBlock: Buffer | undefined;

  constructor(initialBytes = 64 * 1024) {
    this.#buffer = Buffer.allocUnsafe(initialBytes);
  }

  /**
   * The record as stored. The view stays valid after later calls: a full buffer is replaced,
   * never reused.
   */
  encode(
    eventTime: number,
    writeSequence: number,
    values: Readonly<Record<string, OnlineValue>>,
  ): Buffer {
    const names = Object.keys(values);
    this.#start = this.#offset;
    this.#ensure(HEADER_BYTES);
    const buffer = this.#buffer;
    buffer[this.#offset] = FORMAT;
    buffer.writeDoubleLE(eventTime, this.#offset + 1);
    buffer.writeDoubleLE(writeSequence, this.#offset + 9);
    this.#offset += HEADER_BYTES;
    this.#namesBlock(names);
    for (const name of names) this.#value(values[name]!);
    return this.#buffer.subarray(this.#start, this.#offset);
  }

  #namesBlock(names: string[]): void {
    const last = this.#lastBlock;
    if (last && sameNames(names, this.#lastNames)) {
      this.#ensure(last.length);
      last.copy(this.#buffer, this.#offset);
      this.#offset += last.length;
      return;
    }
    // The block's length comes first but is known only once it is written: write the names
    // after room for the longest varint, then move them next to the length actually needed.
    // Offsets are kept relative to the record, which moves when the buffer grows.
    this.#ensure(5);
    const lengthAt = this.#offset - this.#start;
    this.#offset += 5;
    this.#varint(names.length);
    for (const name of names) this.#string(name);
    const blockStart = this.#start + lengthAt + 5;
    const blockBytes = this.#offset - blockStart;
    const at = this.#start + lengthAt;
    this.#buffer.copy(this.#buffer, at + varintBytes(blockBytes), blockStart, this.#offset);
    this.#offset = at;
    this.#varint(blockBytes);
    this.#offset += blockBytes;
    this.#lastNames = names;
    this.#lastBlock = Buffer.from(this.#buffer.subarray(at, this.#offset));
  }

  #value(value: OnlineValue): void {
    this.#ensure(9);
    const buffer = this.#buffer;
    switch (typeof value) {
      case 'number':
        if ((value | 0) === value && !Object.is(value, -0)) {
          buffer[this.#offset] = INT32;
          buffer.writeInt32LE(value, this.#offset + 1);
          this.#offset += 5;
        } else {
          buffer[this.#offset] = FLOAT64;
          buffer.writeDoubleLE(value, this.#offset + 1);
          this.#offset += 9;
        }
        return;
      case 'string':
        buffer[this.#offset++] = STRING;
        this.#string(value);
        return;
      case 'boolean':
        buffer[this.#offset++] = value ? TRUE : FALSE;
        return;
      default:
        if (value === null) {
          buffer[this.#offset++] = NULL;
        } else if (Array.isArray(value)) {
          buffer[this.#offset++] = LIST;
          this.#varint(value.length);
          for (const item of value) this.#value(item);
        } else {
          throw new TypeError(`unsupported online value ${JSON.stringify(value)}`);
        }
    }
  }

  #string(value: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: short strings get a 1-byte length up front.
    if (value.length * 3 < 0x80) {
      this.#ensure(1 + value.length * 3);
      const written = this.#buffer.write(value, this.#offset + 1, 'utf8');
      this.#buffer[this.#offset] = written;
      this.#offset += 1 + written;
      return;
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    this.#ensure(5 + bytes);
    this.#varint(bytes);
    this.#offset += this.#buffer.write(value, this.#offset, 'utf8');
  }

  #varint(value: number): void {
    this.#ensure(5);
    const buffer = this.#buffer;
    let rest = value;
    while (rest >= 0x80) {
      buffer[this.#offset++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    buffer[this.#offset++] = rest;
  }

  /** Room for `bytes` more. A new buffer takes the record being written; older views stay. */
  #ensure(bytes: number): void {
    if (this.#offset + bytes <= this.#buffer.length) return;
    const used = this.#offset - this.#start;
    const next = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, (used + bytes) * 2));
    this.#buffer.copy(next, 0, this.#start, this.#offset);
    this.#buffer = next;
    this.#start = 0;
    this.#offset = used;
  }
}

/** A stored record's header, enough for the newest-wins and TTL checks. */
export function readHeader(bytes: Buffer): { eventTime: number; writeSequence: number } {
  checkFormat(bytes);
  return { eventTime: bytes.readDoubleLE(1), writeSequence: bytes.readDoubleLE(9) };
}

/**
 * Decodes stored records, remembering each names block it has seen, and for a projection,
 * which positions to keep. One decoder serves one projection.
 */
export class RecordDecoder {
  readonly #features: readonly string[] | undefined;
  #lastBlock: Buffer | undefined;
  #lastPlan: Plan | undefined;
  readonly #plans = new Map<string, Plan>();

  /** @param features the names to keep (all when undefined), in the order values list them. */
  constructor(features?: readonly string[]) {
    this.#features = features;
  }

  /** The values of a stored record; the header is read with `readHeader`. */
  values(bytes: Buffer): Record<string, OnlineValue> {
    checkFormat(bytes);
    const cursor: Cursor = { bytes, offset: HEADER_BYTES };
    const blockBytes = readVarint(cursor);
    const blockStart = cursor.offset;
    const plan = this.#plan(bytes, blockStart, blockBytes);
    cursor.offset = blockStart + blockBytes;
    const values: Record<string, OnlineValue> = {};
    const { names, keep, last } = plan;
    for (let i = 0; i <= last; i++) {
      if (keep[i]) values[names[i]!] = readValue(cursor);
      else skipValue(cursor);
    }
    if (plan.order) return reorder(values, plan.order);
    return values;
  }

  #plan(bytes: Buffer, start: number, length: number): Plan {
    const last = this.#lastBlock;
    if (
      last !== undefined &&
      last.length === length &&
      bytes.compare(last, 0, length, start, start + length) === 0
    ) {
      return this.#lastPlan!;
    }
    const block = bytes.subarray(start, start + length);
    const id = block.toString('latin1');
    let plan = this.#plans.get(id);
    if (!plan) {
      plan = makePlan(parseNames(block), this.#features);
      // Shapes are few; a bound keeps a pathological writer from growing the map forever.
      if (this.#plans.size >= 1024) this.#plans.clear();
      this.#plans.set(id, plan);
    }
    this.#lastBlock = block;
    this.#lastPlan = plan;
    return plan;
  }
}

interface Plan {
  names: string[];
  keep: boolean[];
  /** The last position to read: the values after it are not wanted. */
  last: number;
  /** The projection's order, when it differs from the stored order. */
  order: readonly string[] | undefined;
}

interface Cursor {
  bytes: Buffer;
  offset: number;
}

function makePlan(names: string[], features: readonly string[] | undefined): Plan {
  if (features === undefined) {
    return { names, keep: names.map(() => true), last: names.length - 1, order: undefined };
  }
  const wanted = new Set(features);
  const keep = names.map((name) => wanted.has(name));
  const last = keep.lastIndexOf(true);
  const kept = names.filter((_, i) => keep[i]);
  const inOrder = features.filter((name) => kept.includes(name));
  const order = inOrder.every((name, i) => kept[i] === name) ? undefined : inOrder;
  return { names, keep, last, order };
}

function reorder(values: Record<string, OnlineValue>, order: readonly string[]) {
  const ordered: Record<string, OnlineValue> = {};
  for (const name of order) ordered[name] = values[name]!;
  return ordered;
}

function parseNames(block: Buffer): string[] {
  const cursor: Cursor = { bytes: block, offset: 0 };
  const count = readVarint(cursor);
  const names: string[] = new Array(count);
  for (let i = 0; i < count; i++) names[i] = readString(cursor);
  return names;
}

function readValue(cursor: Cursor): OnlineValue {
  const { bytes } = cursor;
  const tag = bytes[cursor.offset++];
  switch (tag) {
    case NULL:
      return null;
    case FALSE:
      return false;
    case TRUE:
      return true;
    case INT32: {
      const value = bytes.readInt32LE(cursor.offset);
      cursor.offset += 4;
      return value;
    }
    case FLOAT64: {
      const value = bytes.readDoubleLE(cursor.offset);
      cursor.offset += 8;
      return value;
    }
    case STRING:
      return readString(cursor);
    case LIST: {
      const count = readVarint(cursor);
      const items: OnlineValue[] = new Array(count);
      for (let i = 0; i < count; i++) items[i] = readValue(cursor);
      return items;
    }
    default:
      throw corrupt(`unknown value tag ${tag} at byte ${cursor.offset - 1}`);
  }
}

function skipValue(cursor: Cursor): void {
  const tag = cursor.bytes[cursor.offset++];
  switch (tag) {
    case NULL:
    case FALSE:
    case TRUE:
      return;
    case INT32:
      cursor.offset += 4;
      return;
    case FLOAT64:
      cursor.offset += 8;
      return;
    case STRING: {
      const length = readVarint(cursor);
      cursor.offset += length;
      return;
    }
    case LIST: {
      const count = readVarint(cursor);
      for (let i = 0; i < count; i++) skipValue(cursor);
      return;
    }
    default:
      throw corrupt(`unknown value tag ${tag} at byte ${cursor.offset - 1}`);
  }
}

function readString(cursor: Cursor): string {
  const length = readVarint(cursor);
  const start = cursor.offset;
  cursor.offset += length;
  if (cursor.offset > cursor.bytes.length) throw corrupt('a string runs past the end');
  return cursor.bytes.toString('utf8', start, cursor.offset);
}

function readVarint(cursor: Cursor): number {
  const { bytes } = cursor;
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[cursor.offset++];
    if (byte === undefined) throw corrupt('a length runs past the end');
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return value;
    shift += 7;
    if (shift > 35) throw corrupt('a length is too long');
  }
}

function varintBytes(value: number): number {
  let bytes = 1;
  for (let rest = value; rest >= 0x80; rest >>>= 7) bytes++;
  return bytes;
}

function sameNames(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkFormat(bytes: Buffer): void {
  if (bytes.length < HEADER_BYTES || bytes[0] !== FORMAT) {
    throw corrupt(
      bytes.length < HEADER_BYTES
        ? `it is ${bytes.length} bytes long, shorter than the header`
        : `format ${bytes[0]} is not one this driver reads (${FORMAT}): upgrade @featurestore/driver-redis`,
    );
  }
}

function corrupt(why: string): Error {
  return new RangeError(`a stored online record cannot be decoded: ${why}`);
}
