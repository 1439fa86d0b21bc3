import { describe, expect, it } from 'vitest';
import { ValidationError } from '../src/errors.js';
import type { FeatureSet, FeatureSpec } from '../src/model/records.js';
import { parseTime } from '../src/model/time.js';
import { toOnlineValue } from '../src/online/online-values.js';
import { RowValidator } from '../src/online/row-validator.js';

const features: FeatureSpec[] = [
  { name: 'id', type: 'int32' },
  { name: 'region', type: 'string' },
  { name: 'ts', type: 'timestamp' },
  { name: 'on', type: 'bool' },
  { name: 'n', type: 'int32' },
  { name: 'big', type: 'int64' },
  { name: 'f', type: 'float32' },
  { name: 'd', type: 'float64' },
  { name: 's', type: 'string' },
  { name: 'day', type: 'date' },
  { name: 'at', type: 'timestamp' },
  { name: 'list', type: 'list<int32>' },
] as FeatureSpec[];
const featureSet = {
  id: 'fs_1',
  projectName: 'fraud',
  name: 'events',
  version: { major: 1, minor: 0 },
  schema: { primaryKey: ['id', 'region'], eventTime: 'ts', features },
} as unknown as FeatureSet;
const validator = new RowValidator(featureSet);
const ts = '2024-05-01T00:00:00.000Z';

function problem(row: unknown, index = 0): string {
  try {
    validator.validate(row, index);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as Error).message;
  }
  throw new Error('no ValidationError');
}

describe('RowValidator', () => {
  it('converts a row: key components, event time, values in schema order', () => {
    expect(validator.names).toEqual(['on', 'n', 'big', 'f', 'd', 's', 'day', 'at', 'list']);
    expect(
      validator.validate(
        {
          id: 7,
          region: 'eu',
          ts,
          on: true,
          big: '9007199254740993',
          f: 1.5,
          s: '',
          day: '2024-05-01',
          at: '2024-05-01 10:00:00',
          list: [1, null],
        },
        0,
      ),
    ).toEqual({
      key: ['7', 'eu'],
      eventTime: Date.parse(ts),
      values: [
        true,
        null,
        '9007199254740993',
        1.5,
        null,
        '',
        '2024-05-01',
        '2024-05-01T10:00:00.000Z',
        [1, null],
      ],
    });
  });

  it('takes and refuses exactly what toOnlineValue does, type by type', () => {
    const samples: unknown[] = [
      0,
      -0,
      1,
      -1,
      2 ** 31,
      2 ** 31 + 1,
      -(2 ** 31),
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      '1',
      '',
      'x',
      true,
      false,
      [],
      {},
      new Date(0),
      '2024-05-01',
      10n,
    ];
    for (const feature of features.slice(3)) {
      for (const value of samples) {
        let expected: unknown;
        try {
          expected = { value: toOnlineValue('row 3', feature, value) };
        } catch (error) {
          expected = { error: (error as Error).message };
        }
        let actual: unknown;
        try {
          const row = { id: 1, region: 'eu', ts, [feature.name]: value };
          const values = validator.validate(row, 2).values;
          actual = { value: values[validator.names.indexOf(feature.name)] };
        } catch (error) {
          actual = { error: (error as Error).message };
        }
        expect(actual, `${feature.type} ${String(value)}`).toEqual(expected);
      }
    }
  });

  it('reads times exactly as parseTime does, whichever form they take', () => {
    const at = features.find((feature) => feature.name === 'at')!;
    for (const text of [
      '2024-05-01T10:00:00Z',
      '2024-05-01T10:00:00.5Z',
      '2024-05-01T10:00:00.123Z',
      '1969-12-31T23:59:59.999Z',
      '2024-02-30T00:00:00Z',
      '2024-13-01T00:00:00Z',
      '2024-05-01T24:00:00Z',
      '2024-05-01T10:00:00+02:00',
      '2024-05-01 10:00:00',
      '2024-05-01',
      ' 2024-05-01T10:00:00Z',
    ]) {
      let expected: string;
      try {
        expected = parseTime('at', text).toISOString();
      } catch {
        expected = 'refused';
      }
      let actual: string;
      try {
        actual = String(toOnlineValue('row 1', at, text));
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        actual = 'refused';
      }
      expect(actual, text).toBe(expected);
    }
  });

  it('names the row (1-based) and the field of the first problem', () => {
    expect(problem('x', 4)).toBe('row 5 must be a JSON object of feature values');
    expect(problem([1])).toBe('row 1 must be a JSON object of feature values');
    expect(problem({ id: 1, region: 'eu', ts, shoe: 9 })).toBe(
      'row 1, field "shoe": fraud/events has no such feature (it has id, region, ts, on, n, big, f, d, s, day, at, list)',
    );
    expect(problem({ region: 'eu', ts })).toBe('row 1, field "id": the primary key is missing');
    expect(problem({ id: 'one', region: 'eu', ts })).toMatch(
      /^row 1, field "id": "one" is not a int32/,
    );
    expect(problem({ id: 1, region: 'eu' })).toBe('row 1, field "ts": the event time is missing');
    expect(problem({ id: 1, region: 'eu', ts: 'soon' })).toMatch(
      /^row 1, field "ts": "soon" is not a timestamp/,
    );
    expect(problem({ id: 1, region: 'eu', ts, n: 1.5 }, 1)).toMatch(
      /^row 2, field "n": 1.5 is not a int32/,
    );
  });
});
