import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotSupportedError, ValidationError } from '@featurestore/core/driver';
import { literal } from './sql.js';

/*
 * The one place that turns a job's storage URIs into paths DuckDB can open. Only `file://`
 * for now; S3 and ADLS will spill through the ObjectStorage port here (download the inputs,
 * upload the outputs), leaving the jobs untouched.
 */

/** The local path of a `file://` URI; any other scheme is a `NotSupportedError` naming it. */
export function localPath(uri: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch (error) {
    throw new ValidationError(`${JSON.stringify(uri)} is not a URI: use file:///absolute/path`, {
      cause: error,
      details: { uri },
    });
  }
  if (url.protocol !== 'file:') {
    throw new NotSupportedError(
      `the duckdb compute engine reads and writes file:// URIs only, not ${url.protocol}// (${uri}): use the spark engine or local storage`,
      { details: { uri, scheme: url.protocol.slice(0, -1) } },
    );
  }
  return fileURLToPath(url);
}

/** `<prefix>/<name>`, keeping the prefix's own spelling. */
export function joinUri(prefix: string, name: string): string {
  return `${prefix.replace(/\/+$/, '')}/${name}`;
}

/** The short name users recognize in messages (`transactions.csv`). */
export function displayName(uri: string): string {
  try {
    return decodeURIComponent(basename(new URL(uri).pathname)) || uri;
  } catch {
    return uri;
  }
}

/** Characters DuckDB's file globbing treats as a pattern (`{…}` it takes literally). */
const GLOB_CHARACTER = /[*?[]/;

/**
 * The SQL literal DuckDB reads as exactly this one local file. DuckDB expands `*`, `?` and
 * `[…]` in every path it reads, so a file literally named `*.csv` would read every CSV of
 * its folder: each of those characters is escaped as a one-character class (`[*]`), which
 * matches only itself. A path holding both a backslash and one of them cannot be escaped so
 * (DuckDB's glob has no escape for the backslash): it is refused, naming the file.
 */
export function fileLiteral(path: string): string {
  if (!GLOB_CHARACTER.test(path)) return literal(path);
  if (path.includes('\\')) {
    throw new ValidationError(
      `${path} cannot be read: its path holds a backslash and one of * ? [, which the duckdb engine cannot read literally: rename the file or its folder`,
      { details: { file: path } },
    );
  }
  return literal(path.replace(/[*?[]/g, (character) => `[${character}]`));
}

/** `[ 'a', 'b' ]` of `fileLiteral`s, for table functions that read a list of files. */
export function fileListLiteral(paths: readonly string[]): string {
  return `[${paths.map(fileLiteral).join(', ')}]`;
}
