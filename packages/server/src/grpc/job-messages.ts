import {
  type AsOf as EngineAsOf,
  type DataFormat as EngineDataFormat,
  type FeatureStatistics as EngineFeatureStatistics,
  type Job as EngineJob,
  type JobState as EngineJobState,
  type IngestionView,
  ValidationError,
} from '@featurestore/core';
import {
  type AsOf,
  DataFormat,
  type FeatureStatistics,
  type Ingestion,
  type Job,
  JobState,
  OutputFormat,
} from '@featurestore/protocol/featurestore/v1/data';

/*
 * Jobs, ingestions and formats: engine records ↔ protobuf messages of data.proto. Job
 * requests and results vary by job type, so they travel as JSON.
 */

const JOB_STATE: Record<EngineJobState, JobState> = {
  pending: JobState.JOB_STATE_PENDING,
  running: JobState.JOB_STATE_RUNNING,
  succeeded: JobState.JOB_STATE_SUCCEEDED,
  failed: JobState.JOB_STATE_FAILED,
  cancelled: JobState.JOB_STATE_CANCELLED,
};

const DATA_FORMAT: Record<EngineDataFormat, DataFormat> = {
  csv: DataFormat.DATA_FORMAT_CSV,
  parquet: DataFormat.DATA_FORMAT_PARQUET,
  json: DataFormat.DATA_FORMAT_JSON,
};

export function jobMessage(job: EngineJob): Job {
  return {
    id: job.id,
    type: job.type,
    state: JOB_STATE[job.state],
    progress: job.progress,
    message: job.message ?? '',
    requestJson: JSON.stringify(job.request),
    resultJson: job.result === undefined ? '' : JSON.stringify(job.result),
    error: job.error,
    cancelRequested: job.cancelRequested,
    createdBy: job.createdBy,
    projectId: job.projectId ?? '',
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
  };
}

/** A job state filter from a request; none when unspecified. */
export function jobStateOf(state: JobState): EngineJobState | undefined {
  if (state === JobState.JOB_STATE_UNSPECIFIED) return undefined;
  const found = (Object.keys(JOB_STATE) as EngineJobState[]).find(
    (name) => JOB_STATE[name] === state,
  );
  if (found === undefined) {
    throw new ValidationError(`state ${state} is not a job state: use one of JobState's values`, {
      details: { field: 'state', value: String(state) },
    });
  }
  return found;
}

/** A data format from a request; `undefined` when unspecified (the file names tell). */
export function dataFormatOf(format: DataFormat, field = 'format'): EngineDataFormat | undefined {
  if (format === DataFormat.DATA_FORMAT_UNSPECIFIED) return undefined;
  const found = (Object.keys(DATA_FORMAT) as EngineDataFormat[]).find(
    (name) => DATA_FORMAT[name] === format,
  );
  if (found === undefined) {
    throw new ValidationError(
      `${field} ${format} is not a data format: use DATA_FORMAT_CSV, DATA_FORMAT_PARQUET or DATA_FORMAT_JSON`,
      { details: { field, value: String(format) } },
    );
  }
  return found;
}

/** The format of an uploaded file: required, since no file name on the server tells it. */
export function uploadFormatOf(format: DataFormat, field = 'format'): EngineDataFormat {
  const found = dataFormatOf(format, field);
  if (found === undefined) {
    throw new ValidationError(
      `${field} is required for an upload: declare the file's format (DATA_FORMAT_CSV, DATA_FORMAT_PARQUET or DATA_FORMAT_JSON)`,
      { details: { field } },
    );
  }
  return found;
}

export function outputFormatOf(format: OutputFormat): 'csv' | 'parquet' {
  if (format === OutputFormat.OUTPUT_FORMAT_PARQUET) return 'parquet';
  if (
    format === OutputFormat.OUTPUT_FORMAT_CSV ||
    format === OutputFormat.OUTPUT_FORMAT_UNSPECIFIED
  )
    return 'csv';
  throw new ValidationError(
    `format ${format} is not an output format: use OUTPUT_FORMAT_CSV or OUTPUT_FORMAT_PARQUET`,
    { details: { field: 'format', value: String(format) } },
  );
}

/** Time travel from a request; none when neither an ingestion nor a time is given. */
export function asOfOf(asOf: AsOf | undefined): EngineAsOf | undefined {
  if (asOf?.ingestionId) return { ingestionId: asOf.ingestionId };
  if (asOf?.time) return { time: asOf.time };
  return undefined;
}

function statisticsMessage(statistics: EngineFeatureStatistics): FeatureStatistics {
  return {
    count: statistics.count,
    nulls: statistics.nulls,
    minJson: statistics.min === undefined ? '' : JSON.stringify(statistics.min),
    maxJson: statistics.max === undefined ? '' : JSON.stringify(statistics.max),
    mean: statistics.mean,
    stddev: statistics.stddev,
    approxDistinct: statistics.approxDistinct,
  };
}

export function ingestionMessage(ingestion: IngestionView): Ingestion {
  return {
    id: ingestion.id,
    sequence: ingestion.sequence,
    state: ingestion.state,
    source: ingestion.source,
    format: DATA_FORMAT[ingestion.format],
    rowCount: ingestion.rowCount,
    idempotencyKey: ingestion.idempotencyKey ?? '',
    major: ingestion.major,
    jobId: ingestion.jobId ?? '',
    committedBy: ingestion.committedBy,
    committedAt: ingestion.committedAt,
    revertedAt: ingestion.revertedAt,
    statistics: Object.fromEntries(
      Object.entries(ingestion.statistics).map(([name, value]) => [name, statisticsMessage(value)]),
    ),
    statisticsWithheld: ingestion.statisticsWithheld ?? [],
  };
}
