import type { Command } from 'commander';
import { onlineOf, withStore } from './context.js';
import { registerDeadLetterCommands } from './dead-letter-commands.js';
import { parseEntityKey } from './entity-keys.js';
import type { CliIo } from './io.js';
import { followJob } from './job-progress.js';
import { materializedMessage } from './materialize-summary.js';
import { collect } from './options.js';
import { registerPushCommand } from './push-command.js';
import { registerWorkersCommand } from './workers-command.js';

export function registerOnlineCommands(program: Command, io: CliIo): void {
  const online = program
    .command('online')
    .description('push rows to and read features from the online store');

  registerWorkersCommand(online, io);
  registerDeadLetterCommands(online, io);
  registerPushCommand(online, io);

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
          const { schema, timeToLive } = await ctx.store.engine.featureSets.get(
            ctx.store.principal,
            project,
            featureSet,
          );
          const { rows, expired } = await onlineOf(ctx).readOnlineFeatures(ctx.store.principal, {
            features,
            entities: opts.key.map((key) => parseEntityKey(key, schema)),
          });
          const columns = Object.keys(rows[0] ?? {});
          // Empty cells are either never written or past the time to live: say which.
          ctx.table(rows, columns, {
            expired: expired.map(({ row, columns: names }) => ({ row: row + 1, columns: names })),
          });
          if (expired.length > 0 && !ctx.options.json) {
            ctx.message(
              `empty because past the time to live (${timeToLive}): ${expired
                .map(
                  ({ row, columns: names }) =>
                    `row ${row + 1} (${opts.key[row]}): ${names.join(', ')}`,
                )
                .join('; ')}`,
            );
          }
        },
      ),
    );
}
