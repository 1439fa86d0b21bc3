import { ValidationError } from '../errors.js';
import type { Tags } from './records.js';

/** Parses `KEY=VALUE` assignments (as the CLI's `--tag` takes them) into tags. */
export function parseTagAssignments(values: readonly string[]): Tags {
  const tags: Tags = {};
  for (const value of values) {
    const at = value.indexOf('=');
    if (at <= 0) {
      throw new ValidationError(`tag ${JSON.stringify(value)} is invalid: write KEY=VALUE`, {
        details: { field: 'tag', value },
      });
    }
    tags[value.slice(0, at)] = value.slice(at + 1);
  }
  return tags;
}
