import type { OnlineApplyState } from '@featurestore/core';
import { CommanderError } from 'commander';
import type { CliIo } from './io.js';

/**
 * The exit code of an `ingest` whose rows are committed offline but not applied to the online
 * store (the apply failed or is still pending): not 0, since online reads do not serve them
 * yet, and not 1, since nothing needs to be ingested again.
 */
export const EXIT_ONLINE_APPLY_PENDING = 3;

/** The parts of an ingest job's result that say how its online apply went. */
export interface OnlineApplyResult {
  ingestionId: string;
  onlineApply?: OnlineApplyState;
  onlineError?: string;
}

/**
 * Ends an `ingest` whose online apply did not complete: says so on stderr (whatever the
 * output format), with the reason and what finishes it, and exits with
 * `EXIT_ONLINE_APPLY_PENDING`. Does nothing when the apply completed or was not needed.
 */
export function failUnlessOnlineApplied(io: CliIo, result: OnlineApplyResult): void {
  if (result.onlineApply !== 'failed' && result.onlineApply !== 'pending') return;
  const message = `ingestion ${result.ingestionId} is committed offline, but applying it to the online store failed${result.onlineError ? `: ${result.onlineError}` : ''}. Online reads do not serve its rows yet. The apply stays pending: the next command on this embedded store, \`featurestore online workers\`, or this ingest run again with the same --idempotency-key finishes it`;
  io.stderr(`warning: ${message}\n`);
  throw new CommanderError(EXIT_ONLINE_APPLY_PENDING, 'featurestore.onlineApplyPending', message);
}
