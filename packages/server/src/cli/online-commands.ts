import { readFile } from 'node:fs/promises';
import { ValidationError } from '@featurestore/core';
import type { Command } from 'commander';
import { onlineOf, withStore } from './context.js';
import { registerDeadLetterCommands } from './dead-letter-commands.js';
import { parseEntityKey } from './entity-keys.js';
import type { CliIo } from './io.js';
import { followJob } from './job-progress.js';
import { materializedMessage } from './materialize-summary.js';
import { collect, seconds } from './options.js';
import { registerWorkersCommand } from './workers-command.js';

/** Rows from a JSON array file or a JSON Lines file, naming the line that does not parse. */
async function readRows(path: string): Promise<unknown[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ValidationError(`${path} cannot be read: ${(error as Error).message}`, {
      details: { field: 'file', value: path },
    });
  }
  if (text.trimStart().startsWith('[')) {
    try {
      return JSON.parse(text) as unknown[];
    } catch (error) {
      throw new ValidationError(`${path} is not a valid JSON array: ${(error as Error).message}`);
    }
  }
  return text.split('\n').flatMap((line, index) => {
    if (line.trim() === '') return [];
    try {
      return [JSON.parse(line)];
    } catch {
      throw new ValidationError(
        `${path} line ${index + 1} is not valid JSON: write one object per line`,
        {
          details: { file: path, line: index + 1 },
        },
      );
    }
  });
}

export function registerOnlineCommands(program: Command, io: CliIo): void {
  const online = program
    .command('online')
    .description('push rows to and read features from the online store');

  registerWorkersCommand(online, io);
  registerDeadLetterCommands(online, io);

  online
    .command('push <project> <featureset> <file>')
    .description(
      'push rows (a JSON array or JSON Lines file); returns once they are readable online and committed offline',
    )
    .option(
      '--timeout <seconds>',
      'how long to wait for the rows to be applied online, and again for their offline commit',
      seconds('--timeout'),
      30,
    )
    .action(
      withStore(
        io,
        async (
          ctx,
          project: string,
          featureSet: string,
          file: string,
          opts: { timeout: number },
        ) => {
          const engine = onlineOf(ctx);
          const rows = await readRows(file);
          const timeoutMs = opts.timeout * 1000;
          // Publishes only: the embedded store applies its pushes itself (its local log is
          // its own), and with Kafka the workers of `online workers` consume, so a push does
          // not join (and rebalance) their consumer groups.
          const result = await engine.push(ctx.store.principal, project, featureSet, rows, {
            timeoutMs,
          });
          await engine.waitApplied(
            ctx.store.principal,
            project,
            featureSet,
            rows as Record<string, unknown>[],
            { timeoutMs },
          );
          // Every queue reports where the rows went, so the push waits for their offline
          // commit too (by whichever member of the sync group takes their partitions).
          await engine.waitSynced(result, { timeoutMs });
          const { positions: _, ...shown } = result;
          ctx.message(
            `pushed ${result.rows} rows to ${result.featureSet}; they are readable online and committed offline`,
            { ...shown, offlineSynced: true },
          );
        },
      ),
    );

  program
    .command('materialize <project> <featureset>')
    .description(
      'apply the newest offline row per key to the online store (newer online values stay); --rebuild resets the online values to the offline data',
    )
    .option('--version <v>', 'MAJOR or MAJOR.MINOR (default: latest)')
    .option(
      '--rebuild',
      'replace every online value with the latest committed row of its key, even a newer one, and remove keys that have none (pushed rows not synced offline yet too)',
    )
    .action(
      withStore(
        io,
        async (
          ctx,
          project: string,
          featureSet: string,
          opts: { version?: string; rebuild?: boolean },
        ) => {
          const running = await onlineOf(ctx).materialize(
            ctx.store.principal,
            project,
            featureSet,
            opts,
          );
          const result = await followJob(ctx, running);
          ctx.message(materializedMessage(`${project}/${featureSet}`, result, opts.rebuild), {
            ...result,
            jobId: running.job.id,
          });
        },
      ),
    );

  online
    .command('get <project> <featureset>')
    .description('read the latest feature values for one or more keys')
    .requiredOption(
      '--key <column=value[,column=value]>',
      'one entity to read (repeat for several); values are typed by their key column; double-quote a value holding a comma: name="a,b"',
      collect,
    )
    .option('--features <a,b>', 'only these features (default: all)')
    .action(
      withStore(
        io,
        async (
          ctx,
          project: string,
          featureSet: string,
          opts: { key: string[]; features?: string },
        ) => {
          const features = (opts.features?.split(',') ?? ['*']).map(
            (name) => `${project}/${featureSet}:${name.trim()}`,
          );
          const { schema } = await ctx.store.engine.featureSets.get(
            ctx.store.principal,
            project,
            featureSet,
          );
          const rows = await onlineOf(ctx).getOnlineFeatures(ctx.store.principal, {
            features,
            entities: opts.key.map((key) => parseEntityKey(key, schema)),
          });
          const columns = Object.keys(rows[0] ?? {});
          ctx.table(rows, columns);
        },
      ),
    );
}
