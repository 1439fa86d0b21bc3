import { elementType, type FeatureType, type ScalarType } from '@featurestore/core/driver';
import { isList, sqlType } from './column-types.js';

/*
 * SQL that turns a source column into its feature type, and tells an absent value from one
 * that does not parse. Text (CSV fields, JSON values) is parsed strictly, so a value is never
 * silently rounded or truncated: integers must be integer literals, dates `YYYY-MM-DD`,
 * times ISO 8601 (no zone = UTC), bytes base64, lists JSON arrays. Parquet columns keep their
 * native types and are converted only where no information is lost.
 *
 * The strict rules use regular expressions, which cost as much as reading the file. So text
 * first takes a fast path: a plain cast behind a cheap test that only lets through spellings
 * the strict rules accept with the same value (`12`, `-3.5`, `2024-01-31 12:00:00`). Anything
 * else (blanks, `+12`, `12.50` for an int, `1e3`, a time without seconds, garbage) goes the
 * strict way; `test/parse-values.test.ts` checks the two agree on tricky and random text.
 */

/** A raw column is text (CSV, JSON) or has a native DuckDB type (Parquet, JSON entities). */
export type RawKind = { kind: 'text' } | { kind: 'native'; sqlType: string };

const TEXT: RawKind = { kind: 'text' };

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
const TIME_TYPES = new Set([
  'TIMESTAMP',
  'TIMESTAMP_S',
  'TIMESTAMP_MS',
  'TIMESTAMP_NS',
  'TIMESTAMP WITH TIME ZONE',
  'DATE',
]);

const isFloat = (type: string) =>
  type === 'FLOAT' || type === 'DOUBLE' || type.startsWith('DECIMAL');
const isNumeric = (type: string) => INTEGER_TYPES.has(type) || isFloat(type);

// Fractions of a second down to microseconds, the precision times are stored with: finer
// digits must be zeros, so a value is never cut (`.123456789` is refused, `.123456000` is fine).
const ISO_TIME =
  '-?[0-9]{4,}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6}0*)?)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?';
// Decimal or scientific notation, nan, inf: no digit separators, hex or commas.
const FLOAT = '[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)(e[+-]?[0-9]+)?|[+-]?(nan|inf|infinity)';
// DuckDB wants seconds: `2024-01-31T12:00Z` becomes `2024-01-31T12:00:00Z`.
const NO_SECONDS = '^(-?[0-9]{4,}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2})([Z+-].*)?$';
/**
 * True when DuckDB's float cast of `x` may only succeed where the strict rules accept `x`
 * with the same value. The cast skips white space around the number (trim: spaces only), a
 * `+` before a sign (`+-1`), digit separators (`1_000`) and `nan(…)`: a first character among
 * `-./0-9`, no `_` and no white space or `)` at the end rule those out. Cheap tests only
 * (`suffix` and `contains` cost next to nothing, a regular expression as much as the cast).
 */
function plainNumber(x: string): string {
  const ends = ["' '", 'chr(9)', 'chr(10)', 'chr(11)', 'chr(12)', 'chr(13)', "')'"];
  return (
    `(ascii(${x}) BETWEEN 45 AND 57 AND NOT contains(${x}, '_') AND ` +
    `NOT (${ends.map((c) => `suffix(${x}, ${c})`).join(' OR ')}))`
  );
}

/**
 * The fast path of a text value: its typed value when `x` is spelled so that the strict
 * rules would accept it with that very value, NULL otherwise (then the strict path decides).
 */
function fastTextScalar(x: string, type: ScalarType): string | undefined {
  switch (type) {
    case 'bool':
      // The cast ignores surrounding spaces like trim does; nothing else differs.
      return `TRY_CAST(${x} AS BOOLEAN)`;
    case 'int32':
    case 'int64': {
      // Canonical text only: the value printed back is the text itself.
      const value = `TRY_CAST(${x} AS ${sqlType(type)})`;
      return `CASE WHEN CAST(${value} AS VARCHAR) = ${x} THEN ${value} END`;
    }
    case 'date': {
      // Canonical `YYYY-MM-DD` only (not `infinity` or `… (BC)`, which print back as well).
      const value = `TRY_CAST(${x} AS DATE)`;
      return `CASE WHEN length(${x}) = 10 AND CAST(${value} AS VARCHAR) = ${x} THEN ${value} END`;
    }
    case 'float64':
      // An overflow to infinity (`1e400`) goes the strict way, which refuses it.
      return `CASE WHEN ${plainNumber(x)} AND NOT isinf(TRY_CAST(${x} AS DOUBLE)) THEN TRY_CAST(${x} AS DOUBLE) END`;
    case 'float32':
      // An overflow to infinity goes the strict way, which refuses it.
      return `CASE WHEN ${plainNumber(x)} AND NOT isinf(TRY_CAST(${x} AS FLOAT)) THEN TRY_CAST(${x} AS FLOAT) END`;
    case 'timestamp': {
      // Canonical `YYYY-MM-DD HH:MM:SS[.ffffff]` only (what DuckDB, pandas and Spark write), in
      // UTC like every time without a zone: printing it back gives the text itself. Not a
      // regular expression (as slow as the cast) and not TIMESTAMPTZ, whose cast costs twice
      // the naive one. `infinity` and `… (BC)` print back as well: a leading digit and no `)`
      // at the end rule them out.
      const value = `TRY_CAST(${x} AS TIMESTAMP)`;
      return (
        `CASE WHEN ascii(${x}) BETWEEN 48 AND 57 AND NOT suffix(${x}, ')') AND ` +
        `CAST(${value} AS VARCHAR) = ${x} THEN CAST(${value} AS TIMESTAMPTZ) END`
      );
    }
    case 'string':
    case 'bytes':
      return undefined;
  }
}

function textScalar(x: string, type: ScalarType): string {
  const t = `trim(${x})`;
  switch (type) {
    case 'string':
      return x;
    case 'bytes':
      return `TRY(from_base64(${x}))`;
    case 'bool':
      return `TRY_CAST(${t} AS BOOLEAN)`;
    case 'int32':
    case 'int64':
      return `CASE WHEN regexp_full_match(${t}, '[+-]?[0-9]+') THEN TRY_CAST(${t} AS ${sqlType(type)}) END`;
    case 'float64':
    case 'float32': {
      const number = `CASE WHEN regexp_full_match(lower(${t}), '${FLOAT}') THEN ${t} END`;
      const value = `TRY_CAST(${number} AS ${sqlType(type)})`;
      // Infinite only when spelled so (`inf`, `-infinity`): a number beyond the type's range
      // (`1e400`, `1e39` for float32) is refused, never stored as infinity.
      return `CASE WHEN isinf(${value}) AND NOT contains(lower(${t}), 'inf') THEN NULL ELSE ${value} END`;
    }
    case 'date':
      return `CASE WHEN regexp_full_match(${t}, '-?[0-9]{4,}-[0-9]{2}-[0-9]{2}') THEN TRY_CAST(${t} AS DATE) END`;
    case 'timestamp': {
      const u = `upper(${t})`;
      return `CASE WHEN regexp_full_match(${u}, '${ISO_TIME}') THEN TRY_CAST(regexp_replace(${u}, '${NO_SECONDS}', '\\1:00\\2') AS TIMESTAMPTZ) END`;
    }
  }
}

/** The conversion of a native value, or undefined when the types don't fit. */
function nativeScalar(x: string, from: string, type: ScalarType): string | undefined {
  if (from === 'VARCHAR') return textScalar(x, type);
  switch (type) {
    case 'bool':
      return from === 'BOOLEAN' ? x : undefined;
    case 'int32':
    case 'int64':
      if (INTEGER_TYPES.has(from)) return `TRY_CAST(${x} AS ${sqlType(type)})`;
      if (isFloat(from)) {
        return `CASE WHEN ${x} = trunc(${x}) THEN TRY_CAST(${x} AS ${sqlType(type)}) END`;
      }
      return undefined;
    case 'float64':
      return isNumeric(from) ? `TRY_CAST(${x} AS DOUBLE)` : undefined;
    case 'float32':
      return isNumeric(from)
        ? `CASE WHEN isinf(TRY_CAST(${x} AS FLOAT)) AND NOT isinf(CAST(${x} AS DOUBLE)) THEN NULL ELSE TRY_CAST(${x} AS FLOAT) END`
        : undefined;
    case 'string':
      return undefined;
    case 'bytes':
      return from === 'BLOB' ? x : undefined;
    case 'date':
      return from === 'DATE' ? x : undefined;
    case 'timestamp':
      // Nanoseconds are kept only when they are whole microseconds: never cut.
      if (from === 'TIMESTAMP_NS') {
        return `CASE WHEN epoch_ns(${x}) % 1000 = 0 THEN TRY_CAST(${x} AS TIMESTAMPTZ) END`;
      }
      return TIME_TYPES.has(from) ? `TRY_CAST(${x} AS TIMESTAMPTZ)` : undefined;
  }
}

/** How one raw column becomes one typed column, as SQL over the column's expression. */
export interface ColumnParser {
  /** The raw value with blanks as NULL: NULL means the value is absent. */
  normalize(raw: string): string;
  /** The typed value of a normalized value; NULL when absent or invalid. */
  parse(normalized: string): string;
  /** True when a normalized value is present but is not a valid value of the type. */
  invalid(normalized: string, parsed: string): string;
  /**
   * The typed value straight from the raw column, equal to `parse(normalize(raw))` for every
   * input, through the fast path where one exists.
   */
  value(raw: string): string;
  /**
   * True when the raw value is present but not valid, given `value` = `value(raw)`; equal to
   * `invalid(normalize(raw), value)`, with the blank test only where the value is NULL.
   */
  problem(raw: string, value: string): string;
}

const countPresent = (list: string) => `len(list_filter(${list}, lambda __x: __x IS NOT NULL))`;

/**
 * The parser of a raw column into `type`, or undefined when a native column can never hold
 * that type (say, a Parquet BLOB for an int64 feature).
 */
export function columnParser(type: FeatureType, raw: RawKind = TEXT): ColumnParser | undefined {
  const scalar = elementType(type);
  const from = raw.kind === 'native' ? raw.sqlType : 'VARCHAR';
  const text = from === 'VARCHAR';
  const keepBlanks = scalar === 'string' || scalar === 'bytes';
  const normalize = (x: string) =>
    text && (isList(type) || !keepBlanks) ? `NULLIF(trim(${x}), '')` : x;

  if (!isList(type)) {
    const probe = nativeScalar('__probe', from, scalar);
    if (probe === undefined) return undefined;
    const parse = (n: string) => `CAST(${nativeScalar(n, from, scalar)} AS ${sqlType(type)})`;
    const invalid = (n: string, p: string) => `(${n} IS NOT NULL AND ${p} IS NULL)`;
    return {
      normalize,
      parse,
      invalid,
      value: (x) => {
        const fast = text ? fastTextScalar(x, scalar) : undefined;
        // Not COALESCE, which evaluates the strict parse on every row. DuckDB computes the
        // repeated fast expression once.
        return fast === undefined
          ? parse(normalize(x))
          : `CASE WHEN (${fast}) IS NOT NULL THEN (${fast}) ELSE ${parse(normalize(x))} END`;
      },
      // A NULL value is invalid unless the raw value is absent or blank.
      problem: (x, p) => `(${p} IS NULL AND ${normalize(x)} IS NOT NULL)`,
    };
  }

  if (text) {
    // A JSON array; each element is parsed like a scalar of the element type. An object or
    // array as an element is refused: as text it would pass for a string.
    const elements = (n: string) => `CAST(json(${n}) AS VARCHAR[])`;
    const transform = (n: string) =>
      scalar === 'string'
        ? `list_transform(CAST(json(${n}) AS JSON[]), lambda __e: CASE WHEN json_type(__e) IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(__e, '$') END)`
        : `list_transform(${elements(n)}, lambda __e: ${textScalar('__e', scalar)})`;
    const parse = (n: string) =>
      `CAST(CASE WHEN json_valid(${n}) THEN CASE WHEN json_type(${n}) = 'ARRAY' THEN ${transform(n)} END END AS ${sqlType(type)})`;
    const invalid = (n: string, p: string) =>
      `(CASE WHEN ${n} IS NULL THEN false WHEN ${p} IS NULL THEN true ELSE ${countPresent(elements(n))} <> ${countPresent(p)} END)`;
    return {
      normalize,
      parse,
      invalid,
      value: (x) => parse(normalize(x)),
      problem: (x, p) => invalid(normalize(x), p),
    };
  }

  if (!from.endsWith('[]')) return undefined;
  const fromElement = from.slice(0, -2);
  const element = nativeScalar('__e', fromElement, scalar);
  if (element === undefined) return undefined;
  const parse = (n: string) =>
    `CAST(list_transform(${n}, lambda __e: ${element}) AS ${sqlType(type)})`;
  const invalid = (n: string, p: string) =>
    `(CASE WHEN ${n} IS NULL THEN false WHEN ${p} IS NULL THEN true ELSE ${countPresent(n)} <> ${countPresent(p)} END)`;
  return {
    normalize,
    parse,
    invalid,
    value: (x) => parse(normalize(x)),
    problem: (x, p) => invalid(normalize(x), p),
  };
}

/** What a valid value looks like, for error messages. */
export function typeHint(type: FeatureType): string {
  if (isList(type)) return `a JSON array such as ["a", "b"] or [1, 2]`;
  switch (type as ScalarType) {
    case 'bool':
      return 'true or false';
    case 'int32':
    case 'int64':
      return 'an integer such as 42';
    case 'float32':
    case 'float64':
      return 'a number such as 12.5, with a dot for decimals';
    case 'bytes':
      return 'base64 such as aGVsbG8=';
    case 'date':
      return 'YYYY-MM-DD';
    case 'timestamp':
      return 'ISO 8601 such as 2024-01-31T12:00:00Z (no zone = UTC)';
    default:
      return 'text';
  }
}

const RANGES: Partial<Record<ScalarType, [string, (text: string) => boolean]>> = {
  int32: ['-2147483648 to 2147483647', (text) => !fitsInteger(text, 32)],
  int64: ['-9223372036854775808 to 9223372036854775807', (text) => !fitsInteger(text, 64)],
  float32: ['±3.4028235e38', (text) => Math.abs(Number(text)) > 3.4028235677973366e38],
  float64: ['±1.7976931348623157e308', (text) => !Number.isFinite(Number(text))],
};

function fitsInteger(text: string, bits: 32 | 64): boolean {
  const value = BigInt(text);
  const limit = 1n << BigInt(bits - 1);
  return value >= -limit && value < limit;
}

/**
 * Why a value the strict rules refused is not valid, when there is more to say than "not a
 * <type>": a number beyond the type's range, a time finer than microseconds, an object in a
 * list of strings. `text` is the value as shown (JSON text for JSON lines).
 */
export function whyInvalid(type: FeatureType, text: string, isJson = false): string | undefined {
  let value = text;
  if (isJson) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'string') value = parsed;
      else if (isList(type) && Array.isArray(parsed)) {
        const nested = parsed.some((element) => typeof element === 'object' && element !== null);
        if (nested) return `holds an object or array as an element (${type} elements are scalars)`;
      }
    } catch {
      // Shown as is.
    }
  } else if (isList(type)) {
    return whyInvalid(type, text, true);
  }
  value = value.trim();
  const scalar = elementType(type);
  const range = isList(type) ? undefined : RANGES[scalar];
  const numeric =
    scalar === 'int32' || scalar === 'int64'
      ? /^[+-]?[0-9]+$/.test(value)
      : /^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)(e[+-]?[0-9]+)?$/i.test(value);
  if (range && numeric && range[1](value)) {
    return `is out of the range of ${type} (${range[0]})`;
  }
  if (scalar === 'timestamp' && /[.][0-9]{6}0*[1-9]/.test(value)) {
    return 'is finer than a microsecond, the precision of stored times: round it to 6 decimal places';
  }
  return undefined;
}
