import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '../errors.js';

/** First pause between two tries; it doubles up to `MAX_PAUSE_MS`. */
const FIRST_PAUSE_MS = 100;
const MAX_PAUSE_MS = 2000;

/**
 * Runs `work`, trying again while it fails with a retryable `UnavailableError` (a metadata
 * database that stalls or restarts) and `deadline` (epoch ms) is not reached: a push waits
 * out an outage within its own time limit instead of failing on the first lookup. Any other
 * failure, and the last one at the deadline, is thrown as it is.
 *
 * @example
 * const featureSet = await retryUnavailable(() => lookUp(name), Date.now() + 30_000);
 */
export async function retryUnavailable<T>(work: () => Promise<T>, deadline: number): Promise<T> {
  let pause = FIRST_PAUSE_MS;
  for (;;) {
    try {
      return await work();
    } catch (error) {
      const left = deadline - Date.now();
      if (!(error instanceof UnavailableError) || !error.retryable || left <= 0) throw error;
      await sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, MAX_PAUSE_MS);
    }
  }
}
