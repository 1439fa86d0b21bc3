import { ValidationError } from '../errors.js';
import type { Version } from './records.js';

export function formatVersion(version: Version): string {
  return `${version.major}.${version.minor}`;
}

/** `"2"` names the latest minor of major 2; `"2.1"` exactly that version. */
export function parseVersion(value: string): { major: number; minor?: number } {
  const match = /^(\d{1,9})(?:\.(\d{1,9}))?$/.exec(value.trim());
  if (!match) {
    throw new ValidationError(
      `version ${JSON.stringify(value)} is invalid: use MAJOR or MAJOR.MINOR, e.g. 2 or 1.3`,
      { details: { field: 'version', value } },
    );
  }
  const major = Number(match[1]);
  return match[2] === undefined ? { major } : { major, minor: Number(match[2]) };
}
