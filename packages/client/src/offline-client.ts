import { CoreServiceService as Core } from '@featurestore/protocol/featurestore/v1/core';
import type { CallRunner } from './call-runner.js';
import type { CallOptions } from './client-options.js';
import {
  asOfMessage,
  dataFormatMessage,
  ingestionOf,
  jobOf,
  outputFormatMessage,
} from './data-messages.js';
import {
  type DownloadTarget,
  type UploadSource,
  uploadFormat,
  uploadName,
  uploadParts,
  writeDownload,
} from './file-transfer.js';
import type { AsOf, DataFormat, Ingestion, Job, OutputFormat } from './records.js';

export interface IngestOptions {
  /** From the file names when not given. */
  format?: DataFormat;
  /** A retry with the same key returns the first ingestion instead of ingesting again. */
  idempotencyKey?: string;
  /** Ignore source columns the schema lacks instead of refusing the file. */
  ignoreExtraColumns?: boolean;
  /** Answer once the job has ended (a call cancelled while waiting cancels the job). */
  wait?: boolean;
}

export interface RetrieveOptions {
  version?: string;
  asOf?: AsOf;
  from?: Date;
  to?: Date;
  /** Only the latest row per key. */
  latest?: boolean;
  format?: OutputFormat;
  wait?: boolean;
}

export interface HistoricalOptions {
  /** `P/FS:FEATURE`, `P/FS@V:FEATURE` or `P/FS:*`, several feature sets allowed. */
  features: readonly string[];
  /** The entity file's timestamp column. */
  entityTime: string;
  /** The entity file: a URI the server reads, or a local file or stream uploaded. */
  entities: string | UploadSource;
  entityFormat?: DataFormat;
  asOf?: AsOf;
  format?: OutputFormat;
  wait?: boolean;
}

/** How long a call that waits for its job may take unless the caller says (a day). */
const WAITING_DEADLINE_MS = 24 * 60 * 60 * 1000;

/**
 * Ingestion, history, revert, retrieve and historical, as the engine's `offline` service, with
 * upload and download helpers: local files and streams go up by client streaming and outputs
 * come down by server streaming, in constant memory for any size.
 */
export class OfflineClient {
  readonly #calls: CallRunner;

  constructor(calls: CallRunner) {
    this.#calls = calls;
  }

  /**
   * Ingests a file or folder: a URI the server reads (`s3://…`, a path under its landing
   * roots), or `{ path }` / `{ stream, fileName }` uploaded from here. Returns the job (ended,
   * with `wait`). By URI with an idempotency key, the call is retried on UNAVAILABLE.
   */
  async ingest(
    project: string,
    featureSet: string,
    source: string | UploadSource,
    ingestOptions: IngestOptions = {},
    options: CallOptions = {},
  ): Promise<Job> {
    const wire = {
      idempotencyKey: ingestOptions.idempotencyKey ?? '',
      ignoreExtraColumns: ingestOptions.ignoreExtraColumns === true,
      wait: ingestOptions.wait === true,
    };
    const callOptions = waiting(options, ingestOptions.wait);
    if (typeof source === 'string') {
      const answer = await this.#calls.unary(
        Core.ingest,
        {
          project,
          featureSet,
          source,
          format: dataFormatMessage(ingestOptions.format),
          options: wire,
        },
        ingestOptions.idempotencyKey === undefined ? 'once' : 'idempotent',
        callOptions,
      );
      return jobOf(answer.job);
    }
    const header = {
      project,
      featureSet,
      format: dataFormatMessage(uploadFormat(source, ingestOptions.format)),
      fileName: uploadName(source),
      options: wire,
    };
    const messages = async function* () {
      yield { header };
      yield* uploadParts(source);
    };
    return jobOf((await this.#calls.clientStream(Core.ingestUpload, messages(), callOptions)).job);
  }

  /** The ingestions of a feature set's major version (latest unless `version`), oldest first. */
  async ingestions(
    project: string,
    featureSet: string,
    version?: string,
    options?: CallOptions,
  ): Promise<Ingestion[]> {
    const { ingestions } = await this.#calls.unary(
      Core.listIngestions,
      { project, featureSet, version: version ?? '' },
      'idempotent',
      options,
    );
    return ingestions.map(ingestionOf);
  }

  /** One ingestion with its statistics (those of features the caller may read). */
  async ingestion(
    project: string,
    featureSet: string,
    ingestionId: string,
    version?: string,
    options?: CallOptions,
  ): Promise<Ingestion> {
    return ingestionOf(
      await this.#calls.unary(
        Core.getIngestion,
        { project, featureSet, ingestionId, version: version ?? '' },
        'idempotent',
        options,
      ),
    );
  }

  /** Reverts an ingestion: its rows stop being read. Returns the job (ended, with `wait`). */
  async revert(
    project: string,
    featureSet: string,
    ingestionId: string,
    input: { wait?: boolean } = {},
    options: CallOptions = {},
  ): Promise<Job> {
    const answer = await this.#calls.unary(
      Core.revertIngestion,
      { project, featureSet, ingestionId, wait: input.wait === true },
      'once',
      waiting(options, input.wait),
    );
    return jobOf(answer.job);
  }

  /** Starts writing a feature set's rows to an output file; `download` fetches it. */
  async retrieve(
    project: string,
    featureSet: string,
    input: RetrieveOptions = {},
    options: CallOptions = {},
  ): Promise<Job> {
    const answer = await this.#calls.unary(
      Core.retrieve,
      {
        project,
        featureSet,
        version: input.version ?? '',
        asOf: asOfMessage(input.asOf),
        from: input.from,
        to: input.to,
        latest: input.latest === true,
        format: outputFormatMessage(input.format),
        wait: input.wait === true,
      },
      'once',
      waiting(options, input.wait),
    );
    return jobOf(answer.job);
  }

  /**
   * A point-in-time correct training set: the features as they were at each entity row's
   * time. The entity file is uploaded unless it is a URI the server reads.
   */
  async historical(input: HistoricalOptions, options: CallOptions = {}): Promise<Job> {
    const uploaded = typeof input.entities !== 'string';
    const header = {
      features: [...input.features],
      entityTime: input.entityTime,
      entities: typeof input.entities === 'string' ? input.entities : '',
      entityFormat: dataFormatMessage(
        typeof input.entities === 'string'
          ? input.entityFormat
          : uploadFormat(input.entities, input.entityFormat),
        'entityFormat',
      ),
      entityFileName: typeof input.entities === 'string' ? '' : uploadName(input.entities),
      asOf: asOfMessage(input.asOf),
      format: outputFormatMessage(input.format),
      wait: input.wait === true,
    };
    const entities = input.entities;
    const messages = async function* () {
      yield { header };
      if (uploaded) {
        yield* uploadParts(entities as UploadSource);
      }
    };
    const answer = await this.#calls.clientStream(
      Core.historical,
      messages(),
      waiting(options, input.wait),
    );
    return jobOf(answer.job);
  }

  /**
   * Downloads the output of a succeeded retrieve or historical job to a local path (removed
   * again if the download fails) or a stream; returns the byte count. `removeAfter` deletes
   * the output from the server's storage once it is all sent.
   */
  async download(
    jobId: string,
    target: DownloadTarget,
    input: { removeAfter?: boolean } = {},
    options?: CallOptions,
  ): Promise<number> {
    const chunks = this.#calls.serverStream(
      Core.downloadOutput,
      { jobId, removeAfter: input.removeAfter === true },
      options,
    );
    return writeDownload(
      (async function* () {
        for await (const chunk of chunks) yield chunk.data;
      })(),
      target,
    );
  }
}

/** A waiting call gets a long deadline unless the caller gave one. */
function waiting(options: CallOptions, wait: boolean | undefined): CallOptions {
  return wait && options.deadlineMs === undefined
    ? { ...options, deadlineMs: WAITING_DEADLINE_MS }
    : options;
}
