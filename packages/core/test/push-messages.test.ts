import { describe, expect, it } from 'vitest';
import { ValidationError } from '../src/errors.js';
import type { FeatureSet } from '../src/model/records.js';
import { keyBucket, PUSH_KEY_BUCKETS, pushMessages } from '../src/online/push-messages.js';
import { ONLINE_INGEST_TOPIC } from '../src/online/pushed-row.js';
import { decodePushedRows } from '../src/online/pushed-row-codec.js';

const featureSet = {
  id: 'fs_1',
  projectId: 'p_1',
  projectName: 'fraud',
  name: 'customers',
  version: { major: 2, minor: 0 },
  schema: {
    primaryKey: ['customer_id'],
    eventTime: 'ts',
    features: [
      { name: 'customer_id', type: 'string' },
      { name: 'ts', type: 'timestamp' },
      { name: 'amount', type: 'float64' },
      { name: 'note', type: 'string' },
    ],
  },
} as unknown as FeatureSet;

function sequences() {
  let next = 1000;
  return () => next++;
}

const at = (s: number) => new Date(Date.UTC(2024, 4, 1, 0, 0, s)).toISOString();

describe('pushMessages', () => {
  it('carries every row once, a key’s rows in push order in one message keyed by its bucket', () => {
    const rows = Array.from({ length: 500 }, (_, i) => ({
      customer_id: `c${i % 40}`,
      ts: at(i),
      amount: i,
    }));
    const { messages, messageOfRow } = pushMessages(featureSet, 'push-1', rows, sequences());
    expect(messages.length).toBeLessThanOrEqual(PUSH_KEY_BUCKETS);
    const seen: number[] = [];
    const keyOfMessage = new Map<string, string>();
    messages.forEach((message, m) => {
      expect(message.topic).toBe(ONLINE_INGEST_TOPIC);
      for (const row of decodePushedRows(message.value)) {
        const bucket = keyBucket(row.key);
        expect(message.key).toBe(`fs_1/2/${bucket}`);
        // One message key per customer, whichever message of the push.
        expect(keyOfMessage.get(row.key[0]!) ?? message.key).toBe(message.key);
        keyOfMessage.set(row.key[0]!, message.key);
        expect(row).toMatchObject({ pushId: 'push-1', featureSetId: 'fs_1', major: 2 });
        const index = row.values.amount as number;
        expect(messageOfRow[index]).toBe(m);
        expect(row.writeSequence).toBe(1000 + index);
        expect(row.eventTime).toBe(Date.parse(at(index)));
        expect(row.values).toEqual({ amount: index, note: null });
        seen.push(index);
      }
    });
    expect([...seen].sort((a, b) => a - b)).toEqual(rows.map((_, i) => i));
    // Within a key: push order.
    for (let c = 0; c < 40; c++) {
      const order = seen.filter((i) => i % 40 === c);
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
  });

  it('splits a big bucket into several messages of one key, in order', () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      customer_id: 'same',
      ts: at(i),
      amount: i,
      note: 'n'.repeat(200),
    }));
    const { messages } = pushMessages(featureSet, 'push-2', rows, sequences());
    expect(messages.length).toBeGreaterThan(1);
    expect(new Set(messages.map((m) => m.key)).size).toBe(1);
    for (const message of messages) expect(message.value.length).toBeLessThan(300 * 1024);
    const amounts = messages.flatMap((m) => decodePushedRows(m.value).map((r) => r.values.amount));
    expect(amounts).toEqual(rows.map((_, i) => i));
  });

  it('refuses the whole push at the first bad row, naming the row and field', () => {
    const rows = [
      { customer_id: 'c1', ts: at(1), amount: 1 },
      { customer_id: 'c2', ts: at(2), amount: 'lots' },
    ];
    let sequence = 0;
    const error = (() => {
      try {
        pushMessages(featureSet, 'push-3', rows, () => ++sequence);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/^row 2, field "amount": "lots" is not a float64/);
    // Nothing was stamped: the push failed before any row was.
    expect(sequence).toBe(0);
  });

  it('buckets keys the same way in every process (part of the message format)', () => {
    // Pinned values: a change here reorders keys across processes of different versions.
    expect(keyBucket(['c1'])).toBe(FNV_C1);
    expect(keyBucket(['a', 'b'])).not.toBe(keyBucket(['ab']));
    const spread = new Set(Array.from({ length: 1000 }, (_, i) => keyBucket([`c${i}`])));
    expect(spread.size).toBe(PUSH_KEY_BUCKETS);
  });
});

/** FNV-1a 32 of the length-prefixed components, computed independently. */
const FNV_C1 = (() => {
  let hash = 0x811c9dc5n;
  for (const code of [2, 'c'.charCodeAt(0), '1'.charCodeAt(0)]) {
    hash = ((hash ^ BigInt(code)) * 0x01000193n) & 0xffffffffn;
  }
  return Number(hash % BigInt(PUSH_KEY_BUCKETS));
})();
