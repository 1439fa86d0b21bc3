import { UnavailableError } from '@featurestore/core';
import { NullValue } from '@featurestore/protocol/featurestore/v1/online';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { engineRowOf, engineValueOf, valueMessageOf } from '../src/grpc/online-messages.js';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { OnlineOperations } from '../src/online-operations.js';
import { tempStore } from './helpers.js';

describe('online Value messages ↔ engine values', () => {
  it('takes int64 beyond 2^53 as exact text and safe ones as numbers (int32 features take numbers)', () => {
    expect(engineValueOf({ int64Value: '9007199254740993' }, 'v')).toBe('9007199254740993');
    expect(engineValueOf({ int64Value: '-42' }, 'v')).toBe(-42);
    expect(valueMessageOf('int64', '-9223372036854775808')).toEqual({
      int64Value: '-9223372036854775808',
    });
  });

  it('leaves a field whose Value sets no kind out of the row (missing), and keeps null', () => {
    expect(
      engineRowOf(
        { values: { a: {}, b: { nullValue: NullValue.NULL_VALUE }, c: { boolValue: false } } },
        'row 1',
      ),
    ).toEqual({ b: null, c: false });
  });

  it('refuses a list item with no kind, and a list inside a list, naming the field and item', () => {
    expect(() =>
      engineValueOf({ listValue: { values: [{ boolValue: true }, {}] } }, 'row 1, field "l"'),
    ).toThrow('row 1, field "l"[1] is a Value with no kind set');
    expect(() =>
      engineValueOf({ listValue: { values: [{ listValue: { values: [] } }] } }, 'row 2, field "l"'),
    ).toThrow('row 2, field "l"[0] is a list inside a list');
  });

  it('sends a stored value that does not fit its declared type by its own type rather than failing', () => {
    expect(valueMessageOf('float64', 'NaN?')).toEqual({ stringValue: 'NaN?' });
    expect(valueMessageOf('string', 12)).toEqual({ int64Value: '12' });
    expect(valueMessageOf('list<bool>', [true, null])).toEqual({
      listValue: { values: [{ boolValue: true }, { nullValue: NullValue.NULL_VALUE }] },
    });
  });
});

describe('OnlineOperations column types', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let store: FeatureStore;
  let now = 0;
  beforeAll(async () => {
    folder = await tempStore();
    store = await openFeatureStore({ store: folder.dir });
    const { engine, principal } = store;
    await engine.projects.create(principal, { name: 'shop' });
    await engine.featureSets.register(principal, 'shop', 'users', {
      primaryKey: ['id'],
      eventTime: 'ts',
      features: [
        { name: 'id', type: 'int64' },
        { name: 'ts', type: 'timestamp' },
        { name: 'score', type: 'float64' },
      ],
    });
  });
  afterAll(async () => {
    await store?.close();
    await folder?.remove();
  });

  it('are looked up once a second, and kept while the metadata database is unavailable', async () => {
    const { engine, principal } = store;
    const operations = new OnlineOperations(engine, () => now);
    const get = vi.spyOn(engine.featureSets, 'get');
    const read = () =>
      operations.get(principal, { features: ['shop/users:score'], entities: [{ id: 1 }] });
    const expected = [{ name: 'users__score', type: 'float64' }];
    expect((await read()).columns).toEqual(expected);
    expect((await read()).columns).toEqual(expected);
    expect(get).toHaveBeenCalledTimes(1);
    now += 1000;
    get.mockRejectedValueOnce(new UnavailableError('the metadata database is down'));
    expect((await read()).columns).toEqual(expected);
    expect(get).toHaveBeenCalledTimes(2);
    // The last known types serve for another second before the database is asked again.
    expect((await read()).columns).toEqual(expected);
    expect(get).toHaveBeenCalledTimes(2);
    now += 1000;
    expect((await read()).columns).toEqual(expected);
    expect(get).toHaveBeenCalledTimes(3);
    get.mockRestore();
  });
});
