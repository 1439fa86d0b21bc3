import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminal, type Job, type RunningJob } from '@featurestore/core';
import { Presets, SingleBar } from 'cli-progress';
import type { CommandContext } from './context.js';

const POLL_MS = 200;

/**
 * Waits for a job started by this command, showing a progress bar on a terminal (never with
 * --json or when stderr is not a TTY): the job's share done, then its phase in words — for an
 * ingestion `validate and write 42% · 210 MB of 500 MB · 1,234,567 rows · 180,000 rows/s ·
 * ETA 16 s`, then `statistics`, `commit`, `online apply`; for `historical` one `join` phase
 * per feature set. Ctrl-C cancels the job instead of abandoning it.
 *
 * Process warnings (the AWS SDK's Node.js version notice, raised when an `s3://` source is
 * first opened) are printed before the bar starts, or, when raised while it is drawn, held and
 * printed once it is gone: they never land in the middle of it. `NODE_NO_WARNINGS=1` silences every process warning, and
 * `AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true` that notice alone.
 */
export async function followJob<T>(ctx: CommandContext, running: RunningJob<T>): Promise<T> {
  const { engine, principal } = ctx.store;
  const showBar =
    !ctx.options.json && process.stderr.isTTY === true && !isTerminal(running.job.state);
  const bar = showBar
    ? new SingleBar(
        {
          format: `${running.job.type} [{bar}] {percentage}% | {message}`,
          stream: process.stderr,
        },
        Presets.shades_classic,
      )
    : undefined;
  // Warnings raised while the job was set up (opening an s3:// source) are delivered on the
  // next tick: let Node print them before the bar, and hold the later ones.
  if (bar) await new Promise((resolve) => setImmediate(resolve));
  const releaseWarnings = bar ? holdWarnings() : () => undefined;
  bar?.start(100, 0, { message: 'starting' });
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
      if (job && !settled) {
        bar.update(Math.floor(job.progress * 100), { message: job.message ?? '' });
      }
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
    releaseWarnings();
    process.removeListener('SIGINT', onInterrupt);
  }
}

/**
 * Holds the process warnings emitted from now on instead of letting Node print them; the
 * function returned gives Node its printer back and prints what was held, as Node would have.
 */
export function holdWarnings(): () => void {
  const listeners = process.listeners('warning');
  const held: Error[] = [];
  const hold = (warning: Error) => held.push(warning);
  process.removeAllListeners('warning');
  process.on('warning', hold);
  return () => {
    process.removeListener('warning', hold);
    for (const listener of listeners) process.on('warning', listener);
    for (const warning of held) for (const listener of listeners) listener(warning);
  };
}
