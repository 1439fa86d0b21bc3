import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminal, type Job, type RunningJob } from '@featurestore/core';
import { Presets, SingleBar } from 'cli-progress';
import type { CommandContext } from './context.js';

const POLL_MS = 200;

/**
 * Waits for a job started by this command, showing a progress bar on a terminal (never with
 * --json or when stderr is not a TTY). Ctrl-C cancels the job instead of abandoning it.
 */
export async function followJob<T>(ctx: CommandContext, running: RunningJob<T>): Promise<T> {
  const { engine, principal } = ctx.store;
  const showBar =
    !ctx.options.json && process.stderr.isTTY === true && !isTerminal(running.job.state);
  const bar = showBar
    ? new SingleBar(
        { format: `${running.job.type} [{bar}] {percentage}% {message}`, stream: process.stderr },
        Presets.shades_classic,
      )
    : undefined;
  bar?.start(100, 0, { message: '' });
  const onInterrupt = () => {
    void engine.jobs.cancel(principal, running.job.id).catch(() => undefined);
  };
  process.once('SIGINT', onInterrupt);
  let settled = false;
  const poll = async () => {
    while (bar && !settled) {
      const job: Job | undefined = await engine.jobs
        .get(principal, running.job.id)
        .catch(() => undefined);
      if (job) bar.update(Math.round(job.progress * 100), { message: job.message ?? '' });
      await sleep(POLL_MS);
    }
  };
  const polling = poll();
  try {
    const result = await running.result;
    bar?.update(100, { message: 'done' });
    return result;
  } finally {
    settled = true;
    await polling;
    bar?.stop();
    process.removeListener('SIGINT', onInterrupt);
  }
}
