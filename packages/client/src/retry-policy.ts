/** How calls that may be repeated are retried when the server answers UNAVAILABLE. */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 5; 1 turns retries off). */
  maxAttempts?: number;
  /** The wait before the first retry (default 100 ms); each next one doubles it. */
  initialBackoffMs?: number;
  /** The longest wait between two attempts (default 5 s). */
  maxBackoffMs?: number;
}

export const DEFAULT_RETRY_POLICY: Required<RetryPolicy> = {
  maxAttempts: 5,
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
};

/**
 * The wait before retry number `retry` (1 for the first): exponential, capped, with full
 * jitter (a uniform draw below the cap) so clients that failed together do not come back
 * together.
 */
export function backoffMs(
  policy: Required<RetryPolicy>,
  retry: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}
