import { createHash } from 'node:crypto';
import type { OnlineValue } from '@featurestore/core/driver';

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
 * | 8 | shape id: the first 8 bytes of the SHA-1 of the shape (below) |
 * | … | one tagged value per feature, in the shape's order |
 *
 * The feature names live once per feature set version and shape, not in every record: a
 * **shape** is a varint count and each name as varint length + UTF-8, stored under its own key
 * next to the records (`…:~<shape id in hex>`) and cached by every reader once fetched. It is
 * content-addressed, so it never changes. With 50 features this halves a record (names are
 * usually longer than values), which is what Redis copies, parses and keeps in memory.
 *
 * The 17-byte header is the same in every format version: the write script compares it
 * (`struct.unpack('<dd', value, 2)`) without knowing the rest. Value tags: null, false, true,
 * int32 (4 bytes), float64 (8 bytes), string (varint length + UTF-8), list (varint count +
 * tagged items).
 */
export const FORMAT = 1;
export const HEADER_BYTES = 17;
const SHAPE_ID_BYTES = 8;
/** Where the values start. */
const VALUES_AT = HEADER_BYTES + SHAPE_ID_BYTES;

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
  /** The same bytes: V8 inlines DataView access, Buffer's number writers are calls. */
  #view: DataView;
  /** Where the record being encoded starts, and where its next byte goes. */
  #start = 0;
  #offset = 0;
  /** The previous record's names and their shape id, reused while the names stay equal. */
  #lastNames: string[] = [];
  #lastId: Buffer | undefined;
  /** The shapes of the records encoded so far, by shape id in hex: each must be stored. */
  readonly shapes = new Map<string, Buffer>();

  constructor(initialBytes = 64 * 1024) {
    this.#buffer = Buffer.allocUnsafe(initialBytes);
    this.#view = viewOf(this.#buffer);
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
    this.#buffer[this.#offset] = FORMAT;
    this.#view.setFloat64(this.#offset + 1, eventTime, true);
    this.#view.setFloat64(this.#offset + 9, writeSequence, true);
    this.#offset += HEADER_BYTES;
    this.#shape(names);
    // Object.values would be the obvious choice, and measured twice as slow here.
    for (const name of names) this.#value(values[name]!);
    return this.#buffer.subarray(this.#start, this.#offset);
  }

  #shape(names: string[]): void {
    if (!this.#lastId || !sameNames(names, this.#lastNames)) {
      const shape = encodeShape(names);
      this.#lastId = shapeIdOf(shape);
      this.#lastNames = names;
      const id = this.#lastId.toString('hex');
      this.shapes.set(id, shape);
      // A process reads what it wrote without fetching the names back.
      remember(id, names);
    }
    this.#ensure(SHAPE_ID_BYTES);
    this.#buffer.set(this.#lastId, this.#offset);
    this.#offset += SHAPE_ID_BYTES;
  }

  #value(value: OnlineValue): void {
    this.#ensure(9);
    switch (typeof value) {
      case 'number':
        if ((value | 0) === value && !Object.is(value, -0)) {
          this.#buffer[this.#offset] = INT32;
          this.#view.setInt32(this.#offset + 1, value, true);
          this.#offset += 5;
        } else {
          this.#buffer[this.#offset] = FLOAT64;
          this.#view.setFloat64(this.#offset + 1, value, true);
          this.#offset += 9;
        }
        return;
      case 'string':
        this.#buffer[this.#offset++] = STRING;
        this.#string(value);
        return;
      case 'boolean':
        this.#buffer[this.#offset++] = value ? TRUE : FALSE;
        return;
      default:
        if (value === null) {
          this.#buffer[this.#offset++] = NULL;
        } else if (Array.isArray(value)) {
          this.#buffer[this.#offset++] = LIST;
          this.#varint(value.length);
          for (const item of value) this.#value(item);
        } else {
          throw new TypeError(`unsupported online value ${JSON.stringify(value)}`);
        }
    }
  }

  #string(value: string): void {
    const length = value.length;
    if (length < 0x80) {
      // Short ASCII strings, the common case, are copied by hand: cheaper than a native call.
      this.#ensure(1 + length);
      const buffer = this.#buffer;
      const at = this.#offset + 1;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) break;
        buffer[at + i] = code;
      }
      if (i === length) {
        buffer[this.#offset] = length;
        this.#offset = at + length;
        return;
      }
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
    this.#view = viewOf(next);
    this.#start = 0;
    this.#offset = used;
  }
}

function viewOf(bytes: Buffer | Cursor): DataView {
  if (bytes instanceof Uint8Array)
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  bytes.view ??= viewOf(bytes.bytes);
  return bytes.view;
}

/** A stored record's header, enough for the newest-wins and TTL checks. */
export function readHeader(bytes: Buffer): { eventTime: number; writeSequence: number } {
  checkFormat(bytes);
  return { eventTime: bytes.readDoubleLE(1), writeSequence: bytes.readDoubleLE(9) };
}

/** The encoded shape of these feature names, as stored under the shape's key. */
export function encodeShape(names: readonly string[]): Buffer {
  const parts: Buffer[] = [varint(names.length)];
  for (const name of names) {
    const bytes = Buffer.from(name, 'utf8');
    parts.push(varint(bytes.length), bytes);
  }
  return Buffer.concat(parts);
}

/** The shape id a record refers to, in hex (the suffix of the shape's key). */
export function shapeOf(bytes: Buffer): string {
  checkFormat(bytes);
  return bytes.toString('hex', HEADER_BYTES, VALUES_AT);
}

/** Shapes by id, shared by every decoder of the process: content-addressed, never stale. */
const SHAPES = new Map<string, string[]>();
/** Decoding plans by projection and shape id. */
const PLANS = new Map<string, Plan>();
/** Shapes and plans are few; a bound keeps a pathological writer from growing them forever. */
const CACHE_LIMIT = 4096;

/** Whether this process knows the shape, so records of it can be decoded without a fetch. */
export function knowsShape(id: string): boolean {
  return SHAPES.has(id);
}

/**
 * Teaches this process a shape fetched from Redis, after checking that it is the one its id
 * names; returns the feature names.
 */
export function learnShape(id: string, shape: Buffer): string[] {
  if (shapeIdOf(shape).toString('hex') !== id) {
    throw corrupt(`the stored shape ${id} does not match its id`);
  }
  const names = parseShape(shape);
  remember(id, names);
  return names;
}

/** Forgets every shape and plan this process learnt, as a fresh process would start. */
export function forgetShapes(): void {
  SHAPES.clear();
  PLANS.clear();
}

function remember(id: string, names: string[]): void {
  if (SHAPES.has(id)) return;
  if (SHAPES.size >= CACHE_LIMIT) SHAPES.clear();
  SHAPES.set(id, [...names]);
}

/** A record refers to a shape this process has not learnt yet (`learnShape`). */
export class UnknownShapeError extends Error {
  readonly shapeId: string;
  constructor(shapeId: string) {
    super(`unknown record shape ${shapeId}`);
    this.name = 'UnknownShapeError';
    this.shapeId = shapeId;
  }
}

/**
 * Decodes stored records. Each shape is turned into a plan for the projection once per
 * process: which values to read, and a function that builds the values object from a literal,
 * which V8 makes much faster than adding 50 properties one by one. One decoder serves one
 * projection.
 */
export class RecordDecoder {
  readonly #projection: string;
  readonly #features: readonly string[] | undefined;
  /** The previous record's shape id (two 32-bit halves) and plan: runs of one shape are common. */
  #lastLow = -1;
  #lastHigh = -1;
  #lastPlan: Plan | undefined;
  #slots: OnlineValue[] = [];

  /** @param features the names to keep, in this order (all, in stored order, when undefined). */
  constructor(features?: readonly string[]) {
    this.#features = features;
    this.#projection = features === undefined ? '*' : `=${features.join('\u0000')}`;
  }

  /**
   * The values of a stored record; the header is read with `readHeader`. Throws an
   * `UnknownShapeError` when the record's shape has not been learnt.
   */
  values(bytes: Buffer): Record<string, OnlineValue> {
    checkFormat(bytes);
    const cursor: Cursor = { bytes, offset: VALUES_AT };
    const view = viewOf(cursor);
    const low = view.getUint32(HEADER_BYTES, true);
    const high = view.getUint32(HEADER_BYTES + 4, true);
    let plan = this.#lastPlan;
    if (plan === undefined || low !== this.#lastLow || high !== this.#lastHigh) {
      plan = this.#plan(bytes.toString('hex', HEADER_BYTES, VALUES_AT));
      this.#lastLow = low;
      this.#lastHigh = high;
      this.#lastPlan = plan;
    }
    const { keep, last, build } = plan;
    const slots = this.#slots;
    for (let i = 0; i <= last; i++) {
      if (keep[i]) slots[i] = readValue(cursor);
      else skipValue(cursor);
    }
    return build(slots);
  }

  #plan(shapeId: string): Plan {
    const key = `${this.#projection}\u0001${shapeId}`;
    let plan = PLANS.get(key);
    if (!plan) {
      const names = SHAPES.get(shapeId);
      if (!names) throw new UnknownShapeError(shapeId);
      plan = makePlan(names, this.#features);
      if (PLANS.size >= CACHE_LIMIT) PLANS.clear();
      PLANS.set(key, plan);
    }
    return plan;
  }
}

interface Plan {
  /** Per stored position: whether the projection wants its value. */
  keep: boolean[];
  /** The last position to read: the values after it are not wanted. */
  last: number;
  /** The values object, from the values read (indexed by stored position). */
  build: (slots: OnlineValue[]) => Record<string, OnlineValue>;
}

interface Cursor {
  bytes: Buffer;
  offset: number;
  /** V8 inlines DataView reads; Buffer's readers are calls. */
  view?: DataView;
}

function makePlan(names: string[], features: readonly string[] | undefined): Plan {
  const position = new Map<string, number>();
  for (const [i, name] of names.entries()) position.set(name, i);
  const keep = names.map(() => false);
  const properties: string[] = [];
  for (const name of new Set(features ?? names)) {
    const at = position.get(name);
    if (at === undefined) continue;
    keep[at] = true;
    // A quoted `__proto__` in a literal would set the prototype; a computed key does not.
    const key = name === '__proto__' ? '["__proto__"]' : JSON.stringify(name);
    properties.push(`${key}: slots[${at}]`);
  }
  // Names are JSON-quoted: stored data can only become string literals here, never code.
  const build = new Function('slots', `return { ${properties.join(', ')} };`) as Plan['build'];
  return { keep, last: keep.lastIndexOf(true), build };
}

function parseShape(shape: Buffer): string[] {
  const cursor: Cursor = { bytes: shape, offset: 0 };
  const count = readVarint(cursor);
  const names: string[] = new Array(count);
  for (let i = 0; i < count; i++) names[i] = readString(cursor);
  if (cursor.offset !== shape.length) throw corrupt('a shape has bytes after its names');
  return names;
}

function shapeIdOf(shape: Buffer): Buffer {
  return createHash('sha1').update(shape).digest().subarray(0, SHAPE_ID_BYTES);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return Buffer.from(bytes);
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
      const value = viewOf(cursor).getInt32(cursor.offset, true);
      cursor.offset += 4;
      return value;
    }
    case FLOAT64: {
      const value = viewOf(cursor).getFloat64(cursor.offset, true);
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

function sameNames(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkFormat(bytes: Buffer): void {
  if (bytes.length < VALUES_AT || bytes[0] !== FORMAT) {
    throw corrupt(
      bytes.length < VALUES_AT
        ? `it is ${bytes.length} bytes long, shorter than the header`
        : `format ${bytes[0]} is not one this driver reads (${FORMAT}): upgrade @featurestore/driver-redis`,
    );
  }
}

function corrupt(why: string): Error {
  return new RangeError(`a stored online record cannot be decoded: ${why}`);
}
