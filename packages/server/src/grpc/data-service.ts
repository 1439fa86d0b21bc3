import { setTimeout as sleep } from 'node:timers/promises';
import {
  type FeatureStoreEngine,
  isTerminal,
  NotFoundError,
  type Principal,
  type RunningJob,
  type StagedUpload,
  StagedUploads,
} from '@featurestore/core';
import type { CoreServiceServer } from '@featurestore/protocol/featurestore/v1/core';
import type { IngestOptions, JobResponse } from '@featurestore/protocol/featurestore/v1/data';
import type { CallAuthenticator } from './call-authenticator.js';
import { clientStreaming, serverStreaming, unary } from './call-handlers.js';
import { given } from './core-messages.js';
import { sendFile } from './download-stream.js';
import {
  asOfOf,
  dataFormatOf,
  ingestionMessage,
  jobMessage,
  jobStateOf,
  outputFormatOf,
  uploadFormatOf,
} from './job-messages.js';
import { expectNoChunks, readUpload } from './upload-stream.js';

/** How often `WatchJob` reads the job's record (the job may run in another process). */
const WATCH_INTERVAL_MS = 100;

/** The data RPCs of CoreService (their messages are in data.proto). */
type DataRpcs = Pick<
  CoreServiceServer,
  | 'ingest'
  | 'ingestUpload'
  | 'getJob'
  | 'listJobs'
  | 'cancelJob'
  | 'watchJob'
  | 'listIngestions'
  | 'getIngestion'
  | 'revertIngestion'
  | 'retrieve'
  | 'historical'
  | 'downloadOutput'
  | 'inferSchema'
>;

/**
 * CoreService's data RPCs: ingestion from a storage URI or an uploaded file, jobs and their
 * progress, ingestion history, statistics and revert, retrieve and historical with their
 * outputs downloaded, and schema inference from an uploaded sample. Uploads are staged as
 * one object in the store's storage (`StagedUploads`) and read from there by the normal
 * engine calls; the staging object is removed when the work that reads it ends, whatever
 * its outcome.
 */
export function dataService(
  engine: FeatureStoreEngine,
  authenticator: CallAuthenticator,
): DataRpcs {
  const { offline, jobs, outputs, featureSets, schemaInference } = engine;
  const uploads = new StagedUploads(engine.drivers.storage);

  /**
   * The job as the response: at once, or, with `wait`, once it ended (a failed job fails the
   * call with its error). A call that ends while it waits cancels the job.
   */
  const respond = async (
    principal: Principal,
    running: RunningJob<Record<string, unknown>>,
    wait: boolean,
    signal: AbortSignal,
  ): Promise<JobResponse> => {
    if (!wait || isTerminal(running.job.state)) return { job: jobMessage(running.job) };
    const cancel = () => {
      jobs.cancel(principal, running.job.id).catch(() => undefined);
    };
    signal.addEventListener('abort', cancel, { once: true });
    try {
      await running.result;
    } finally {
      signal.removeEventListener('abort', cancel);
    }
    return { job: jobMessage(await jobs.get(principal, running.job.id)) };
  };

  /**
   * Runs `start` on a staged upload unless the call was cut off meanwhile, and removes the
   * staging object once its job ends (or at once when it does not start).
   */
  const withStaged = async <T>(
    staged: StagedUpload,
    signal: AbortSignal,
    start: () => Promise<RunningJob<T>>,
  ): Promise<RunningJob<T>> => {
    const remove = () => uploads.remove(staged).catch(() => undefined);
    const checkedStart = async () => {
      // A cut-off call may be told only now, once its bytes were written: nothing starts.
      signal.throwIfAborted();
      return start();
    };
    const running = await checkedStart().catch(async (error: unknown) => {
      await remove();
      throw error;
    });
    running.result.then(remove, remove);
    return running;
  };

  const ingestOptions = (options: IngestOptions | undefined) => ({
    idempotencyKey: given(options?.idempotencyKey ?? ''),
    ignoreExtraColumns: options?.ignoreExtraColumns === true,
  });

  return {
    ingest: unary(authenticator, async (principal, request, signal) => {
      const running = await offline.ingest(
        principal,
        request.project,
        request.featureSet,
        request.source,
        { ...ingestOptions(request.options), format: dataFormatOf(request.format) },
      );
      return respond(principal, running, request.options?.wait === true, signal);
    }),

    ingestUpload: clientStreaming(authenticator, async (principal, call, signal) => {
      const { header, chunks } = await readUpload(call, signal, 'IngestUpload');
      const format = uploadFormatOf(header.format);
      // Before the bytes: an unknown feature set (or one the caller may not see) fails at once.
      await featureSets.get(principal, header.project, header.featureSet);
      const staged = await uploads.stage(chunks, { format, name: header.fileName, signal });
      const running = await withStaged(staged, signal, () =>
        offline.ingest(principal, header.project, header.featureSet, staged, {
          ...ingestOptions(header.options),
          format,
        }),
      );
      return respond(principal, running, header.options?.wait === true, signal);
    }),

    getJob: unary(authenticator, async (principal, request) =>
      jobMessage(await jobs.get(principal, request.id)),
    ),
    listJobs: unary(authenticator, async (principal, request) => {
      const page = await jobs.list(principal, {
        state: jobStateOf(request.state),
        type: given(request.type),
        pageSize: given(request.pageSize),
        pageToken: given(request.pageToken),
      });
      return { jobs: page.items.map(jobMessage), nextPageToken: page.nextPageToken ?? '' };
    }),
    cancelJob: unary(authenticator, async (principal, request) =>
      jobMessage(await jobs.cancel(principal, request.id)),
    ),
    watchJob: serverStreaming(authenticator, async (principal, call, signal) => {
      let last: string | undefined;
      for (;;) {
        const job = await jobs.get(principal, call.request.id);
        const seen = `${job.state} ${job.progress} ${job.message ?? ''}`;
        if (seen !== last) {
          call.write({ job: jobMessage(job) });
          last = seen;
        }
        if (isTerminal(job.state)) return;
        await sleep(WATCH_INTERVAL_MS, undefined, { signal });
      }
    }),

    listIngestions: unary(authenticator, async (principal, request) => ({
      ingestions: (
        await offline.ingestions(
          principal,
          request.project,
          request.featureSet,
          given(request.version),
        )
      ).map(ingestionMessage),
    })),
    getIngestion: unary(authenticator, async (principal, request) => {
      const found = (
        await offline.ingestions(
          principal,
          request.project,
          request.featureSet,
          given(request.version),
        )
      ).find((ingestion) => ingestion.id === request.ingestionId);
      if (!found) {
        throw new NotFoundError(
          `ingestion ${request.ingestionId} is not one of ${request.project}/${request.featureSet}${request.version === '' ? '' : ` version ${request.version}`}: list its ingestions`,
          { details: { field: 'ingestionId', value: request.ingestionId } },
        );
      }
      return ingestionMessage(found);
    }),
    revertIngestion: unary(authenticator, async (principal, request, signal) =>
      respond(
        principal,
        await offline.revert(principal, request.project, request.featureSet, request.ingestionId),
        request.wait,
        signal,
      ),
    ),

    retrieve: unary(authenticator, async (principal, request, signal) => {
      const asOf = asOfOf(request.asOf);
      const running = await offline.retrieve(principal, request.project, request.featureSet, {
        ...(request.version === '' ? {} : { version: request.version }),
        ...(asOf === undefined ? {} : { asOf }),
        ...(request.from === undefined ? {} : { from: request.from }),
        ...(request.to === undefined ? {} : { to: request.to }),
        ...(request.latest ? { latest: true } : {}),
        format: outputFormatOf(request.format),
      });
      return respond(principal, running, request.wait, signal);
    }),
    historical: clientStreaming(authenticator, async (principal, call, signal) => {
      const { header, chunks } = await readUpload(call, signal, 'Historical');
      const asOf = asOfOf(header.asOf);
      const options = {
        entityTime: header.entityTime,
        features: header.features,
        ...(asOf === undefined ? {} : { asOf }),
        format: outputFormatOf(header.format),
      };
      if (header.entities !== '') {
        await expectNoChunks(chunks, 'Historical');
        const running = await offline.historical(principal, {
          ...options,
          entities: header.entities,
          entityFormat: dataFormatOf(header.entityFormat, 'entityFormat'),
        });
        return respond(principal, running, header.wait, signal);
      }
      const entityFormat = uploadFormatOf(header.entityFormat, 'entityFormat');
      const staged = await uploads.stage(chunks, {
        format: entityFormat,
        name: header.entityFileName,
        signal,
      });
      const running = await withStaged(staged, signal, () =>
        offline.historical(principal, { ...options, entities: staged, entityFormat }),
      );
      return respond(principal, running, header.wait, signal);
    }),
    downloadOutput: serverStreaming(authenticator, async (principal, call, signal) => {
      const source = await outputs.read(principal, call.request.jobId);
      await sendFile(call, source, signal);
      if (call.request.removeAfter) {
        await outputs.remove(principal, call.request.jobId, { reason: 'copied' });
      }
    }),

    inferSchema: clientStreaming(authenticator, async (principal, call, signal) => {
      const { header, chunks } = await readUpload(call, signal, 'InferSchema');
      const format = uploadFormatOf(header.format);
      const staged = await uploads.stage(chunks, { format, name: header.fileName, signal });
      try {
        signal.throwIfAborted();
        const inferred = await schemaInference.infer(principal, header.project, staged, {
          primaryKey: header.primaryKey,
          eventTime: header.eventTime,
          format,
          signal,
          ...(header.timeToLive === '' ? {} : { timeToLive: header.timeToLive }),
          ...(header.description === '' ? {} : { description: header.description }),
          ...(Object.keys(header.tags).length === 0 ? {} : { tags: header.tags }),
        });
        const { definition } = inferred;
        return {
          schema: {
            primaryKey: [...definition.primaryKey],
            eventTime: definition.eventTime,
            features: definition.features.map((feature) => ({
              name: feature.name,
              type: feature.type,
              description: feature.description ?? '',
              tags: feature.tags ?? {},
              sensitive: feature.sensitive ?? false,
            })),
          },
          timeToLive: definition.timeToLive ?? '',
          description: definition.description ?? '',
          tags: definition.tags ?? {},
          notes: inferred.notes,
          rowCount: inferred.rowCount,
        };
      } finally {
        await uploads.remove(staged).catch(() => undefined);
      }
    }),
  };
}
