import type { OnlineValue } from '@featurestore/core/driver';

/**
 * Values are stored as JSON text. JSON has no NaN, infinities or negative zero, but a feature
 * value is never an object, so an object can mark them unambiguously: `{"n":"NaN"}`,
 * `{"n":"Infinity"}`, `{"n":"-Infinity"}`, `{"n":"-0"}`.
 */
export function encodeValues(values: Readonly<Record<string, OnlineValue>>): string {
  return JSON.stringify(values, (_name, value: unknown) =>
    typeof value === 'number' && (!Number.isFinite(value) || Object.is(value, -0))
      ? { n: Object.is(value, -0) ? '-0' : String(value) }
      : value,
  );
}

/** The features of a stored record, all or the `features` named (present ones only). */
export function decodeValues(
  text: string,
  features: readonly string[] | undefined,
): Record<string, OnlineValue> {
  const stored = JSON.parse(text) as Record<string, unknown>;
  const values: Record<string, OnlineValue> = {};
  for (const name of features ?? Object.keys(stored)) {
    if (Object.hasOwn(stored, name)) values[name] = decodeValue(stored[name]);
  }
  return values;
}

function decodeValue(value: unknown): OnlineValue {
  if (Array.isArray(value)) return value.map(decodeValue);
  if (typeof value === 'object' && value !== null) return Number((value as { n: string }).n);
  return value as OnlineValue;
}

/** The stored form of a key: the JSON array of its columns. */
export function encodeKey(key: readonly string[]): string {
  return JSON.stringify(key);
}

export function decodeKey(text: string): string[] {
  return JSON.parse(text) as string[];
}

/** `pg` returns float8 as numbers already; PGlite too. A string is parsed to be safe. */
export function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}
