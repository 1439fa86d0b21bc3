import { NotFoundError } from '../errors.js';
import type { Ingestion } from '../model/offline-records.js';
import type { IngestionInput } from '../ports/compute-engine.js';

/** Read the data as it was right after this ingestion committed, or at this time. */
export type AsOf = { ingestionId: string } | { time: Date };

/**
 * The ingestions visible at a point in history: committed by then, and not yet reverted
 * then. Without `asOf`, the ones visible now.
 */
export function visibleIngestions(ingestions: readonly Ingestion[], asOf?: AsOf): Ingestion[] {
  let time: Date | undefined;
  let maxSequence = Number.POSITIVE_INFINITY;
  if (asOf && 'ingestionId' in asOf) {
    const anchor = ingestions.find((ingestion) => ingestion.id === asOf.ingestionId);
    if (!anchor) {
      throw new NotFoundError(
        `ingestion ${asOf.ingestionId} is not one of this feature set version's ingestions: list them with \`featurestore ingestions\``,
        { details: { field: 'asOf', value: asOf.ingestionId } },
      );
    }
    time = anchor.committedAt;
    maxSequence = anchor.sequence;
  } else if (asOf) {
    time = asOf.time;
  }
  return ingestions.filter(
    (ingestion) =>
      ingestion.sequence <= maxSequence &&
      (time === undefined || ingestion.committedAt <= time) &&
      (ingestion.state === 'committed' ||
        (time !== undefined && ingestion.revertedAt !== undefined && ingestion.revertedAt > time)),
  );
}

export function toInputs(
  ingestions: readonly Ingestion[],
  uriOf: (key: string) => string,
): IngestionInput[] {
  return ingestions.map((ingestion) => ({
    sequence: ingestion.sequence,
    uris: ingestion.files.map(uriOf),
  }));
}
