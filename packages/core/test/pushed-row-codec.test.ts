import { describe, expect, it } from 'vitest';
import { ValidationError } from '../src/errors.js';
import type { PushedRow } from '../src/online/pushed-row.js';
import {
  decodePushedRows,
  PUSHED_ROWS_V1,
  PushedRowsWriter,
} from '../src/online/pushed-row-codec.js';
import type { OnlineValue } from '../src/ports/online-store.js';

const header = {
  pushId: '5f0c2b1e-8c4b-4d55-9a41-0d0b8f3e2a11',
  featureSetId: 'fs_7',
  major: 3,
  names: ['amount', 'flagged', 'merchant', 'tags', 'count'],
};

function row(key: string[], eventTime: number, writeSequence: number, values: OnlineValue[]) {
  return { key, eventTime, writeSequence, values };
}

function expected(rows: ReturnType<typeof row>[]): PushedRow[] {
  return rows.map((r) => ({
    pushId: header.pushId,
    featureSetId: header.featureSetId,
    major: header.major,
    key: r.key,
    eventTime: r.eventTime,
    writeSequence: r.writeSequence,
    values: Object.fromEntries(header.names.map((name, i) => [name, r.values[i]!])),
  }));
}

function write(rows: ReturnType<typeof row>[], writer = new PushedRowsWriter()): Uint8Array {
  writer.begin(header);
  for (const r of rows) writer.add(r.key, r.eventTime, r.writeSequence, r.values);
  return writer.end();
}

describe('pushed rows, format 1', () => {
  it('reads back every kind of value exactly, rows in order', () => {
    const long = `${'é'.repeat(40)}…${'x'.repeat(300)}`;
    const rows = [
      row(['c1'], 1_714_521_600_000, 1_714_521_600_000_001, [9.5, true, 'm', ['a', null], 3]),
      row(['c1'], 1_714_521_600_000, 1_714_521_600_000_002, [-0.1, false, long, [], -2]),
      row(['', '1:2', '😀'], -86_400_000, 2 ** 53 - 1, [null, null, null, null, null]),
      row(['c2'], 0, 1, [Number.MAX_VALUE, true, '9007199254740993', [[1, 2], ['x']], 2 ** 31]),
    ];
    const bytes = write(rows);
    expect(bytes[0]).toBe(PUSHED_ROWS_V1);
    expect(decodePushedRows(bytes)).toEqual(expected(rows));
  });

  it('writes the feature names once per message, not per row', () => {
    const size = (names: string[], count: number) => {
      const writer = new PushedRowsWriter();
      writer.begin({ ...header, names });
      for (let i = 0; i < count; i++) writer.add([`c${i}`], i, i, [i, true, 'm', null, i]);
      return writer.end().length;
    };
    const long = header.names.map((name) => name.repeat(10));
    // Longer names cost the same extra bytes for 1 row as for 100.
    expect(size(long, 100) - size(header.names, 100)).toBe(size(long, 1) - size(header.names, 1));
  });

  it('keeps earlier messages intact when the buffer grows for a later one', () => {
    const writer = new PushedRowsWriter(64);
    const first = [row(['a'], 1, 1, [1, true, 'small', null, 1])];
    const second = Array.from({ length: 500 }, (_, i) =>
      row([`k${i}`], i, i, [i, false, 'y'.repeat(50), ['z'], i]),
    );
    const a = write(first, writer);
    const copy = Uint8Array.from(a);
    const b = write(second, writer);
    expect([...a]).toEqual([...copy]);
    expect(decodePushedRows(a)).toEqual(expected(first));
    expect(decodePushedRows(b)).toEqual(expected(second));
  });

  it('refuses damaged bytes and formats it does not know with a ValidationError', () => {
    const bytes = write([row(['c1'], 1, 1, [1, true, 'm', ['t'], 1])]);
    for (const end of [1, 5, bytes.length - 1]) {
      expect(() => decodePushedRows(bytes.subarray(0, end))).toThrow(ValidationError);
    }
    expect(() => decodePushedRows(Uint8Array.of(...bytes, 0))).toThrow(/damaged/);
    expect(() => decodePushedRows(Uint8Array.of(2, ...bytes.subarray(1)))).toThrow(
      /starts with byte 2, a format this version does not read/,
    );
    expect(() => decodePushedRows(new Uint8Array(0))).toThrow(ValidationError);
  });
});

describe('pushed rows, the first format (one JSON row per message)', () => {
  it('still reads messages published before format 1', () => {
    // Exactly what OnlineEngine.push published before format 1.
    const old: PushedRow = {
      pushId: header.pushId,
      featureSetId: 'fs_7',
      major: 1,
      key: ['c42', 'eu'],
      eventTime: 1_714_521_600_000,
      writeSequence: 1_714_521_600_123_456,
      values: { amount: 9.5, merchants: ['a', 'b'], count: '9007199254740993', note: null },
    };
    const bytes = new TextEncoder().encode(JSON.stringify(old));
    expect(decodePushedRows(bytes)).toEqual([old]);
    // As a queue hands it out: a view into a bigger buffer.
    const inside = new Uint8Array(bytes.length + 10);
    inside.set(bytes, 7);
    expect(decodePushedRows(inside.subarray(7, 7 + bytes.length))).toEqual([old]);
  });
});
