import { ValidationError } from '../errors.js';

export const SCALAR_TYPES = [
  'bool',
  'int32',
  'int64',
  'float32',
  'float64',
  'string',
  'bytes',
  'date',
  'timestamp',
] as const;

export type ScalarType = (typeof SCALAR_TYPES)[number];
export type FeatureType = ScalarType | `list<${ScalarType}>`;

const TYPE_PATTERN = new RegExp(
  `^(?:${SCALAR_TYPES.join('|')}|list<(?:${SCALAR_TYPES.join('|')})>)$`,
);

export function isFeatureType(value: unknown): value is FeatureType {
  return typeof value === 'string' && TYPE_PATTERN.test(value);
}

/** Throws a `ValidationError` naming the field and listing the valid types. */
export function parseFeatureType(field: string, value: unknown): FeatureType {
  if (isFeatureType(value)) return value;
  throw new ValidationError(
    `${field} has unknown type ${JSON.stringify(value)}: use one of ${SCALAR_TYPES.join(', ')} or list<one of them>`,
    { details: { field, value } },
  );
}

/** The scalar a list holds, or the type itself. */
export function elementType(type: FeatureType): ScalarType {
  return (type.startsWith('list<') ? type.slice(5, -1) : type) as ScalarType;
}
