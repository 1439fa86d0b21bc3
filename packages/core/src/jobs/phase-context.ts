import type { JobProgress, JobRunContext } from '../ports/compute-engine.js';

/**
 * A job context for one part of a job, filling `[from, to]` of the job's fraction: the part
 * reports its own fraction 0…1 (a compute engine its whole run, the online apply its rows),
 * and the job's bar moves through the part's share. Without a phase of its own, a report is
 * named `phase`, and its fraction is the phase's.
 *
 * @example
 * await compute.run(spec, phaseContext(context, 0, 0.8));
 * context.reportProgress({ fraction: 0.8, phase: 'commit' });
 */
export function phaseContext(
  context: JobRunContext,
  from: number,
  to: number,
  phase?: string,
): JobRunContext {
  return {
    signal: context.signal,
    reportProgress: (progress: JobProgress) => {
      const own = Math.max(0, Math.min(1, progress.fraction));
      context.reportProgress({
        ...(phase === undefined ? {} : { phase, phaseFraction: own }),
        ...progress,
        fraction: from + own * (to - from),
      });
    },
  };
}
