import { ValidationError } from './errors.js';

/**
 * Names of projects, feature sets, features and users. They end up in SQL identifiers, Redis
 * keys and storage paths, so the alphabet is closed: lowercase letters, digits, underscore,
 * starting with a letter, at most 63 characters (PostgreSQL's identifier limit).
 */
export const NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

/**
 * Throws a `ValidationError` naming `field` and the offending value unless `value` is a valid
 * name; returns it otherwise.
 *
 * @example
 * validateName('project', 'fraud_detection'); // 'fraud_detection'
 * validateName('project', 'a/b'); // throws: project name "a/b" is invalid…
 */
export function validateName(field: string, value: unknown): string {
  if (typeof value === 'string' && NAME_PATTERN.test(value)) return value;
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  let why: string;
  if (typeof value !== 'string') why = 'it must be a string';
  else if (value.length === 0) why = 'it is empty';
  else if (value.length > 63) why = `it is ${value.length} characters long, the limit is 63`;
  else if (!/^[a-z]/.test(value)) why = 'it must start with a lowercase letter';
  else why = 'only lowercase letters, digits and underscores are allowed';
  throw new ValidationError(`${field} name ${shown} is invalid: ${why}`, {
    details: { field, value },
  });
}
