import { ValidationError } from '../errors.js';
import type { FeatureSetSchema } from '../model/records.js';
import type { StagedUpload, StagedUploads } from '../offline/staged-uploads.js';
import { dataBytes, type IngestData, type IngestDataFormat } from './ingest-data.js';

/**
 * In-memory data written to a staging object in the store's storage, so the compute engine
 * reads it like any file (DuckDB here, Spark in a cluster): rows and Arrow data as JSON Lines,
 * bytes as they are. The object is the data's only copy outside the caller's memory and is
 * removed once the ingestion ends, whatever the outcome; a killed process leaves it under
 * `tmp/`, which `featurestore gc` removes.
 */
export interface StagedData {
  upload: StagedUpload;
  /** What the data is called in messages and records: `rows`, `arrow table`, `csv stream`… */
  name: string;
}

/** Stages `data` for `schema`; nothing is left behind when reading it fails half-way. */
export async function stageData(
  uploads: StagedUploads,
  data: IngestData,
  schema: FeatureSetSchema,
  options: { format?: IngestDataFormat | undefined; name?: string | undefined },
): Promise<StagedData> {
  const bytes = dataBytes(data, schema, options.format);
  const name = options.name ?? bytes.name;
  const upload = await uploads.stage(bytes.chunks, { format: bytes.format, name });
  return { upload, name };
}

/**
 * An error of the ingestion of staged data, naming the caller's data instead of the staging
 * object: `row 3 of the rows (counted from 1), column "amount": …` rather than the object's
 * file name and its JSON record number.
 */
export function namedByData(error: unknown, staged: StagedData): unknown {
  if (!(error instanceof ValidationError)) return error;
  const file = staged.upload.key.slice(staged.upload.key.lastIndexOf('/') + 1);
  if (!error.message.includes(file)) return error;
  const rows = staged.upload.format === 'json';
  const message = error.message
    .replace(
      new RegExp(`${literalPattern(file)} row (\\d+) \\(([^)]*)\\)`),
      (_, row: string, counted: string) =>
        `row ${row} of the ${staged.name} (${rows ? 'counted from 1' : counted})`,
    )
    .replaceAll(file, `the ${staged.name}`);
  const { file: _file, ...details } = error.details;
  return new ValidationError(message, {
    cause: error,
    details: { ...details, source: staged.name },
  });
}

function literalPattern(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
