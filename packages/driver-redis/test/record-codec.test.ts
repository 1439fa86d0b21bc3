import type { OnlineValue } from '@featurestore/core/driver';
import { describe, expect, it } from 'vitest';
import {
  encodeShape,
  FORMAT,
  forgetShapes,
  HEADER_BYTES,
  knowsShape,
  learnShape,
  RecordDecoder,
  RecordEncoder,
  readHeader,
  shapeOf,
  UnknownShapeError,
} from '../src/record-codec.js';

/** A small deterministic generator (mulberry32), so a failing case can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(next: () => number, depth = 0): OnlineValue {
  const pick = Math.floor(next() * (depth > 0 ? 7 : 8));
  const length = Math.floor(next() * next() * 300);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return next() < 0.5;
    case 2:
      return Math.floor((next() - 0.5) * 2 ** 33);
    case 3:
      return (next() - 0.5) * 10 ** Math.floor(next() * 600 - 300);
    case 4:
      return [0, -0, 2 ** 31, -(2 ** 31), 2 ** 31 - 1, 2 ** 53, Number.NaN, Infinity][
        Math.floor(next() * 8)
      ]!;
    case 5:
      return Array.from({ length }, () =>
        String.fromCodePoint(Math.floor(next() * (next() < 0.8 ? 128 : 0xd7ff))),
      ).join('');
    case 6:
      return `😀${'x'.repeat(Math.floor(next() * 50))}`;
    default:
      return Array.from({ length: Math.floor(next() * 6) }, () => randomValue(next, depth + 1));
  }
}

function randomValues(next: () => number): Record<string, OnlineValue> {
  const values: Record<string, OnlineValue> = {};
  const count = Math.floor(next() * 12);
  for (let i = 0; i < count; i++) {
    const name = next() < 0.1 ? `ñame_${i}_${'n'.repeat(100)}` : `f${i}`;
    values[name] = randomValue(next);
  }
  return values;
}

describe('record codec', () => {
  it('round-trips every kind of value with the header', () => {
    const values: Record<string, OnlineValue> = {
      s: 'text',
      empty: '',
      long: 'é'.repeat(10_000),
      int: -42,
      int32Edge: 2_147_483_647,
      beyondInt32: 2_147_483_648,
      negativeZero: -0,
      float: 0.1,
      nan: Number.NaN,
      inf: -Infinity,
      yes: true,
      no: false,
      none: null,
      list: [1, 'a', null, true, 2.5, []],
      nested: [[1, [2]], []],
    };
    const bytes = new RecordEncoder().encode(1_700_000_000_123, 42, values);
    expect(bytes[0]).toBe(FORMAT);
    expect(readHeader(bytes)).toEqual({ eventTime: 1_700_000_000_123, writeSequence: 42 });
    const decoded = new RecordDecoder().values(bytes);
    expect(decoded).toEqual(values);
    expect(Object.is(decoded.negativeZero, -0)).toBe(true);
    expect(Object.keys(decoded)).toEqual(Object.keys(values));
  });

  it('round-trips 3000 random records through one encoder and one decoder', () => {
    const next = random(20_240_601);
    const encoder = new RecordEncoder(64);
    const decoder = new RecordDecoder();
    const written = Array.from({ length: 3000 }, (_, i) => {
      const values = i % 3 === 0 ? { a: i, b: `v${i}` } : randomValues(next);
      const eventTime = (next() - 0.5) * 2 ** 50;
      return { eventTime, writeSequence: i, values, bytes: encoder.encode(eventTime, i, values) };
    });
    // Views from before the encoder grew its buffer stay intact.
    for (const { eventTime, writeSequence, values, bytes } of written) {
      expect(readHeader(bytes)).toEqual({ eventTime, writeSequence });
      expect(decoder.values(bytes)).toEqual(values);
    }
  });

  it('projects features in the requested order and leaves out the ones a record lacks', () => {
    const encoder = new RecordEncoder();
    const first = encoder.encode(1, 1, { a: 1, b: 'two', c: [3], d: null });
    const second = encoder.encode(1, 1, { d: 'dee', a: 'ay' });
    const decoder = new RecordDecoder(['d', 'b', 'missing']);
    expect(decoder.values(first)).toEqual({ d: null, b: 'two' });
    expect(Object.keys(decoder.values(first))).toEqual(['d', 'b']);
    expect(decoder.values(second)).toEqual({ d: 'dee' });
    expect(new RecordDecoder([]).values(first)).toEqual({});
  });

  it('decodes records of alternating shapes with one decoder', () => {
    const encoder = new RecordEncoder();
    const shapes: Record<string, OnlineValue>[] = [
      { a: 1 },
      { b: 2 },
      { a: 3 },
      { a: 4, b: 5 },
      {},
    ];
    const bytes = shapes.map((values) => encoder.encode(0, 0, values));
    const decoder = new RecordDecoder(['a']);
    expect(bytes.map((record) => decoder.values(record))).toEqual([
      { a: 1 },
      {},
      { a: 3 },
      { a: 4 },
      {},
    ]);
  });

  it('stores a shape id in each record and the names once, in the shape', () => {
    const encoder = new RecordEncoder();
    const values = { a_rather_long_feature_name: 1, another_long_feature_name: 'x' };
    const first = encoder.encode(0, 0, values);
    const second = encoder.encode(0, 0, { ...values, a_rather_long_feature_name: 2 });
    expect(first.length).toBe(HEADER_BYTES + 8 + 5 + 3);
    expect(shapeOf(second)).toBe(shapeOf(first));
    expect(encoder.shapes).toEqual(new Map([[shapeOf(first), encodeShape(Object.keys(values))]]));
    const other = encoder.encode(0, 0, { b: true });
    expect(shapeOf(other)).not.toBe(shapeOf(first));
    expect(encoder.shapes.size).toBe(2);
  });

  it('decodes a shape it learnt from Redis, and only the shape its id names', () => {
    const encoder = new RecordEncoder();
    const bytes = encoder.encode(1, 2, { x: 1, y: ['a'] });
    const id = shapeOf(bytes);
    forgetShapes();
    expect(knowsShape(id)).toBe(false);
    expect(() => new RecordDecoder().values(bytes)).toThrow(UnknownShapeError);
    expect(() => learnShape(id, encodeShape(['y', 'x']))).toThrow(/does not match its id/);
    expect(learnShape(id, encoder.shapes.get(id)!)).toEqual(['x', 'y']);
    expect(new RecordDecoder(['y']).values(bytes)).toEqual({ y: ['a'] });
  });

  it('keeps the 17-byte header at the front whatever the values', () => {
    const bytes = new RecordEncoder().encode(-5.5, 2 ** 52, { x: 'y' });
    expect(bytes.readDoubleLE(1)).toBe(-5.5);
    expect(bytes.readDoubleLE(9)).toBe(2 ** 52);
  });

  it('refuses bytes it cannot read with a clear error', () => {
    const bytes = new RecordEncoder().encode(1, 1, { s: 'text' });
    expect(() => readHeader(bytes.subarray(0, 10))).toThrow(/shorter than the header/);
    const future = Buffer.from(bytes);
    future[0] = 9;
    expect(() => new RecordDecoder().values(future)).toThrow(/format 9 .*upgrade/);
    const truncated = bytes.subarray(0, bytes.length - 2);
    expect(() => new RecordDecoder().values(truncated)).toThrow(/runs past the end/);
    const badTag = Buffer.from(bytes);
    badTag[bytes.length - 6] = 77;
    expect(() => new RecordDecoder().values(badTag)).toThrow(/unknown value tag 77/);
  });

  it('refuses values the port does not allow', () => {
    const encoder = new RecordEncoder();
    expect(() => encoder.encode(1, 1, { o: { nested: 1 } as unknown as OnlineValue })).toThrow(
      /unsupported online value/,
    );
  });
});
