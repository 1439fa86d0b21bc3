import { type MessagePosition, ValidationError } from '@featurestore/core';
import type { Command } from 'commander';
import { onlineOf, withStore } from './context.js';
import type { CliIo } from './io.js';
import { seconds } from './options.js';
import { openPushInput, pushFormat } from './push-input.js';

/** Rows per push by default: a batch is held in memory while it is published and applied. */
const DEFAULT_BATCH_ROWS = 5000;

function batchRows(value: string): number {
  const rows = Number(value);
  if (!Number.isInteger(rows) || rows <= 0 || rows > 1_000_000) {
    throw new ValidationError(
      `--batch-rows ${JSON.stringify(value)} is not an integer from 1 to 1,000,000`,
      { details: { field: 'batch-rows', value } },
    );
  }
  return rows;
}

/**
 * `featurestore online push`: rows of a CSV, Parquet or JSON Lines file, checked whole first
 * (a bad row fails the command before anything is sent), then pushed a batch at a time, so a
 * file of any size goes through in flat memory. Each batch is published and waited for online;
 * at the end the command waits for the offline commit of every partition it wrote to.
 */
export function registerPushCommand(online: Command, io: CliIo): void {
  online
    .command('push <project> <featureset> <file>')
    .description(
      'push rows of a CSV, Parquet or JSON Lines file (values typed by the feature set, as ingest does); returns once they are readable online and committed offline',
    )
    .option('--format <format>', 'csv, parquet or json (JSON Lines; default: from the file name)')
    .option(
      '--timeout <seconds>',
      'how long to wait for each batch to be applied online, and for the offline commit',
      seconds('--timeout'),
      30,
    )
    .option('--batch-rows <n>', 'rows per push (default 5000)', batchRows, DEFAULT_BATCH_ROWS)
    .action(
      withStore(
        io,
        async (
          ctx,
          project: string,
          featureSet: string,
          file: string,
          opts: { timeout: number; format?: string; batchRows: number },
        ) => {
          const engine = onlineOf(ctx);
          const { principal } = ctx.store;
          const format = pushFormat(file, opts.format);
          const definition = await ctx.store.engine.featureSets.get(principal, project, featureSet);
          const input = await openPushInput(file, format, definition);
          const timeoutMs = opts.timeout * 1000;
          const pushIds: string[] = [];
          let rows = 0;
          // The last position per partition: waiting for those waits for every row before them.
          const last = new Map<number, MessagePosition>();
          try {
            if ((await input.check()) === 0) {
              throw new ValidationError(`${file} has no rows: push at least one`, {
                details: { file },
              });
            }
            for await (const batch of input.batches(opts.batchRows)) {
              // Publishes only: the embedded store applies its pushes itself (its local log
              // is its own), and with Kafka the workers of `online workers` consume, so a push
              // does not join (and rebalance) their consumer groups.
              const result = await engine.push(principal, project, featureSet, batch, {
                timeoutMs,
              });
              pushIds.push(result.pushId);
              for (const position of result.positions) {
                const known = last.get(position.partition);
                if (!known || BigInt(known.offset) < BigInt(position.offset)) {
                  last.set(position.partition, position);
                }
              }
              await engine.waitApplied(principal, project, featureSet, batch, { timeoutMs });
              rows += batch.length;
            }
          } finally {
            await input.close();
          }
          // Every queue reports where the rows went, so the push waits for their offline
          // commit too (by whichever member of the sync group takes their partitions).
          await engine.waitSynced(
            {
              pushId: pushIds[0]!,
              rows,
              featureSet: `${project}/${featureSet}`,
              positions: [...last.values()],
            },
            { timeoutMs },
          );
          ctx.message(
            `pushed ${rows} rows to ${project}/${featureSet}; they are readable online and committed offline`,
            {
              pushId: pushIds[0],
              pushes: pushIds.length,
              rows,
              featureSet: `${project}/${featureSet}`,
              format,
              offlineSynced: true,
            },
          );
        },
      ),
    );
}
