import { randomUUID } from 'node:crypto';
import type { Authorizer } from '../auth/authorizer.js';
import {
  authorizeSelection,
  guardFeatureSet,
  readableStatistics,
  selectAllColumns,
  selectFeatures,
} from '../auth/feature-access.js';
import { type IngestData, type IngestDataFormat, isIngestData } from '../data/ingest-data.js';
import { OutputData } from '../data/output-data.js';
import type { ColumnType } from '../data/output-values.js';
import { namedByData, stageData } from '../data/staged-data.js';
import {
  AlreadyExistsError,
  FeatureStoreError,
  NotFoundError,
  ValidationError,
} from '../errors.js';
import type { JobService, RunningJob } from '../jobs/job-service.js';
import { phaseContext } from '../jobs/phase-context.js';
import { authorizedFeatureSet } from '../metadata/lookups.js';
import { parseDuration } from '../model/duration.js';
import { statisticsLevel } from '../model/feature-set-settings.js';
import type { Ingestion, Job } from '../model/offline-records.js';
import type { FeatureSet, Project } from '../model/records.js';
import { formatVersion } from '../model/version.js';
import type {
  ComputeEngine,
  DataFormat,
  HistoricalFeatureSetSpec,
  JobRunContext,
} from '../ports/compute-engine.js';
import type { Principal } from '../ports/identity-provider.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import type { ObjectStorage } from '../ports/object-storage.js';
import { listAll } from '../storage/object-keys.js';
import { type FeatureRef, parseFeatureRefs } from './feature-ref.js';
import { SourceAccess, type SourceAccessOptions } from './source-access.js';
import { type ResolvedSource, resolveSource } from './sources.js';
import { StagedUpload, StagedUploads, sourceDescription } from './staged-uploads.js';
import { FEATURE_SETS_PREFIX, ingestionPrefix, jobOutputKey } from './storage-layout.js';
import { type StorageLocator, storageRoot } from './storage-locator.js';
import { type AsOf, toInputs, visibleIngestions } from './time-travel.js';

export interface IngestOptions {
  format?: DataFormat;
  /** A retry with the same key returns the first ingestion instead of ingesting again. */
  idempotencyKey?: string;
  /** Ignore source columns the schema lacks instead of refusing the file. */
  ignoreExtraColumns?: boolean;
}

/**
 * `ingest` options for data in memory (`IngestData`): `format` says how to read bytes (`csv`,
 * `json` for JSON Lines, `parquet`, or `arrow` for an Arrow IPC stream) and is left out for
 * rows and Arrow tables; `sourceName` is what the ingestion records as its source.
 */
export interface IngestDataOptions extends Omit<IngestOptions, 'format'> {
  format?: IngestDataFormat;
  /** Recorded as the ingestion's source (`upload:<name>`); default `rows`, `arrow table`… */
  sourceName?: string;
}

export interface IngestResult extends Record<string, unknown> {
  ingestionId: string;
  sequence: number;
  rowCount: number;
  featureSet: string;
  version: string;
  /** True when an earlier ingestion with the same idempotency key was returned. */
  reused: boolean;
}

export interface OutputResult extends Record<string, unknown> {
  /** Storage key of the output file. */
  outputKey: string;
  rowCount: number;
  format: 'csv' | 'parquet';
}

export interface RetrieveOptions {
  /** `MAJOR` or `MAJOR.MINOR`; latest when absent. */
  version?: string;
  asOf?: AsOf;
  from?: Date;
  to?: Date;
  latest?: boolean;
  format?: 'csv' | 'parquet';
}

export interface HistoricalOptions {
  /** The entity file: key columns and a timestamp column (a path, URL or staged upload). */
  entities: string | StagedUpload;
  entityFormat?: DataFormat;
  entityTime: string;
  features: string | readonly string[] | readonly FeatureRef[];
  asOf?: AsOf;
  format?: 'csv' | 'parquet';
}

/**
 * An ingestion as a caller sees it: the statistics of features it may not read are left out
 * (statistics are data) and named in `statisticsWithheld`.
 */
export type IngestionView = Ingestion & { statisticsWithheld?: string[] };

/**
 * Durable work that follows an ingestion's commit (offline → online): recorded as pending in
 * the commit's transaction, done right after it in the ingest job, and finished by a retry
 * with the same idempotency key when a crash or a failure left it pending.
 */
export interface AfterCommit {
  /** Whether commits to `featureSet` record the work as pending. */
  pending(featureSet: FeatureSet): boolean;
  /** Whether the work of a committed ingestion is still pending. */
  isPending(ingestion: Ingestion): Promise<boolean>;
  /**
   * Does the work; what it returns is added to the job's result. A failure is reported there
   * (the ingestion stays committed and the work pending), never thrown.
   */
  run(
    featureSet: FeatureSet,
    ingestion: Ingestion,
    context: JobRunContext,
  ): Promise<Record<string, unknown>>;
  /** `run` for an earlier ingestion, also recording the outcome in the job that committed it. */
  finish(
    featureSet: FeatureSet,
    ingestion: Ingestion,
    context: JobRunContext,
  ): Promise<Record<string, unknown>>;
}

/**
 * Work that follows a revert's commit (offline → online): puts the online records that still
 * hold the reverted ingestion's values back to the remaining committed data. What it returns
 * is added to the revert job's result.
 */
export type AfterRevert = (
  featureSet: FeatureSet,
  reverted: Ingestion,
  remaining: Ingestion[],
  context: JobRunContext,
) => Promise<Record<string, unknown>>;

/** Files of failed ingestions younger than this are left alone: another process may be writing them. */
const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

/**
 * The offline engine: ingestion (all-or-nothing, idempotent), history and revert, retrieval
 * and point-in-time training sets, each run as a job on the configured `ComputeEngine`.
 */
export class OfflineEngine {
  readonly #store: MetadataStore;
  readonly #authorizer: Authorizer;
  readonly #jobs: JobService;
  readonly #compute: ComputeEngine;
  readonly #storage: ObjectStorage;
  readonly #locate: StorageLocator | undefined;
  readonly #sourceAccess: SourceAccess;
  readonly #afterCommit: AfterCommit | undefined;
  readonly #afterRevert: AfterRevert | undefined;

  constructor(deps: {
    store: MetadataStore;
    authorizer: Authorizer;
    jobs: JobService;
    compute: ComputeEngine;
    storage: ObjectStorage;
    /** Finds the storage behind `s3://…`/`abfss://…` sources and entity files. */
    locate?: StorageLocator;
    /**
     * Who may read which sources and entity files: landing roots for callers other than the
     * local owner (none by default) and the store's own folders. The storage root is always
     * protected.
     */
    sourceAccess?: SourceAccessOptions;
    /**
     * Runs inside the ingest job right after the commit (offline → online); what it returns
     * is added to the job's result. A failure there leaves the ingestion committed and the
     * work pending.
     */
    afterCommit?: AfterCommit;
    /**
     * Runs inside the revert job right after the revert commits (offline → online). A failure
     * fails the job; the ingestion stays reverted, and running the revert again retries it.
     */
    afterRevert?: AfterRevert;
  }) {
    this.#store = deps.store;
    this.#authorizer = deps.authorizer;
    this.#jobs = deps.jobs;
    this.#compute = deps.compute;
    this.#storage = deps.storage;
    this.#locate = deps.locate;
    this.#sourceAccess = new SourceAccess({
      roots: deps.sourceAccess?.roots ?? [],
      protected: [...(deps.sourceAccess?.protected ?? []), storageRoot(deps.storage)],
    });
    this.#afterCommit = deps.afterCommit;
    this.#afterRevert = deps.afterRevert;
  }

  /**
   * Expands a source for `principal` into its files and format under the rules an
   * ingestion's source follows (its access policy, the configured storages): for other
   * services that read sources, such as schema inference.
   */
  resolveSource(
    principal: Principal,
    source: string | StagedUpload,
    format: DataFormat | undefined,
  ): Promise<ResolvedSource> {
    return this.#resolveInput(principal, source, 'source', format);
  }

  /**
   * Ingests a source into the latest version of a feature set. The rows become visible only
   * when the ingestion commits; on any error nothing is visible and the written files are
   * removed.
   *
   * The source is a path or URL, or data in memory (`IngestData`, docs/in-process-api.md):
   * an array or (async) iterable of rows, an apache-arrow `Table`, or bytes (a `Uint8Array`
   * or a Node stream) in `options.format` (`csv`, `json`, `parquet`, or `arrow` for an Arrow
   * IPC stream). Data is staged as a file in the store's storage while it is read (memory
   * stays bounded) and checked by the very rules files are: a bad value fails the whole
   * ingestion, naming its row and column. The staged file is removed when the job ends.
   *
   * @example
   * const { result } = await fs.engine.offline.ingest(fs.principal, 'fraud', 'transactions', [
   *   { transaction_id: 't1', ts: new Date('2024-05-01T10:00:00Z'), amount: 12.5 },
   *   { transaction_id: 't2', ts: '2024-05-01T12:00:00+02:00', amount: null },
   * ]);
   * console.log((await result).rowCount); // 2
   */
  async ingest(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    source: string | StagedUpload,
    options?: IngestOptions,
  ): Promise<RunningJob<IngestResult>>;
  async ingest(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    source: IngestData,
    options?: IngestDataOptions,
  ): Promise<RunningJob<IngestResult>>;
  async ingest(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    source: string | StagedUpload | IngestData,
    options: IngestOptions = {},
  ): Promise<RunningJob<IngestResult>> {
    if (isIngestData(source)) {
      return this.#ingestData(principal, projectName, featureSetName, source, options);
    }
    // Records and job requests name an upload (`upload:<name>`), never its staging object.
    const sourceName = sourceDescription(source);
    const { project, featureSet } = await this.#resolve(
      principal,
      projectName,
      featureSetName,
      'data.write',
    );
    if (options.idempotencyKey !== undefined) {
      const earlier = await this.#store.getIngestionByIdempotencyKey(
        featureSet.id,
        options.idempotencyKey,
      );
      if (earlier) {
        // A retry finishes what the first attempt left pending (a crash after the commit).
        return (await this.#afterCommit?.isPending(earlier))
          ? this.#finishPending(principal, project, earlier, featureSet, {
              project: projectName,
              featureSet: featureSetName,
              source: sourceName,
              ...options,
            })
          : this.#reuse(earlier, featureSet);
      }
    }
    const resolved = await this.#resolveInput(principal, source, 'source', options.format);
    return this.#jobs.start(
      principal,
      {
        type: 'ingest',
        projectId: project.id,
        request: {
          project: projectName,
          featureSet: featureSetName,
          source: sourceName,
          ...options,
        },
      },
      async (context, job) => {
        // The job's bar: the compute engine's phases (validate and write, statistics), then
        // the commit, then the online apply when there is one, each with its share.
        const applies = this.#afterCommit?.pending(featureSet) === true;
        const committing = applies ? 0.75 : 0.95;
        const applying = applies ? 0.8 : 1;
        context.reportProgress({ fraction: 0, phase: 'read source', phaseFraction: 0 });
        const ingestionId = randomUUID();
        const prefix = ingestionPrefix(featureSet.id, featureSet.version.major, ingestionId);
        const prefixUri = this.#storage.uri(prefix);
        try {
          const result = await this.#compute.run(
            {
              type: 'ingest',
              sources: resolved.uris,
              format: resolved.format,
              schema: featureSet.schema,
              ...(options.ignoreExtraColumns ? { ignoreExtraColumns: true } : {}),
              outputPrefix: prefixUri,
              statistics: statisticsLevel(featureSet.tags),
            },
            phaseContext(context, 0, committing),
          );
          context.reportProgress({ fraction: committing, phase: 'commit', phaseFraction: 0 });
          const ingestion = await this.#store.commitIngestion(
            {
              id: ingestionId,
              featureSetId: featureSet.id,
              major: featureSet.version.major,
              ...(options.idempotencyKey === undefined
                ? {}
                : { idempotencyKey: options.idempotencyKey }),
              source: sourceName,
              format: resolved.format,
              rowCount: result.rowCount,
              files: result.files.map((uri) => `${prefix}${uri.slice(prefixUri.length)}`),
              statistics: result.statistics,
              committedAt: new Date(),
              committedBy: principal.userId,
              jobId: job.id,
            },
            this.#afterCommit?.pending(featureSet) ? { onlineApplyPending: true } : {},
          );
          const committed = this.#ingestResult(ingestion, featureSet, false);
          context.reportProgress({ fraction: applying, phase: 'commit', phaseFraction: 1 });
          if (!this.#afterCommit) return committed;
          try {
            const online = phaseContext(context, applying, 1, 'online apply');
            online.reportProgress({ fraction: 0 });
            return {
              ...committed,
              ...(await this.#afterCommit.run(featureSet, ingestion, online)),
            };
          } catch (error) {
            // The rows are committed offline; the work stays pending for the next attempt.
            const onlineError = error instanceof Error ? error.message : String(error);
            return { ...committed, onlineApply: 'failed', onlineError };
          }
        } catch (error) {
          await this.#removePrefix(`${prefix}/`);
          // Two retries racing with one key: the other committed first, so return its ingestion.
          if (error instanceof AlreadyExistsError && options.idempotencyKey !== undefined) {
            const winner = await this.#store.getIngestionByIdempotencyKey(
              featureSet.id,
              options.idempotencyKey,
            );
            if (winner) return this.#ingestResult(winner, featureSet, true);
          }
          throw error;
        }
      },
    );
  }

  /** Ingestion history of a feature set version (latest when not named), oldest first. */
  async ingestions(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    version?: string,
  ): Promise<IngestionView[]> {
    const { featureSet } = await this.#resolve(
      principal,
      projectName,
      featureSetName,
      'featureset.get',
      version,
    );
    const guarded = await guardFeatureSet(this.#store, featureSet);
    const ingestions = await this.#store.listIngestions(featureSet.id, featureSet.version.major);
    return Promise.all(
      ingestions.map(async (ingestion) => {
        const { statistics, withheld } = await readableStatistics(
          this.#authorizer,
          principal,
          guarded,
          ingestion.statistics,
        );
        return withheld.length === 0
          ? ingestion
          : { ...ingestion, statistics, statisticsWithheld: withheld };
      }),
    );
  }

  /**
   * Reverts an ingestion: its rows stop being visible (time travel still sees them). With an
   * online store, the keys whose online record still holds one of its rows then get the latest
   * remaining committed row, or are removed (`afterRevert`). Reverting again is harmless and
   * redoes that online part.
   */
  async revert(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    ingestionId: string,
  ): Promise<RunningJob<{ ingestionId: string; revertedAt: string } & Record<string, unknown>>> {
    const { project, featureSet } = await this.#resolve(
      principal,
      projectName,
      featureSetName,
      'data.write',
    );
    const ingestion = await this.#store.getIngestion(ingestionId).catch(() => undefined);
    if (!ingestion || ingestion.featureSetId !== featureSet.id) {
      throw new NotFoundError(
        `ingestion ${ingestionId} does not belong to feature set ${projectName}/${featureSetName}: list its ingestions`,
        { details: { field: 'ingestion', value: ingestionId } },
      );
    }
    return this.#jobs.start(
      principal,
      {
        type: 'revert',
        projectId: project.id,
        request: { project: projectName, featureSet: featureSetName, ingestionId },
      },
      async (context) => {
        const reverted = await this.#store.revertIngestion(
          ingestionId,
          new Date(),
          principal.userId,
        );
        const result = { ingestionId, revertedAt: reverted.revertedAt!.toISOString() };
        if (!this.#afterRevert) return result;
        try {
          // The reverted ingestion's own version: an older major has its own online records.
          const version =
            reverted.major === featureSet.version.major
              ? featureSet
              : await this.#store.getFeatureSet(project.id, featureSet.name, {
                  major: reverted.major,
                });
          if (!version) return result;
          const remaining = visibleIngestions(
            await this.#store.listIngestions(featureSet.id, reverted.major),
          );
          return { ...result, ...(await this.#afterRevert(version, reverted, remaining, context)) };
        } catch (error) {
          const cause = error instanceof Error ? error.message : String(error);
          throw new FeatureStoreError(
            error instanceof FeatureStoreError ? error.code : 'INTERNAL',
            `ingestion ${ingestionId} is reverted offline, but the online store may still serve its values: ${cause}. Run the revert again to retry (or \`featurestore materialize ${projectName} ${featureSetName} --rebuild\`)`,
            {
              cause: error,
              details: { ingestionId },
              retryable: error instanceof FeatureStoreError && error.retryable,
            },
          );
        }
      },
    );
  }

  /**
   * All rows, an event-time range, or the latest row per key, written to a job output file.
   * The result reads it as rows, as an Arrow table, or copies it to a file (`OutputData`).
   *
   * @example
   * const { result } = await fs.engine.offline.retrieve(fs.principal, 'fraud', 'transactions', {
   *   latest: true,
   * });
   * for await (const row of (await result).rows()) console.log(row);
   */
  async retrieve(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    options: RetrieveOptions = {},
  ): Promise<RunningJob<OutputData>> {
    const { project, featureSet } = await this.#resolve(
      principal,
      projectName,
      featureSetName,
      'data.read',
      options.version,
    );
    const guarded = await guardFeatureSet(this.#store, featureSet);
    await authorizeSelection(this.#authorizer, principal, featureSet, selectAllColumns(guarded));
    const inputs = await this.#inputs(featureSet, options.asOf);
    const format = options.format ?? 'csv';
    const types = new Map<string, ColumnType>(
      featureSet.schema.features.map((feature) => [feature.name, feature.type]),
    );
    const running = await this.#jobs.start(
      principal,
      {
        type: 'retrieve',
        projectId: project.id,
        request: { project: projectName, featureSet: featureSetName, ...serializable(options) },
      },
      async (context, job) => {
        const outputKey = jobOutputKey(job.id, `${featureSetName}.${format}`);
        const result = await this.#compute.run(
          {
            type: 'retrieve',
            schema: featureSet.schema,
            inputs,
            ...(options.from ? { from: options.from.toISOString() } : {}),
            ...(options.to ? { to: options.to.toISOString() } : {}),
            ...(options.latest ? { latest: true } : {}),
            output: { uri: this.#storage.uri(outputKey), format },
          },
          context,
        );
        return { outputKey, rowCount: result.rowCount, format };
      },
    );
    return this.#outputData(running, types);
  }

  /**
   * A point-in-time-correct training set: one row per entity row, in input order, with
   * `<featureset>__<feature>` columns (docs/architecture.md, "The point-in-time contract").
   * The result reads it as rows, as an Arrow table, or copies it to a file (`OutputData`).
   *
   * @example
   * const { result } = await fs.engine.offline.historical(fs.principal, {
   *   entities: 'labels.csv',
   *   entityTime: 'at',
   *   features: ['fraud/customers:age', 'fraud/transactions:*'],
   * });
   * const table = await (await result).toArrow();
   */
  async historical(
    principal: Principal,
    options: HistoricalOptions,
  ): Promise<RunningJob<OutputData>> {
    const refs =
      typeof options.features === 'string' || typeof options.features[0] === 'string'
        ? parseFeatureRefs(options.features as string | string[])
        : (options.features as FeatureRef[]);
    const groups = new Map<string, { ref: FeatureRef; features: string[] }>();
    for (const ref of refs) {
      const key = `${ref.project}/${ref.featureSet}@${ref.version ?? ''}`;
      const group = groups.get(key) ?? { ref, features: [] };
      group.features.push(ref.feature);
      groups.set(key, group);
    }
    const specs: HistoricalFeatureSetSpec[] = [];
    const outputNames = new Map<string, string>();
    let projectId: string | undefined;
    for (const [key, { ref, features }] of groups) {
      const { project, featureSet } = await this.#resolve(
        principal,
        ref.project,
        ref.featureSet,
        'data.read',
        ref.version,
      );
      projectId ??= project.id;
      const selection = selectFeatures(await guardFeatureSet(this.#store, featureSet), features);
      await authorizeSelection(this.#authorizer, principal, featureSet, selection);
      const other = outputNames.get(featureSet.name);
      if (other !== undefined && other !== key) {
        throw new ValidationError(
          `${other} and ${key} would both produce columns "${featureSet.name}__…": request one of them per training set`,
          { details: { field: 'features', value: key } },
        );
      }
      outputNames.set(featureSet.name, key);
      specs.push({
        name: featureSet.name,
        schema: featureSet.schema,
        inputs: await this.#inputs(featureSet, options.asOf),
        features: selection.features,
        ...(featureSet.timeToLive === undefined
          ? {}
          : { timeToLiveMs: parseDuration('timeToLive', featureSet.timeToLive) }),
      });
    }
    const entitiesName = sourceDescription(options.entities);
    const entities = await this.#resolveInput(
      principal,
      options.entities,
      'entity file',
      options.entityFormat,
    );
    if (entities.uris.length !== 1) {
      throw new ValidationError(`entities ${entitiesName} must be one file, not a folder`, {
        details: { field: 'entities', value: entitiesName },
      });
    }
    const format = options.format ?? 'csv';
    const types = new Map<string, ColumnType>();
    for (const spec of specs) {
      for (const feature of spec.schema.features) {
        if (spec.features.includes(feature.name)) {
          types.set(`${spec.name}__${feature.name}`, feature.type);
        }
      }
    }
    const running = await this.#jobs.start(
      principal,
      {
        type: 'historical',
        ...(projectId === undefined ? {} : { projectId }),
        request: {
          ...serializable(options),
          entities: entitiesName,
          features: refs.map(formatRef),
        },
      },
      async (context, job) => {
        const outputKey = jobOutputKey(job.id, `training-set.${format}`);
        const result = await this.#compute.run(
          {
            type: 'historical',
            entities: {
              uri: entities.uris[0]!,
              format: entities.format,
              timeColumn: options.entityTime,
            },
            featureSets: specs,
            output: { uri: this.#storage.uri(outputKey), format },
          },
          context,
        );
        return { outputKey, rowCount: result.rowCount, format };
      },
    );
    return this.#outputData(running, types);
  }

  /** The result of a retrieve or historical job as `OutputData` (rows, Arrow, a file). */
  #outputData(
    running: RunningJob<OutputResult>,
    types: ReadonlyMap<string, ColumnType>,
  ): RunningJob<OutputData> {
    const result = running.result.then(
      (output) => new OutputData(output, { storage: this.#storage, job: running.job, types }),
    );
    // The caller may only want the record; never leave an unhandled rejection behind.
    result.catch(() => undefined);
    return { job: running.job, result };
  }

  /**
   * Ingests data from memory (`IngestData`): staged as a file in the store's storage (read
   * as it arrives: memory stays bounded), ingested from there like any file, and removed
   * once the job ends, whatever its outcome. Errors name the data's rows, not the file.
   */
  async #ingestData(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    data: IngestData,
    options: IngestDataOptions,
  ): Promise<RunningJob<IngestResult>> {
    const { featureSet } = await this.#resolve(
      principal,
      projectName,
      featureSetName,
      'data.write',
    );
    const { format, sourceName, ...rest } = options;
    const uploads = new StagedUploads(this.#storage);
    const staged = await stageData(uploads, data, featureSet.schema, {
      format,
      name: sourceName,
    });
    const remove = () => uploads.remove(staged.upload).catch(() => undefined);
    let running: RunningJob<IngestResult>;
    try {
      running = await this.ingest(principal, projectName, featureSetName, staged.upload, rest);
    } catch (error) {
      await remove();
      throw namedByData(error, staged);
    }
    const result = running.result.then(
      async (ingested) => {
        await remove();
        return ingested;
      },
      async (error: unknown) => {
        await remove();
        throw namedByData(error, staged);
      },
    );
    result.catch(() => undefined);
    return { job: running.job, result };
  }

  /**
   * Removes data files no committed metadata refers to: those of failed or killed ingestions
   * (older than `graceMs`, so in-flight ones are spared) and those of deleted feature sets.
   * With `dryRun`, only says what it would remove; feature sets in `except` are passed over.
   */
  async collectGarbage(
    options: { graceMs?: number; dryRun?: boolean; except?: ReadonlySet<string> } = {},
  ): Promise<{ deleted: string[]; bytes: number }> {
    const cutoff = Date.now() - (options.graceMs ?? DEFAULT_GC_GRACE_MS);
    const referenced = new Map<string, Set<string> | undefined>();
    const doomed: string[] = [];
    let bytes = 0;
    for await (const object of listAll(this.#storage, FEATURE_SETS_PREFIX)) {
      const featureSetId = object.key.split('/')[1]!;
      if (options.except?.has(featureSetId)) continue;
      if (!referenced.has(featureSetId)) {
        // A failed lookup must fail the collection: read as "deleted", it would remove the
        // files of a feature set that exists.
        const exists = await this.#store.getFeatureSetById(featureSetId);
        referenced.set(
          featureSetId,
          exists ? new Set(await this.#store.listIngestionFiles(featureSetId)) : undefined,
        );
      }
      const files = referenced.get(featureSetId);
      if (
        files === undefined ||
        (!files.has(object.key) && object.lastModified.getTime() < cutoff)
      ) {
        doomed.push(object.key);
        bytes += object.size;
      }
    }
    if (!options.dryRun) {
      for (let i = 0; i < doomed.length; i += 1000)
        await this.#storage.delete(doomed.slice(i, i + 1000));
    }
    return { deleted: doomed, bytes };
  }

  /**
   * A source or entity file under the caller's source access rules; an upload the store staged
   * is the caller's own bytes and is read as it is.
   */
  #resolveInput(
    principal: Principal,
    source: string | StagedUpload,
    role: 'source' | 'entity file',
    format: DataFormat | undefined,
  ): Promise<ResolvedSource> {
    if (source instanceof StagedUpload) {
      return Promise.resolve({ uris: [source.uri], format: source.format });
    }
    return resolveSource(
      source,
      { principal, access: this.#sourceAccess, role },
      { format, locate: this.#locate },
    );
  }

  #resolve(
    principal: Principal,
    projectName: string,
    featureSetName: string,
    action: 'data.read' | 'data.write' | 'featureset.get',
    version?: string,
  ): Promise<{ project: Project; featureSet: FeatureSet }> {
    return authorizedFeatureSet(this.#store, this.#authorizer, principal, action, {
      project: projectName,
      featureSet: featureSetName,
      version,
    });
  }

  async #inputs(featureSet: FeatureSet, asOf?: AsOf) {
    const ingestions = await this.#store.listIngestions(featureSet.id, featureSet.version.major);
    return toInputs(visibleIngestions(ingestions, asOf), (key) => this.#storage.uri(key));
  }

  async #reuse(ingestion: Ingestion, featureSet: FeatureSet): Promise<RunningJob<IngestResult>> {
    const job =
      ingestion.jobId === undefined ? undefined : await this.#store.getJob(ingestion.jobId);
    const result = this.#ingestResult(ingestion, featureSet, true);
    return { job: job ?? syntheticJob(ingestion, result), result: Promise.resolve(result) };
  }

  /** A job that finishes the pending after-commit work of an earlier ingestion. */
  #finishPending(
    principal: Principal,
    project: Project,
    ingestion: Ingestion,
    featureSet: FeatureSet,
    request: Record<string, unknown>,
  ): Promise<RunningJob<IngestResult>> {
    return this.#jobs.start(
      principal,
      { type: 'ingest', projectId: project.id, request: { ...request, finishes: ingestion.id } },
      async (context) => ({
        ...this.#ingestResult(ingestion, featureSet, true),
        ...(await this.#afterCommit!.finish(featureSet, ingestion, context)),
      }),
    );
  }

  #ingestResult(ingestion: Ingestion, featureSet: FeatureSet, reused: boolean): IngestResult {
    return {
      ingestionId: ingestion.id,
      sequence: ingestion.sequence,
      rowCount: ingestion.rowCount,
      featureSet: `${featureSet.projectName}/${featureSet.name}`,
      version: formatVersion(featureSet.version),
      reused,
    };
  }

  async #removePrefix(prefix: string): Promise<void> {
    const keys: string[] = [];
    for await (const object of listAll(this.#storage, prefix)) keys.push(object.key);
    if (keys.length > 0) await this.#storage.delete(keys).catch(() => undefined);
  }
}

function formatRef(ref: FeatureRef): string {
  return `${ref.project}/${ref.featureSet}${ref.version ? `@${ref.version}` : ''}:${ref.feature}`;
}

/** Job requests are stored as JSON: dates as ISO strings. */
function serializable(options: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(options));
}

function syntheticJob(ingestion: Ingestion, result: IngestResult): Job {
  return {
    id: ingestion.id,
    type: 'ingest',
    state: 'succeeded',
    progress: 1,
    request: { idempotencyKey: ingestion.idempotencyKey },
    result,
    cancelRequested: false,
    createdBy: ingestion.committedBy,
    createdAt: ingestion.committedAt,
    finishedAt: ingestion.committedAt,
  };
}
