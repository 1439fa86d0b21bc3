import { ValidationError } from '../errors.js';
import type { FeatureSet, FeatureSpec } from '../model/records.js';
import type { OnlineValue } from '../ports/online-store.js';
import { eventTimeValue, keyComponent, toOnlineValue } from './online-values.js';

/** A pushed row that fits its schema, values in `RowValidator.names` order. */
export interface ValidatedRow {
  /** Key components as the online store keys them (`keyComponent`). */
  key: string[];
  /** Epoch milliseconds. */
  eventTime: number;
  values: OnlineValue[];
}

/** Types whose usual values a quick `typeof` test accepts as they are. */
const Quick = { None: 0, Bool: 1, Int32: 2, Float: 3, String: 4 } as const;
type Quick = (typeof Quick)[keyof typeof Quick];

function quickOf(feature: FeatureSpec): Quick {
  switch (feature.type) {
    case 'bool':
      return Quick.Bool;
    case 'int32':
      return Quick.Int32;
    case 'float32':
    case 'float64':
      return Quick.Float;
    case 'string':
      return Quick.String;
    default:
      return Quick.None;
  }
}

/**
 * True when `toOnlineValue` would return `value` unchanged. Pushes are mostly such values, and
 * this test is a fraction of the full conversion's cost; anything else (wrong types included)
 * goes through `toOnlineValue`, so accepted values and error messages stay exactly its own.
 */
function isQuick(quick: Quick, value: unknown): boolean {
  switch (quick) {
    case Quick.Bool:
      return typeof value === 'boolean';
    case Quick.Int32:
      return Number.isInteger(value) && Math.abs(value as number) <= 2 ** 31;
    case Quick.Float:
      return typeof value === 'number' && Number.isFinite(value);
    case Quick.String:
      return typeof value === 'string';
    default:
      return false;
  }
}

/**
 * Checks pushed rows against one feature set version's schema and converts them to what the
 * online store keeps. Built once per push from the version the push resolved (so a push never
 * sees a schema other than its own), it looks each column up once instead of once per row.
 *
 * Per row, in this order: an object; no field the schema lacks; the key columns present and
 * typed; the event time; every value feature typed. The first problem throws a
 * `ValidationError` naming the row (1-based) and the field.
 */
export class RowValidator {
  /** The value features (neither key nor event time), in schema order. */
  readonly names: readonly string[];
  readonly #featureSet: FeatureSet;
  readonly #known: ReadonlySet<string>;
  readonly #keys: readonly FeatureSpec[];
  readonly #keyQuick: readonly Quick[];
  readonly #eventTime: FeatureSpec;
  readonly #values: readonly FeatureSpec[];
  readonly #valueQuick: readonly Quick[];

  constructor(featureSet: FeatureSet) {
    const { schema } = featureSet;
    const byName = new Map(schema.features.map((feature) => [feature.name, feature]));
    this.#featureSet = featureSet;
    this.#known = new Set(byName.keys());
    this.#keys = schema.primaryKey.map((name) => byName.get(name)!);
    this.#keyQuick = this.#keys.map(quickOf);
    this.#eventTime = byName.get(schema.eventTime)!;
    this.#values = schema.features.filter(
      (feature) => feature.name !== schema.eventTime && !schema.primaryKey.includes(feature.name),
    );
    this.#valueQuick = this.#values.map(quickOf);
    this.names = this.#values.map((feature) => feature.name);
  }

  /** The row at `index` (0-based) of a push, checked and converted. */
  validate(input: unknown, index: number): ValidatedRow {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new ValidationError(`row ${index + 1} must be a JSON object of feature values`, {
        details: { row: index + 1 },
      });
    }
    const row = input as Record<string, unknown>;
    for (const field of Object.keys(row)) {
      if (!this.#known.has(field)) this.#unknownField(field, index);
    }
    const key: string[] = [];
    for (let i = 0; i < this.#keys.length; i++) {
      const spec = this.#keys[i]!;
      const raw = row[spec.name];
      const value = isQuick(this.#keyQuick[i]!, raw)
        ? (raw as OnlineValue)
        : toOnlineValue(`row ${index + 1}`, spec, raw);
      if (value === null) {
        throw new ValidationError(
          `row ${index + 1}, field "${spec.name}": the primary key is missing`,
          { details: { row: index + 1, field: spec.name } },
        );
      }
      key.push(keyComponent(value));
    }
    const eventTime = eventTimeValue(
      `row ${index + 1}`,
      this.#eventTime,
      row[this.#eventTime.name],
    );
    const values: OnlineValue[] = [];
    for (let i = 0; i < this.#values.length; i++) {
      const spec = this.#values[i]!;
      const raw = row[spec.name];
      values.push(
        raw === null || raw === undefined
          ? null
          : isQuick(this.#valueQuick[i]!, raw)
            ? (raw as OnlineValue)
            : toOnlineValue(`row ${index + 1}`, spec, raw),
      );
    }
    return { key, eventTime, values };
  }

  #unknownField(field: string, index: number): never {
    const { projectName, name, schema } = this.#featureSet;
    throw new ValidationError(
      `row ${index + 1}, field "${field}": ${projectName}/${name} has no such feature (it has ${schema.features.map((f) => f.name).join(', ')})`,
      { details: { row: index + 1, field } },
    );
  }
}
