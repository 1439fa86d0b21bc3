import { readFile } from 'node:fs/promises';
import { MAX_DURATION_MS, type Page, ValidationError } from '@featurestore/core';

/** For repeatable options (`--tag a=1 --tag b=2`). */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `--tag key` (present) or `--tag key=value` (equal). */
export function parseTagFilter(value: string | undefined) {
  if (value === undefined) return undefined;
  const at = value.indexOf('=');
  return at < 0 ? { key: value } : { key: value.slice(0, at), value: value.slice(at + 1) };
}

/**
 * The parser of a `--timeout <seconds>` option: a number of seconds above zero and at most
 * 100 years. Without it, `abc` would be NaN and a wait on it would never end.
 */
export function seconds(option: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (value.trim() === '' || !(parsed > 0) || !(parsed * 1000 <= MAX_DURATION_MS)) {
      throw new ValidationError(
        `${option} ${JSON.stringify(value)} is not a number of seconds above zero and at most 100 years (e.g. 30)`,
        { details: { field: option, value } },
      );
    }
    return parsed;
  };
}

export function pageExtra(page: Page<unknown>) {
  return page.nextPageToken === undefined ? {} : { nextPageToken: page.nextPageToken };
}

/** Reads a JSON file given on the command line, naming the option and the file on failure. */
export async function readJsonFile(option: string, path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ValidationError(`${option} ${path} cannot be read: ${(error as Error).message}`, {
      details: { field: option, value: path },
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`${option} ${path} is not valid JSON: ${(error as Error).message}`, {
      details: { field: option, value: path },
    });
  }
}
