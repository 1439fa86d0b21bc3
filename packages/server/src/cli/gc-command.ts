import { join, resolve } from 'node:path';
import { type CollectReport, DEFAULT_COLLECT_GRACE_MS, parseDuration } from '@featurestore/core';
import type { Command } from 'commander';
import { sweepStaleTemporary } from '../stale-temporary-files.js';
import { withStore } from './context.js';
import type { CliIo } from './io.js';

/** One line per kind of leftover: how many, and how many bytes. */
function describe(report: CollectReport & { localTemporary: { count: number; bytes: number } }) {
  const rows: [string, { count: number; bytes: number; files?: number }][] = [
    ['files of failed or killed ingestions', report.unreferencedFiles],
    ['deleted feature sets (files and online records)', report.deletedFeatureSets],
    ['expired job outputs', report.expiredOutputs],
    ['scratch objects in storage (tmp/)', report.temporaryObjects],
    ['stale spill and temporary files of the store folder', report.localTemporary],
  ];
  return rows
    .map(
      ([what, found]) =>
        `${what}: ${found.count}${found.files === undefined ? '' : ` (${found.files} files)`}, ${found.bytes} bytes`,
    )
    .join('\n');
}

export function registerGcCommand(program: Command, io: CliIo): void {
  program
    .command('gc')
    .description(
      'remove leftovers (admins): files of failed ingestions, data of deleted feature sets, expired job outputs, stale scratch files',
    )
    .option('--dry-run', 'list what would be removed, remove nothing')
    .option(
      '--grace <duration>',
      'leave alone what changed more recently than this (ISO 8601, default PT1H): another process may still be writing it',
    )
    .action(
      withStore(io, async (ctx, opts: { dryRun?: boolean; grace?: string }) => {
        const dryRun = opts.dryRun === true;
        const graceMs =
          opts.grace === undefined
            ? DEFAULT_COLLECT_GRACE_MS
            : parseDuration('--grace', opts.grace);
        const report = await ctx.store.engine.collector.collect(ctx.store.principal, {
          dryRun,
          graceMs,
        });
        const localTemporary = await sweepStaleTemporary(
          join(resolve(ctx.store.config.store), 'tmp'),
          { graceMs, dryRun },
        );
        const full = { ...report, localTemporary };
        ctx.message(`${dryRun ? 'would remove (dry run)' : 'removed'}:\n${describe(full)}`, full);
      }),
    );
}
