/*
 * Data files live under ids, never names (docs/architecture.md, "Storage layout"): renaming or
 * re-creating a feature set can never mix its files with another's.
 */

/** Where the data files of every feature set live, one folder per feature set id. */
export const FEATURE_SETS_PREFIX = 'featuresets/';

/** Where the output files of jobs live, one folder per job id. */
export const JOB_OUTPUTS_PREFIX = 'outputs/';

/** Scratch objects (materialize and offline-sync staging), removed by their writer when done. */
export const TEMPORARY_PREFIX = 'tmp/';

export function featureSetPrefix(featureSetId: string): string {
  return `${FEATURE_SETS_PREFIX}${featureSetId}/`;
}

export function ingestionPrefix(featureSetId: string, major: number, ingestionId: string): string {
  return `featuresets/${featureSetId}/v${major}/${ingestionId}`;
}

export function jobOutputKey(jobId: string, fileName: string): string {
  return `${JOB_OUTPUTS_PREFIX}${jobId}/${fileName}`;
}
