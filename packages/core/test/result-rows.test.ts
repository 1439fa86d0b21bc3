import { describe, expect, it } from 'vitest';
import { type ResultColumn, resultRows } from '../src/online/result-rows.js';
import type { OnlineRecord } from '../src/ports/online-store.js';

const record = (values: OnlineRecord['values']): OnlineRecord => ({
  key: ['k'],
  eventTime: 0,
  writeSequence: 0,
  values,
});

/** The rows as the contract says, built the obvious way. */
function expected(
  entities: Record<string, unknown>[],
  columns: ResultColumn[],
  results: (OnlineRecord | undefined)[][],
) {
  return entities.map((entity, index) => {
    const row: Record<string, unknown> = {};
    for (const key of Object.keys(entity))
      Object.defineProperty(row, key, {
        value: entity[key],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    for (const { read, feature, name } of columns) {
      row[name] = results[read]![index]?.values[feature] ?? null;
    }
    return row;
  });
}

describe('resultRows', () => {
  const columns: ResultColumn[] = [
    { read: 0, feature: 'age', name: 'customers__age' },
    { read: 0, feature: 'city', name: 'customers__city' },
    { read: 1, feature: 'amount', name: 'tx__amount' },
  ];

  it('gives each entity its properties, then every column, null where nothing was found', () => {
    const entities = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
    const results = [
      [record({ age: 3, city: 'Oslo' }), undefined, record({ age: null, city: 'Rome' })],
      [record({ amount: 1.5 }), record({ amount: 2 }), record({})],
    ];
    const rows = resultRows(entities, columns, results);
    expect(rows).toEqual([
      { id: 'a', customers__age: 3, customers__city: 'Oslo', tx__amount: 1.5 },
      { id: 'b', customers__age: null, customers__city: null, tx__amount: 2 },
      { id: 'c', customers__age: null, customers__city: 'Rome', tx__amount: null },
    ]);
    expect(Object.keys(rows[0]!)).toEqual([
      'id',
      'customers__age',
      'customers__city',
      'tx__amount',
    ]);
    expect(rows[0]).not.toBe(entities[0]);
  });

  it('matches the plain construction on entities of other shapes, odd names and __proto__', () => {
    const odd = 'a "quoted" \\ name\u2028';
    const entities: Record<string, unknown>[] = [
      { id: 1, region: 'eu' },
      { region: 'us', id: 2 }, // same keys, another order
      { id: 3 }, // fewer keys
      { id: 4, region: 'eu', extra: true }, // more keys
      { id: 5, customers__age: 'shadowed' }, // a key named like a column
      { [odd]: 6, id: 6 },
      JSON.parse('{"__proto__": {"polluted": true}, "id": 7}'),
    ];
    const results = [
      entities.map((_, i) => (i % 3 === 0 ? undefined : record({ age: i, city: `c${i}` }))),
      entities.map((_, i) => record({ amount: i / 2 })),
    ];
    const rows = resultRows(entities, columns, results);
    expect(rows).toEqual(expected(entities, columns, results));
    rows.forEach((row, i) => {
      expect(Object.keys(row)).toEqual(Object.keys(expected(entities, columns, results)[i]!));
    });
    expect(Object.getPrototypeOf(rows[6])).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Odd key names in the generated code itself (the first entity's shape).
    const oddFirst = [entities[5]!, { [odd]: 8, id: 8 }];
    const oddResults = [
      [record({ age: 1 }), undefined],
      [undefined, record({ amount: 4 })],
    ];
    expect(resultRows(oddFirst, columns, oddResults)).toEqual(
      expected(oddFirst, columns, oddResults),
    );
    // A key holding the shape cache's separators can't pass for another shape.
    const tricky = [{ 'a\u00010\u0000age\u0000customers__age': 1 }, { a: 2 }];
    const trickyResults = [
      [undefined, record({ age: 9 })],
      [undefined, undefined],
    ];
    resultRows([{ a: 0 }], columns, [[undefined], [undefined]]);
    expect(resultRows(tricky, columns, trickyResults)).toEqual(
      expected(tricky, columns, trickyResults),
    );
    // A first entity with __proto__ takes the plain way for every row.
    const protoFirst = [entities[6]!, entities[0]!];
    const protoResults = [
      [undefined, undefined],
      [undefined, undefined],
    ];
    expect(resultRows(protoFirst, columns, protoResults)).toEqual(
      expected(protoFirst, columns, protoResults),
    );
  });

  it('returns no rows for no entities', () => {
    expect(resultRows([], columns, [[], []])).toEqual([]);
  });
});
