/*
 * Data files live under ids, never names (ARCHITECTURE.md, "Storage layout"): renaming or
 * re-creating a feature set can never mix its files with another's.
 */

export function ingestionPrefix(featureSetId: string, major: number, ingestionId: string): string {
  return `featuresets/${featureSetId}/v${major}/${ingestionId}`;
}

export function jobOutputKey(jobId: string, fileName: string): string {
  return `outputs/${jobId}/${fileName}`;
}
