import {
  type AsOf as AsOfMessage,
  DataFormat as DataFormatMessage,
  type FeatureStatistics as FeatureStatisticsMessage,
  type Ingestion as IngestionMessage,
  type Job as JobMessage,
  JobState as JobStateMessage,
  OutputFormat as OutputFormatMessage,
} from '@featurestore/protocol/featurestore/v1/data';
import { ValidationError } from './errors.js';
import type {
  AsOf,
  DataFormat,
  FeatureStatistics,
  Ingestion,
  Job,
  JobState,
  OutputFormat,
} from './records.js';

/* Jobs, ingestions, formats: data.proto messages ↔ the client's records. */

const JOB_STATES: Record<JobState, JobStateMessage> = {
  pending: JobStateMessage.JOB_STATE_PENDING,
  running: JobStateMessage.JOB_STATE_RUNNING,
  succeeded: JobStateMessage.JOB_STATE_SUCCEEDED,
  failed: JobStateMessage.JOB_STATE_FAILED,
  cancelled: JobStateMessage.JOB_STATE_CANCELLED,
};

const DATA_FORMATS: Record<DataFormat, DataFormatMessage> = {
  csv: DataFormatMessage.DATA_FORMAT_CSV,
  parquet: DataFormatMessage.DATA_FORMAT_PARQUET,
  json: DataFormatMessage.DATA_FORMAT_JSON,
};

const OUTPUT_FORMATS: Record<OutputFormat, OutputFormatMessage> = {
  csv: OutputFormatMessage.OUTPUT_FORMAT_CSV,
  parquet: OutputFormatMessage.OUTPUT_FORMAT_PARQUET,
};

function keyOf<K extends string, V>(table: Record<K, V>, value: V): K | undefined {
  return (Object.keys(table) as K[]).find((key) => table[key] === value);
}

function choice<K extends string, V>(table: Record<K, V>, value: K, field: string): V {
  const found = table[value];
  if (found === undefined) {
    throw new ValidationError(
      `${field} ${JSON.stringify(value)} is unknown: use ${Object.keys(table).join(', ')}`,
      { details: { field, value: String(value) } },
    );
  }
  return found;
}

export function jobStateMessage(state: JobState | undefined): JobStateMessage {
  return state === undefined
    ? JobStateMessage.JOB_STATE_UNSPECIFIED
    : choice(JOB_STATES, state, 'state');
}

export function dataFormatMessage(format: DataFormat | undefined, field = 'format') {
  return format === undefined
    ? DataFormatMessage.DATA_FORMAT_UNSPECIFIED
    : choice(DATA_FORMATS, format, field);
}

export function outputFormatMessage(format: OutputFormat | undefined): OutputFormatMessage {
  return format === undefined
    ? OutputFormatMessage.OUTPUT_FORMAT_UNSPECIFIED
    : choice(OUTPUT_FORMATS, format, 'format');
}

export function asOfMessage(asOf: AsOf | undefined): AsOfMessage | undefined {
  if (asOf === undefined) return undefined;
  return 'ingestionId' in asOf ? { ingestionId: asOf.ingestionId } : { time: asOf.time };
}

function parsedJson(text: string): Record<string, unknown> | undefined {
  return text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
}

export function jobOf(message: JobMessage | undefined): Job {
  if (message === undefined) {
    throw new ValidationError("the server's answer has no job: is it a Featurestore server?");
  }
  const result = parsedJson(message.resultJson);
  // In the order the engine's records have them, so output is the same remote and embedded.
  return {
    id: message.id,
    type: message.type,
    state: keyOf(JOB_STATES, message.state) ?? 'pending',
    progress: message.progress,
    request: parsedJson(message.requestJson) ?? {},
    cancelRequested: message.cancelRequested,
    createdBy: message.createdBy,
    createdAt: message.createdAt ?? new Date(0),
    ...(message.message === '' ? {} : { message: message.message }),
    ...(result === undefined ? {} : { result }),
    ...(message.error
      ? { error: { code: message.error.code, message: message.error.message } }
      : {}),
    ...(message.projectId === '' ? {} : { projectId: message.projectId }),
    ...(message.startedAt ? { startedAt: message.startedAt } : {}),
    ...(message.finishedAt ? { finishedAt: message.finishedAt } : {}),
  };
}

function statisticsOf(message: FeatureStatisticsMessage): FeatureStatistics {
  return {
    count: message.count,
    nulls: message.nulls,
    ...(message.minJson === '' ? {} : { min: JSON.parse(message.minJson) }),
    ...(message.maxJson === '' ? {} : { max: JSON.parse(message.maxJson) }),
    ...(message.mean === undefined ? {} : { mean: message.mean }),
    ...(message.stddev === undefined ? {} : { stddev: message.stddev }),
    ...(message.approxDistinct === undefined ? {} : { approxDistinct: message.approxDistinct }),
  };
}

export function ingestionOf(message: IngestionMessage): Ingestion {
  const format = keyOf(DATA_FORMATS, message.format);
  return {
    id: message.id,
    sequence: message.sequence,
    state: message.state as Ingestion['state'],
    source: message.source,
    ...(format === undefined ? {} : { format }),
    rowCount: message.rowCount,
    ...(message.idempotencyKey === '' ? {} : { idempotencyKey: message.idempotencyKey }),
    major: message.major,
    ...(message.jobId === '' ? {} : { jobId: message.jobId }),
    committedBy: message.committedBy,
    committedAt: message.committedAt ?? new Date(0),
    ...(message.revertedAt ? { revertedAt: message.revertedAt } : {}),
    statistics: Object.fromEntries(
      Object.entries(message.statistics).map(([name, value]) => [name, statisticsOf(value)]),
    ),
    statisticsWithheld: message.statisticsWithheld,
  };
}
