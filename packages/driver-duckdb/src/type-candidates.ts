import type { FeatureType, ScalarType } from '@featurestore/core/driver';

/*
 * The types schema inference tries for one column, narrowest first, from what a first look
 * at the values found (their JSON kinds, or the column's Parquet type). The second look
 * keeps the first candidate whose strict parser (the one ingestion uses) accepts every value.
 * The rules are those of `InferSchemaJobSpec` in core's compute-engine port.
 */

/** `json_type` of a JSON value, as DuckDB names it. */
export const JSON_KINDS = [
  'BOOLEAN',
  'BIGINT',
  'UBIGINT',
  'DOUBLE',
  'VARCHAR',
  'ARRAY',
  'OBJECT',
] as const;
export type JsonKind = (typeof JSON_KINDS)[number];

/** The kinds of the values found in a column of a text source. */
export interface TextProfile {
  /** Non-empty values per kind; CSV values that are not JSON arrays count as `VARCHAR`. */
  kinds: Partial<Record<JsonKind, number>>;
  /** Kinds of the elements of the column's arrays (JSON nulls aside). */
  elementKinds: ReadonlySet<JsonKind>;
}

/** The types to try, and what a reviewer should know whatever the outcome. */
export interface Candidates {
  types: FeatureType[];
  notes: string[];
}

/** Why no type can hold a column: the caller names the file and row. */
export interface Unholdable {
  problem: 'object' | 'nested' | 'mixed-array';
}

const NUMBER_KINDS = new Set<JsonKind>(['BIGINT', 'UBIGINT', 'DOUBLE']);
const WHOLE_KINDS = new Set<JsonKind>(['BIGINT', 'UBIGINT']);

const subsetOf = (kinds: Iterable<JsonKind>, allowed: ReadonlySet<JsonKind>) =>
  [...kinds].every((kind) => allowed.has(kind));

const KIND_WORDS: Record<JsonKind, string> = {
  BOOLEAN: 'booleans',
  BIGINT: 'numbers',
  UBIGINT: 'numbers',
  DOUBLE: 'numbers',
  VARCHAR: 'strings',
  ARRAY: 'arrays',
  OBJECT: 'objects',
};

function kindWords(kinds: Iterable<JsonKind>): string {
  return [...new Set([...kinds].map((kind) => KIND_WORDS[kind]))].join(' and ');
}

/** Scalar types for JSON values of these kinds (no arrays or objects among them). */
function jsonScalarTypes(kinds: ReadonlySet<JsonKind>): ScalarType[] | undefined {
  if (subsetOf(kinds, new Set(['BOOLEAN']))) return ['bool', 'string'];
  if (subsetOf(kinds, WHOLE_KINDS)) return ['int64', 'float64', 'string'];
  if (subsetOf(kinds, NUMBER_KINDS)) return ['float64', 'string'];
  if (subsetOf(kinds, new Set(['VARCHAR']))) return ['date', 'timestamp', 'string'];
  return undefined;
}

/** List types from the kinds of the elements; `list<string>` always comes last. */
function listTypes(name: string, elements: ReadonlySet<JsonKind>, notes: string[]): FeatureType[] {
  if (elements.size === 0) {
    notes.push(
      `column "${name}" holds only empty lists: inferred as list<string>; give it its element type in the schema`,
    );
    return ['list<string>'];
  }
  const scalars = jsonScalarTypes(elements);
  if (!scalars) {
    notes.push(
      `column "${name}" has lists that mix ${kindWords(elements)}: inferred as list<string>`,
    );
    return ['list<string>'];
  }
  return scalars.map((scalar) => `list<${scalar}>` as FeatureType);
}

const present = (profile: TextProfile) =>
  new Set(JSON_KINDS.filter((kind) => (profile.kinds[kind] ?? 0) > 0));

/**
 * CSV: numbers, `true`/`false`, dates and times, else `string`; a column of JSON arrays only
 * is a list (`string` when its elements are not all of one kind's types).
 */
export function csvCandidates(name: string, profile: TextProfile): Candidates {
  const notes: string[] = [];
  const kinds = present(profile);
  if (kinds.size === 0) return { types: ['string'], notes: [noValues(name)] };
  const nested = profile.elementKinds.has('ARRAY') || profile.elementKinds.has('OBJECT');
  if (kinds.size === 1 && kinds.has('ARRAY') && !nested) {
    return { types: [...listTypes(name, profile.elementKinds, notes), 'string'], notes };
  }
  return { types: ['int64', 'float64', 'bool', 'date', 'timestamp', 'string'], notes };
}

/**
 * JSON Lines: by the kinds of the values. Objects, arrays of arrays or objects, and arrays
 * beside single values have no type.
 */
export function jsonCandidates(name: string, profile: TextProfile): Candidates | Unholdable {
  const notes: string[] = [];
  const kinds = present(profile);
  if (kinds.size === 0) return { types: ['string'], notes: [noValues(name)] };
  if (kinds.has('OBJECT')) return { problem: 'object' };
  if (kinds.has('ARRAY')) {
    if (kinds.size > 1) return { problem: 'mixed-array' };
    if (profile.elementKinds.has('ARRAY') || profile.elementKinds.has('OBJECT')) {
      return { problem: 'nested' };
    }
    return { types: listTypes(name, profile.elementKinds, notes), notes };
  }
  const scalars = jsonScalarTypes(kinds);
  if (scalars) return { types: scalars, notes };
  notes.push(`column "${name}" mixes ${kindWords(kinds)}: inferred as string`);
  return { types: ['string'], notes };
}

const INTEGER_TYPES = new Set([
  'TINYINT',
  'SMALLINT',
  'INTEGER',
  'BIGINT',
  'HUGEINT',
  'UTINYINT',
  'USMALLINT',
  'UINTEGER',
  'UBIGINT',
  'UHUGEINT',
]);
const TIMESTAMP_TYPES = new Set([
  'TIMESTAMP',
  'TIMESTAMP_S',
  'TIMESTAMP_MS',
  'TIMESTAMP_NS',
  'TIMESTAMP WITH TIME ZONE',
]);

function parquetScalarTypes(sqlType: string): ScalarType[] | undefined {
  if (sqlType === 'BOOLEAN') return ['bool'];
  if (INTEGER_TYPES.has(sqlType)) return ['int64', 'float64'];
  if (sqlType === 'FLOAT' || sqlType === 'DOUBLE' || sqlType.startsWith('DECIMAL')) {
    return ['float64'];
  }
  if (sqlType === 'VARCHAR') return ['string'];
  if (sqlType === 'BLOB') return ['bytes'];
  if (sqlType === 'DATE') return ['date'];
  if (TIMESTAMP_TYPES.has(sqlType)) return ['timestamp'];
  return undefined;
}

/**
 * Parquet: by the column's type (`DuckDB`'s name for it); undefined when no feature type
 * holds it (structs, maps, lists of lists, intervals…).
 */
export function parquetCandidates(name: string, sqlType: string): Candidates | undefined {
  const notes: string[] = [];
  const element = sqlType.endsWith('[]') ? sqlType.slice(0, -2) : undefined;
  const scalars = parquetScalarTypes(element ?? sqlType);
  if (!scalars) return undefined;
  if ((element ?? sqlType).startsWith('DECIMAL')) {
    notes.push(
      `column "${name}" is ${sqlType} in the file: inferred as ${element ? 'list<float64>' : 'float64'}, which keeps about 15 significant digits`,
    );
  }
  return {
    types: element ? scalars.map((scalar) => `list<${scalar}>` as FeatureType) : scalars,
    notes,
  };
}

function noValues(name: string): string {
  return `column "${name}" has no values: inferred as string; give it its type in the schema`;
}
