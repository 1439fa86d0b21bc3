import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  type AsOf,
  type DataFormat,
  FeatureStoreError,
  type Ingestion,
  JOB_STATES,
  type Job,
  type JobState,
  type OutputResult,
  PRIVATE_FILE_MODE,
  parseTime,
  type RunningJob,
  ValidationError,
} from '@featurestore/core';
import type { Command } from 'commander';
import { type CommandContext, withStore } from './context.js';
import type { CliIo } from './io.js';
import { followJob } from './job-progress.js';
import { failUnlessOnlineApplied } from './online-apply-report.js';
import { pageExtra, seconds } from './options.js';
import { confinedOutputPath } from './output-path.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parseFormat(value: string | undefined): DataFormat | undefined {
  if (value === undefined) return undefined;
  if (value === 'csv' || value === 'parquet' || value === 'json') return value;
  throw new ValidationError(
    `--format ${JSON.stringify(value)} is unknown: use csv, parquet or json`,
    {
      details: { field: 'format', value },
    },
  );
}

/** `--as-of`: an ingestion id, or a time (ISO 8601, UTC when no zone is given). */
function parseAsOf(value: string | undefined): AsOf | undefined {
  if (value === undefined) return undefined;
  return UUID.test(value) ? { ingestionId: value } : { time: parseTime('--as-of', value) };
}

/** The output format follows the file name. */
function outputFormat(path: string): 'csv' | 'parquet' {
  const extension = extname(path).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.parquet') return 'parquet';
  throw new ValidationError(`--out ${path} must end in .csv or .parquet`, {
    details: { field: 'out', value: path },
  });
}

/**
 * Checks `--out` (ValidationError before any job runs), starts the job that writes the output,
 * follows it, copies the output to the caller's file and removes it from storage: the copy is
 * the caller's now, and the store keeps no second copy of the data (sensitive columns too).
 */
async function writeOutput(
  ctx: CommandContext,
  out: string,
  start: (format: 'csv' | 'parquet') => Promise<RunningJob<OutputResult>>,
): Promise<void> {
  const format = outputFormat(out);
  const path = await confinedOutputPath(out, ctx.store.config);
  const running = await start(format);
  const result = await followJob(ctx, running);
  const { outputs } = ctx.store.engine;
  const source = await outputs.read(ctx.store.principal, running.job.id);
  // No symbolic link is followed at the last step (the path is the checked real one), and a
  // new file is the caller's alone, like the store it came from.
  const target = await open(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
    PRIVATE_FILE_MODE,
  );
  await pipeline(source, target.createWriteStream());
  await outputs.remove(ctx.store.principal, running.job.id, { reason: 'copied' });
  ctx.message(`wrote ${result.rowCount} rows to ${out}`, {
    ...result,
    out,
    jobId: running.job.id,
    outputRemoved: true,
  });
}

function ingestionRow(ingestion: Ingestion) {
  return {
    id: ingestion.id,
    sequence: ingestion.sequence,
    state: ingestion.state,
    rows: ingestion.rowCount,
    committed: ingestion.committedAt,
    source: ingestion.source,
  };
}

function jobRow(job: Job) {
  return {
    id: job.id,
    type: job.type,
    state: job.state,
    progress: `${Math.round(job.progress * 100)}%`,
    created: job.createdAt,
    error: job.error?.message,
  };
}

export function registerOfflineCommands(program: Command, io: CliIo): void {
  program
    .command('ingest <project> <featureset> <source>')
    .description(
      'ingest a CSV, Parquet or JSON Lines file (or a folder of them) into the latest version',
    )
    .option('--format <format>', 'csv, parquet or json (default: from the file names)')
    .option('--idempotency-key <key>', 'a retry with the same key returns the first ingestion')
    .option('--ignore-extra-columns', 'ignore source columns the schema lacks instead of failing')
    .action(
      withStore(
        io,
        async (
          ctx,
          project: string,
          featureSet: string,
          source: string,
          opts: { format?: string; idempotencyKey?: string; ignoreExtraColumns?: boolean },
        ) => {
          const running = await ctx.store.engine.offline.ingest(
            ctx.store.principal,
            project,
            featureSet,
            source,
            {
              format: parseFormat(opts.format),
              idempotencyKey: opts.idempotencyKey,
              ignoreExtraColumns: opts.ignoreExtraColumns === true,
            },
          );
          const result = await followJob(ctx, running);
          ctx.message(
            result.reused
              ? `ingestion ${result.ingestionId} already committed with this idempotency key (${result.rowCount} rows)${result.onlineApply === 'applied' ? '; finished its pending online apply' : ''}`
              : `ingested ${result.rowCount} rows into ${result.featureSet} ${result.version}: ingestion ${result.ingestionId}`,
            { ...result, jobId: running.job.id },
          );
          failUnlessOnlineApplied(io, result);
        },
      ),
    );

  program
    .command('ingestions <project> <featureset>')
    .description('list the ingestions of a feature set version, oldest first')
    .option('--version <v>', 'MAJOR or MAJOR.MINOR (default: latest)')
    .action(
      withStore(
        io,
        async (ctx, project: string, featureSet: string, opts: { version?: string }) => {
          const ingestions = await ctx.store.engine.offline.ingestions(
            ctx.store.principal,
            project,
            featureSet,
            opts.version,
          );
          if (ctx.options.json) ctx.table(ingestions, []);
          else
            ctx.table(ingestions.map(ingestionRow), [
              'id',
              'sequence',
              'state',
              'rows',
              'committed',
              'source',
            ]);
        },
      ),
    );

  program
    .command('revert <project> <featureset> <ingestion-id>')
    .description('revert an ingestion: its rows stop being visible (time travel still sees them)')
    .action(
      withStore(io, async (ctx, project: string, featureSet: string, ingestionId: string) => {
        const running = await ctx.store.engine.offline.revert(
          ctx.store.principal,
          project,
          featureSet,
          ingestionId,
        );
        const result = await followJob(ctx, running);
        ctx.message(`reverted ingestion ${ingestionId}`, result);
      }),
    );

  program
    .command('retrieve <project> <featureset>')
    .description(
      'write a feature set version’s data to a file: all rows, a time range, or the latest per key',
    )
    .requiredOption('--out <file>', 'FILE.csv or FILE.parquet')
    .option('--version <v>', 'MAJOR or MAJOR.MINOR (default: latest)')
    .option('--as-of <id|time>', 'as it was right after this ingestion, or at this time')
    .option('--from <time>', 'event time from (inclusive)')
    .option('--to <time>', 'event time to (exclusive)')
    .option('--latest', 'only the newest row per key')
    .action(
      withStore(
        io,
        async (
          ctx,
          project: string,
          featureSet: string,
          opts: {
            out: string;
            version?: string;
            asOf?: string;
            from?: string;
            to?: string;
            latest?: boolean;
          },
        ) => {
          const options = {
            version: opts.version,
            asOf: parseAsOf(opts.asOf),
            from: opts.from === undefined ? undefined : parseTime('--from', opts.from),
            to: opts.to === undefined ? undefined : parseTime('--to', opts.to),
            latest: opts.latest === true,
          };
          await writeOutput(ctx, opts.out, (format) =>
            ctx.store.engine.offline.retrieve(ctx.store.principal, project, featureSet, {
              ...options,
              format,
            }),
          );
        },
      ),
    );

  program
    .command('historical')
    .description('build a point-in-time-correct training set from an entity file')
    .requiredOption(
      '--entities <file>',
      'key columns and a timestamp column (CSV, Parquet or JSON Lines)',
    )
    .requiredOption('--entity-time <column>', 'the entity file’s timestamp column')
    .requiredOption('--features <refs>', 'P/FS:FEATURE[,P/FS@V:FEATURE|P/FS:*]')
    .requiredOption('--out <file>', 'FILE.csv or FILE.parquet')
    .option('--as-of <id|time>', 'use the data as it was at this time')
    .action(
      withStore(
        io,
        async (
          ctx,
          opts: {
            entities: string;
            entityTime: string;
            features: string;
            out: string;
            asOf?: string;
          },
        ) => {
          const asOf = parseAsOf(opts.asOf);
          await writeOutput(ctx, opts.out, (format) =>
            ctx.store.engine.offline.historical(ctx.store.principal, {
              entities: opts.entities,
              entityTime: opts.entityTime,
              features: opts.features,
              asOf,
              format,
            }),
          );
        },
      ),
    );

  const jobs = program
    .command('jobs')
    .description('list, inspect, wait for, cancel jobs and clean their outputs');

  jobs
    .command('list')
    .description('your jobs (everyone’s for admins), newest first')
    .option('--state <state>', JOB_STATES.join(', '))
    .option('--type <type>', 'ingest, retrieve, historical, revert…')
    .option('--page-size <n>', 'at most this many', Number)
    .option('--page-token <token>', 'continue a previous listing')
    .action(
      withStore(
        io,
        async (
          ctx,
          opts: { state?: string; type?: string; pageSize?: number; pageToken?: string },
        ) => {
          if (opts.state !== undefined && !(JOB_STATES as readonly string[]).includes(opts.state)) {
            throw new ValidationError(
              `--state ${JSON.stringify(opts.state)} is unknown: use ${JOB_STATES.join(', ')}`,
              {
                details: { field: 'state', value: opts.state },
              },
            );
          }
          const page = await ctx.store.engine.jobs.list(ctx.store.principal, {
            state: opts.state as JobState | undefined,
            type: opts.type,
            pageSize: opts.pageSize,
            pageToken: opts.pageToken,
          });
          if (ctx.options.json) ctx.table(page.items, [], pageExtra(page));
          else
            ctx.table(
              page.items.map(jobRow),
              ['id', 'type', 'state', 'progress', 'created', 'error'],
              pageExtra(page),
            );
        },
      ),
    );

  jobs
    .command('get <id>')
    .description('show a job')
    .action(
      withStore(io, async (ctx, id: string) => {
        ctx.record(await ctx.store.engine.jobs.get(ctx.store.principal, id));
      }),
    );

  jobs
    .command('wait <id>')
    .description('wait until a job finishes; exit 1 unless it succeeded')
    .option('--timeout <seconds>', 'give up after this long', seconds('--timeout'))
    .action(
      withStore(io, async (ctx, id: string, opts: { timeout?: number }) => {
        const job = await ctx.store.engine.jobs.wait(
          ctx.store.principal,
          id,
          opts.timeout === undefined ? {} : { timeoutMs: opts.timeout * 1000 },
        );
        ctx.record(job);
        if (job.state !== 'succeeded') {
          throw new FeatureStoreError(
            job.state === 'cancelled' ? 'CANCELLED' : 'INTERNAL',
            `job ${id} ${job.state}: ${job.error?.message ?? 'no reason recorded'}`,
          );
        }
      }),
    );

  jobs
    .command('cancel <id>')
    .description('cancel a pending or running job')
    .action(
      withStore(io, async (ctx, id: string) => {
        const job = await ctx.store.engine.jobs.cancel(ctx.store.principal, id);
        ctx.message(
          `job ${id} is ${job.state}${job.cancelRequested && job.state !== 'cancelled' ? ' (cancel requested)' : ''}`,
          job,
        );
      }),
    );

  jobs
    .command('clean [id]')
    .description(
      'remove job outputs kept in storage: your jobs’ (everyone’s for admins) past the output retention, one job’s, or with --all every finished job’s',
    )
    .option('--all', 'every finished job’s output, expired or not')
    .option('--dry-run', 'list what would be removed, remove nothing')
    .action(
      withStore(
        io,
        async (ctx, id: string | undefined, opts: { all?: boolean; dryRun?: boolean }) => {
          const { outputs } = ctx.store.engine;
          const dryRun = opts.dryRun === true;
          const removed =
            id === undefined
              ? await outputs.clean(ctx.store.principal, { all: opts.all === true, dryRun })
              : [await outputs.remove(ctx.store.principal, id, { dryRun })];
          const files = removed.reduce((sum, output) => sum + output.files, 0);
          const bytes = removed.reduce((sum, output) => sum + output.bytes, 0);
          if (!ctx.options.json && removed.length > 0) {
            ctx.table(removed, ['jobId', 'files', 'bytes', 'reason']);
          }
          ctx.message(
            `${dryRun ? 'would remove' : 'removed'} ${removed.length} job output(s): ${files} file(s), ${bytes} bytes`,
            { items: removed, outputs: removed.length, files, bytes, dryRun },
          );
        },
      ),
    );
}
