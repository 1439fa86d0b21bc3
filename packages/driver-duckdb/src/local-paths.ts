import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotSupportedError, ValidationError } from '@featurestore/core';

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
