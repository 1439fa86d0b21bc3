import { stat } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import type { FeatureStoreClient, Job as RemoteJob, UploadSource } from '@featurestore/client';
import {
  CancelledError,
  type FeatureStoreError,
  type Job,
  type JobService,
  NotSupportedError,
  type RunningJob,
} from '@featurestore/core';
import { coreError, coreErrorOf } from './remote-engine.js';

/*
 * The engine's data services (offline, jobs, outputs, online reads) as the CLI's commands
 * call them, answered by a server: local files named on the command line are uploaded,
 * outputs downloaded, and a started job is followed through the job RPCs, so a command's
 * `RunningJob` settles as an in-process one does (its result, or its error as core's class).
 */

async function remote<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw coreErrorOf(error);
  }
}

/** The error a failed or cancelled job ended with, as the core error of its code. */
function jobFailure(job: RemoteJob): FeatureStoreError {
  if (job.state === 'cancelled') {
    return new CancelledError(job.error?.message ?? `job ${job.id} was cancelled`);
  }
  return coreError(job.error?.code ?? 'INTERNAL', job.error?.message ?? `job ${job.id} failed`);
}

/** A job the server started, as the engine's `RunningJob`: its result once it has ended. */
function running<T>(client: FeatureStoreClient, job: RemoteJob): RunningJob<T> {
  const result = remote(client.jobs.wait(job.id)).then((final) => {
    if (final.state === 'succeeded') return (final.result ?? {}) as T;
    throw jobFailure(final);
  });
  // Followed by whoever awaits it; never an unhandled rejection meanwhile.
  result.catch(() => undefined);
  return { job: job as unknown as Job, result };
}

/** A URI the server reads (`s3://…`, `abfss://…`) stays one; anything else is a local file. */
async function sourceOf(source: string, option: string): Promise<string | UploadSource> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return source;
  const found = await stat(source).catch(() => undefined);
  if (found?.isDirectory()) {
    throw new NotSupportedError(
      `${option} ${source} is a folder: a server takes uploads one file at a time; send each file, or put them where the server reads (s3://…)`,
      { details: { field: option, value: source } },
    );
  }
  return { path: source };
}

type Jobs = Pick<JobService, 'get' | 'list' | 'wait' | 'cancel'>;

export function remoteJobs(client: FeatureStoreClient): Jobs {
  return {
    get: async (_principal, id) => (await remote(client.jobs.get(id))) as unknown as Job,
    list: async (_principal, filter = {}) =>
      (await remote(
        client.jobs.list({
          ...(filter.state === undefined ? {} : { state: filter.state }),
          ...(filter.type === undefined ? {} : { type: filter.type }),
          ...(filter.pageSize === undefined ? {} : { pageSize: filter.pageSize }),
          ...(filter.pageToken === undefined ? {} : { pageToken: filter.pageToken }),
        }),
      )) as unknown as Awaited<ReturnType<Jobs['list']>>,
    wait: async (_principal, id, options = {}) =>
      (await remote(
        client.jobs.wait(
          id,
          options.timeoutMs === undefined ? {} : { deadlineMs: options.timeoutMs },
        ),
      )) as unknown as Job,
    cancel: async (_principal, id) => (await remote(client.jobs.cancel(id))) as unknown as Job,
  };
}

/** `offline`: ingest (uploading a local file), ingestions, revert, retrieve, historical. */
export function remoteOffline(client: FeatureStoreClient) {
  const { offline } = client;
  return {
    ingest: async (
      _principal: unknown,
      project: string,
      featureSet: string,
      source: string,
      options: {
        format?: 'csv' | 'parquet' | 'json';
        idempotencyKey?: string;
        ignoreExtraColumns?: boolean;
      } = {},
    ) => {
      const job = await remote(
        offline.ingest(project, featureSet, await sourceOf(source, 'source'), {
          ...(options.format === undefined ? {} : { format: options.format }),
          ...(options.idempotencyKey === undefined
            ? {}
            : { idempotencyKey: options.idempotencyKey }),
          ignoreExtraColumns: options.ignoreExtraColumns === true,
        }),
      );
      return running(client, job);
    },
    ingestions: async (
      _principal: unknown,
      project: string,
      featureSet: string,
      version?: string,
    ) => remote(offline.ingestions(project, featureSet, version)),
    revert: async (_principal: unknown, project: string, featureSet: string, ingestionId: string) =>
      running(client, await remote(offline.revert(project, featureSet, ingestionId))),
    retrieve: async (
      _principal: unknown,
      project: string,
      featureSet: string,
      options: {
        version?: string;
        asOf?: { ingestionId: string } | { time: Date };
        from?: Date;
        to?: Date;
        latest?: boolean;
        format?: 'csv' | 'parquet';
      } = {},
    ) =>
      running(
        client,
        await remote(
          offline.retrieve(project, featureSet, {
            ...(options.version === undefined ? {} : { version: options.version }),
            ...(options.asOf === undefined ? {} : { asOf: options.asOf }),
            ...(options.from === undefined ? {} : { from: options.from }),
            ...(options.to === undefined ? {} : { to: options.to }),
            latest: options.latest === true,
            ...(options.format === undefined ? {} : { format: options.format }),
          }),
        ),
      ),
    historical: async (
      _principal: unknown,
      options: {
        entities: string;
        entityTime: string;
        features: string | readonly string[];
        asOf?: { ingestionId: string } | { time: Date };
        format?: 'csv' | 'parquet';
      },
    ) =>
      running(
        client,
        await remote(
          offline.historical({
            entities: await sourceOf(options.entities, '--entities'),
            entityTime: options.entityTime,
            features: typeof options.features === 'string' ? [options.features] : options.features,
            ...(options.asOf === undefined ? {} : { asOf: options.asOf }),
            ...(options.format === undefined ? {} : { format: options.format }),
          }),
        ),
      ),
  };
}

/**
 * `outputs`: a job's output read by downloading it (and removing it from the server's storage,
 * as the CLI does once it has its copy), so `remove(…, { reason: 'copied' })` is done already.
 */
export function remoteOutputs(client: FeatureStoreClient) {
  return {
    read: async (_principal: unknown, jobId: string): Promise<Readable> => {
      const stream = new PassThrough();
      client.offline
        .download(jobId, stream, { removeAfter: true })
        .catch((error: unknown) => stream.destroy(coreErrorOf(error) as Error));
      return stream;
    },
    remove: async (
      _principal: unknown,
      jobId: string,
      options: { reason?: string; dryRun?: boolean } = {},
    ) => {
      if (options.reason !== 'copied') {
        throw new NotSupportedError(
          'removing job outputs is not offered by the server yet: run featurestore jobs clean where the store opens',
          { details: { field: 'endpoint' } },
        );
      }
      return { jobId, files: 0, bytes: 0, reason: 'copied' };
    },
  };
}

/**
 * `online`: reads (with the columns past their time to live), pushes and
 * materializations. A push batch answers once its rows are readable online and committed
 * offline (`waitApplied` and `waitSynced` on the call), so the CLI's own waits after it have
 * nothing left to wait for.
 */
export function remoteOnline(client: FeatureStoreClient) {
  const read = (request: {
    features: readonly string[];
    entities: readonly Record<string, unknown>[];
  }) => remote(client.online.getOnlineFeatures(request));
  return {
    getOnlineFeatures: (_principal: unknown, request: Parameters<typeof read>[0]) => read(request),
    readOnlineFeatures: (_principal: unknown, request: Parameters<typeof read>[0]) =>
      remote(client.online.readOnlineFeatures(request)),
    materialize: async (
      _principal: unknown,
      project: string,
      featureSet: string,
      options: { version?: string; rebuild?: boolean } = {},
    ) => {
      const { jobId } = await remote(client.online.materialize(project, featureSet, options));
      return running(client, await remote(client.jobs.get(jobId)));
    },
    push: (
      _principal: unknown,
      project: string,
      featureSet: string,
      rows: readonly Record<string, unknown>[],
      options: { timeoutMs?: number } = {},
    ) =>
      remote(
        client.online.push(project, featureSet, rows, {
          ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          waitApplied: true,
          waitSynced: true,
        }),
      ),
    // Done by each push already (see above).
    waitApplied: async () => undefined,
    waitSynced: async () => undefined,
  };
}

/** `schemaInference`: the sample file (one local file) uploaded; a URI the server reads is not. */
export function remoteSchemaInference(client: FeatureStoreClient) {
  return {
    infer: async (
      _principal: unknown,
      project: string,
      source: string,
      options: {
        primaryKey: readonly string[];
        eventTime: string;
        timeToLive?: string;
        description?: string;
        tags?: Record<string, string>;
        format?: 'csv' | 'parquet' | 'json';
      },
    ) => {
      const sample = await sourceOf(source, '--schema-from');
      if (typeof sample === 'string') {
        throw new NotSupportedError(
          `--schema-from ${source}: a server infers schemas from uploaded samples only: give a local file`,
          { details: { field: '--schema-from', value: source } },
        );
      }
      return remote(client.schemaInference.infer(project, sample, options));
    },
  };
}
