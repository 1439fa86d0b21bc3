import {
  DeadLetterBox,
  ONLINE_INGEST_TOPIC,
  PermissionDeniedError,
  ValidationError,
} from '@featurestore/core';
import type { Command } from 'commander';
import { type CommandContext, withStore } from './context.js';
import type { CliIo } from './io.js';

/** Columns of `dead-letters list`. */
const COLUMNS = [
  'partition',
  'offset',
  'state',
  'group',
  'errorCode',
  'failedAt',
  'topic',
  'originalPartition',
  'originalOffset',
  'errorMessage',
];

/**
 * The dead letters of the online ingest topic, for an admin: they hold the rows of any
 * project (sensitive features too), as the queue does.
 */
function deadLettersOf(ctx: CommandContext): DeadLetterBox {
  if (!ctx.store.principal.admin) {
    throw new PermissionDeniedError(
      'the dead-letter commands are for admins: dead letters hold rows of every project',
    );
  }
  const { drivers } = ctx.store.engine;
  if (!drivers.online)
    throw new ValidationError('no online store is configured: pass --online URL');
  return new DeadLetterBox({
    queue: drivers.online.queue,
    store: drivers.metadata,
    topic: ONLINE_INGEST_TOPIC,
  });
}

function limitOf(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit <= 0) {
    throw new ValidationError(`--limit ${JSON.stringify(value)} is not a positive integer`, {
      details: { field: 'limit', value },
    });
  }
  return limit;
}

/**
 * `featurestore online dead-letters list|replay|drop`: the messages the online workers moved
 * to `featurestore.online.ingest.dead` (see `DeadLetterBox`).
 */
export function registerDeadLetterCommands(online: Command, io: CliIo): void {
  const letters = online
    .command('dead-letters')
    .description(
      'messages the online workers could never handle (featurestore.online.ingest.dead): list, replay or drop them',
    );

  letters
    .command('list')
    .description('list the pending dead letters (oldest first per partition)')
    .option('--all', 'also the letters already replayed or dropped')
    .option('--limit <n>', 'at most this many letters', limitOf)
    .action(
      withStore(io, async (ctx, opts: { all?: boolean; limit?: number }) => {
        const entries = await deadLettersOf(ctx).list(opts);
        ctx.table(entries, COLUMNS);
      }),
    );

  letters
    .command('replay')
    .description(
      'publish the pending letters’ messages to their original topic again (once each; the online workers handle them as new) and mark them handled',
    )
    .option('--limit <n>', 'only the first n pending letters', limitOf)
    .action(
      withStore(io, async (ctx, opts: { limit?: number }) => {
        const box = deadLettersOf(ctx);
        const result = await box.replay(opts);
        ctx.message(
          result.letters === 0
            ? `no pending dead letters in ${box.topic}`
            : `replayed ${result.replayed} message(s) of ${result.letters} dead letter(s) from ${box.topic}`,
          result,
        );
      }),
    );

  letters
    .command('drop')
    .description('mark the pending letters handled without replaying them')
    .option('--limit <n>', 'only the first n pending letters', limitOf)
    .action(
      withStore(io, async (ctx, opts: { limit?: number }) => {
        const box = deadLettersOf(ctx);
        const result = await box.drop(opts);
        ctx.message(
          result.letters === 0
            ? `no pending dead letters in ${box.topic}`
            : `dropped ${result.letters} dead letter(s) from ${box.topic}`,
          result,
        );
      }),
    );
}
