import { stat } from 'node:fs/promises';
import { type FeatureSetSchema, type IngestionInput, NotFoundError } from '@featurestore/core';
import { sqlType } from './column-types.js';
import type { JobRun } from './job-run.js';
import { localPath } from './local-paths.js';
import { ident, literalList } from './sql.js';

/** The existing files of each ingestion with files, in the given order. */
export async function inputFiles(
  run: JobRun,
  inputs: readonly IngestionInput[],
): Promise<{ sequence: number; paths: string[] }[]> {
  const found: { sequence: number; paths: string[] }[] = [];
  for (const input of inputs) {
    if (input.uris.length === 0) continue;
    const paths: string[] = [];
    for (const uri of input.uris) {
      const path = localPath(uri);
      await stat(path).catch((error: unknown) => {
        throw new NotFoundError(
          `data file ${uri} of the ingestion with sequence ${input.sequence} is missing: the ingestion's files were deleted or moved; revert that ingestion`,
          { cause: error, details: { uri, sequence: input.sequence } },
        );
      });
      paths.push(path);
      run.knowFile({ path, uri, name: uri });
    }
    if (!Number.isSafeInteger(input.sequence)) {
      throw new TypeError(`ingestion sequence ${input.sequence} is not an integer`);
    }
    found.push({ sequence: input.sequence, paths });
  }
  return found;
}

/**
 * The committed rows of a feature set version as one relation: the schema's columns (cast to
 * their types), `__seq` (the ingestion's sequence) and `__row` (the row's place in it).
 */
export async function featureRowsSql(
  run: JobRun,
  schema: FeatureSetSchema,
  inputs: readonly IngestionInput[],
): Promise<string> {
  const columns = (source: (name: string) => string) =>
    schema.features
      .map(
        (feature) =>
          `CAST(${source(feature.name)} AS ${sqlType(feature.type)}) AS ${ident(feature.name)}`,
      )
      .join(', ');
  const parts = (await inputFiles(run, inputs)).map(
    ({ sequence, paths }) =>
      `SELECT ${columns(ident)}, CAST(${sequence} AS BIGINT) AS __seq, CAST(__row AS BIGINT) AS __row ` +
      `FROM read_parquet(${literalList(paths)})`,
  );
  if (parts.length === 0) {
    return `SELECT ${columns(() => 'NULL')}, CAST(NULL AS BIGINT) AS __seq, CAST(NULL AS BIGINT) AS __row WHERE false`;
  }
  return parts.join(' UNION ALL ');
}
