import { setTimeout as sleep } from 'node:timers/promises';
import { FeatureStoreError } from '@featurestore/core';
import { MIGRATIONS_PENDING } from '@featurestore/driver-postgres';

/** How often a server waiting for `featurestore migrate` looks at the schema again. */
const POLL_MS = 1000;

export interface MigrationWaitOptions {
  /** How long to wait in all, in seconds (0: fail at once). */
  waitSeconds: number;
  /** Told once, with the first refusal's message, when the wait begins. */
  onWait?: (message: string) => void;
  /** The time between two attempts, in ms (default 1000). */
  pollMs?: number;
}

/**
 * Opens a store part with `migrations: "require"`, retrying while its schema is older than
 * this release (`featurestore migrate` has not run yet: a Helm upgrade whose migrate Job is
 * still running) until `waitSeconds` have passed; then the last refusal, which says to run
 * `featurestore migrate`, is thrown. Any other failure is thrown at once.
 */
export async function openWhenMigrated<T>(
  open: () => Promise<T>,
  options: MigrationWaitOptions,
): Promise<T> {
  const deadline = Date.now() + options.waitSeconds * 1000;
  let told = false;
  for (;;) {
    try {
      return await open();
    } catch (error) {
      const pending =
        error instanceof FeatureStoreError && error.details.reason === MIGRATIONS_PENDING;
      if (!pending || Date.now() >= deadline) throw error;
      if (!told) {
        told = true;
        options.onWait?.(
          `${(error as Error).message}; waiting up to ${options.waitSeconds} s for it`,
        );
      }
      await sleep(Math.min(options.pollMs ?? POLL_MS, Math.max(0, deadline - Date.now())));
    }
  }
}
