import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { decodeKey, encodeKey, versionPattern, versionPrefix } from '../src/key-layout.js';

// ioredis routes cluster commands with this package's slot function; asking it is asking the
// client. Resolved from ioredis, whose dependency it is.
const fromIoredis = createRequire(createRequire(import.meta.url).resolve('ioredis'));
const calculateSlot = fromIoredis('cluster-key-slot') as (key: string | Buffer) => number;

describe('key layout', () => {
  it('lays keys out as fs:{<featureSetId>:<major>}:<length-prefixed columns>', () => {
    const prefix = versionPrefix({ featureSetId: 'fs_7', major: 2 });
    expect(prefix).toBe('fs:{fs_7:2}:');
    expect(encodeKey(prefix, ['c42', 'eu'])).toBe('fs:{fs_7:2}:3:c422:eu');
    expect(encodeKey(prefix, ['a:b'])).toBe('fs:{fs_7:2}:3:a:b');
    expect(encodeKey(prefix, [''])).toBe('fs:{fs_7:2}:0:');
    expect(versionPattern(prefix)).toBe('fs:{fs_7:2}:*');
  });

  it('escapes feature set ids down to a safe alphabet', () => {
    const prefix = versionPrefix({ featureSetId: 'a:1}:*[x]?\\ é', major: 1 });
    expect(prefix).toBe('fs:{a%3A1%7D%3A%2A%5Bx%5D%3F%5C%20%C3%A9:1}:');
    expect(versionPrefix({ featureSetId: '3f2c-9a.b_c', major: 10 })).toBe('fs:{3f2c-9a.b_c:10}:');
  });

  it('never makes one version’s prefix a prefix of another’s', () => {
    const ids = ['a', 'a1', 'a:1', 'a:1}:x', 'a}', '%', '%25', 'a*', ''];
    const prefixes = ids.flatMap((featureSetId) =>
      [1, 11, 2].map((major) => versionPrefix({ featureSetId, major })),
    );
    expect(new Set(prefixes).size).toBe(prefixes.length);
    for (const a of prefixes) {
      for (const b of prefixes) if (a !== b) expect(b.startsWith(a)).toBe(false);
    }
  });

  it('decodes every encoded key back to its columns', () => {
    const keys = [
      [],
      [''],
      ['', ''],
      ['a', 'b'],
      ['a:b'],
      ['10:', '1:x'],
      ['日本語', 'emoji 🚀', 'x'.repeat(1000)],
      ['{tag}', '}', '{'],
    ];
    const prefix = versionPrefix({ featureSetId: 'fs', major: 1 });
    const encoded = keys.map((key) => encodeKey(prefix, key));
    expect(new Set(encoded).size).toBe(keys.length);
    for (const [i, key] of keys.entries()) {
      expect(decodeKey(encoded[i]!.slice(prefix.length))).toEqual(key);
    }
    for (const foreign of ['x', '3:ab', '01:a', ':a', '1a']) {
      expect(decodeKey(foreign)).toBeUndefined();
    }
  });

  it('hashes every key of one version to one cluster slot, whatever the key', () => {
    const featureSet = { featureSetId: '0b6f3c1e-6d1f-4e8e-9a51-5d2b8c1e7f00', major: 3 };
    const prefix = versionPrefix(featureSet);
    const slot = calculateSlot(`${featureSet.featureSetId}:${featureSet.major}`);
    const keys = [
      ['c1'],
      ['{other}'],
      ['}', '{'],
      ['{a}b', '{c}'],
      ['日本'],
      [''],
      ...Array.from({ length: 500 }, (_, i) => [`entity-${i}`, String(i * 7)]),
    ];
    for (const key of keys) expect(calculateSlot(encodeKey(prefix, key))).toBe(slot);
    expect(calculateSlot(Buffer.from(encodeKey(prefix, ['日本'])))).toBe(slot);
  });

  it('spreads versions over slots', () => {
    const slots = new Set(
      Array.from({ length: 200 }, (_, i) =>
        calculateSlot(encodeKey(versionPrefix({ featureSetId: `fs_${i}`, major: 1 }), ['k'])),
      ),
    );
    expect(slots.size).toBeGreaterThan(150);
  });

  it('agrees with the slots Redis documents', () => {
    // From the Redis Cluster specification: the hash tag alone decides the slot.
    expect(calculateSlot('{user1000}.following')).toBe(calculateSlot('{user1000}.followers'));
    expect(calculateSlot('123456789')).toBe(0x31c3 % 16_384);
  });
});
