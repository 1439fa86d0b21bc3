import { type FeatureSetSchema, ValidationError } from '@featurestore/core';

/**
 * `online get --key`: one entity per `--key`, written `column=value[,column=value…]` (one
 * pair per primary-key column of a composite key). A value runs to the next comma; a value
 * holding a comma, a double quote or leading/trailing spaces is double-quoted, a quote inside
 * it doubled, as in CSV: `--key 'name="Smith, J."'`. Values are typed by their key column:
 * strings (and dates, times, bytes) stay text as written, so `007` and `true` are strings of
 * a string column; integers, floats and booleans must be written as such.
 */
export function parseEntityKey(text: string, schema: FeatureSetSchema): Record<string, unknown> {
  const entity: Record<string, unknown> = {};
  const invalid = (why: string, details: Record<string, unknown> = {}): never => {
    throw new ValidationError(
      `--key ${JSON.stringify(text)} is invalid: ${why}; write column=value[,column=value] (double-quote a value holding a comma or quote: name="a,b")`,
      { details: { field: 'key', value: text, ...details } },
    );
  };
  let at = 0;
  while (at <= text.length) {
    const equals = text.indexOf('=', at);
    if (equals < 0) invalid(`"${text.slice(at)}" has no "="`);
    const column = text.slice(at, equals).trim();
    if (column === '') invalid('a column name is missing before "="');
    let value: string;
    let next: number;
    if (text[equals + 1] === '"') {
      value = '';
      let i = equals + 2;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) invalid(`the quoted value of ${column} has no closing quote`);
        value += text.slice(i, quote);
        if (text[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
          continue;
        }
        next = quote + 1;
        break;
      }
      if (next < text.length && text[next] !== ',') {
        invalid(`the quoted value of ${column} is followed by text instead of a comma`);
      }
    } else {
      const comma = text.indexOf(',', equals + 1);
      next = comma < 0 ? text.length : comma;
      value = text.slice(equals + 1, next);
    }
    if (Object.hasOwn(entity, column)) {
      invalid(`column ${column} is given twice (pass one --key per entity to read several)`, {
        column,
      });
    }
    entity[column] = typedKeyValue(text, schema, column, value);
    at = next + 1;
    if (next >= text.length) break;
  }
  return entity;
}

/** The value of a key column as the engine takes it: typed by the column, strictly. */
function typedKeyValue(
  text: string,
  schema: FeatureSetSchema,
  column: string,
  value: string,
): unknown {
  if (!schema.primaryKey.includes(column)) {
    throw new ValidationError(
      `--key ${JSON.stringify(text)} names ${column}, which is not a primary-key column: the key columns are ${schema.primaryKey.join(', ')}`,
      { details: { field: 'key', value: column } },
    );
  }
  const type = schema.features.find((feature) => feature.name === column)!.type;
  const wrong = (expected: string): never => {
    throw new ValidationError(
      `--key ${column}=${JSON.stringify(value)}: ${column} is a ${type} column, so its value must be ${expected}`,
      { details: { field: column, value } },
    );
  };
  switch (type) {
    case 'int32':
    case 'int64':
      if (!/^-?\d+$/.test(value)) wrong('an integer');
      // Beyond 2^53 the engine takes int64 as its decimal text, without losing digits.
      return Number.isSafeInteger(Number(value)) ? Number(value) : value;
    case 'float32':
    case 'float64': {
      const number = Number(value);
      if (value.trim() === '' || !Number.isFinite(number)) wrong('a finite number');
      return number;
    }
    case 'bool':
      if (value !== 'true' && value !== 'false') wrong('true or false');
      return value === 'true';
    default:
      return value;
  }
}
