import { ValidationError } from '@featurestore/core/driver';
import type { JobRun } from './job-run.js';
import { columnParser } from './parse-values.js';
import { literal } from './sql.js';

/**
 * An ISO 8601 time from a job spec as a TIMESTAMPTZ literal, parsed by the same rules as
 * ingested times (no zone = UTC); a `ValidationError` naming the field otherwise.
 */
export async function timeLiteral(run: JobRun, field: string, value: string): Promise<string> {
  const parser = columnParser('timestamp')!;
  const [row] = await run.query(
    `SELECT CAST(${parser.parse(parser.normalize(literal(value)))} AS VARCHAR) AS t`,
  );
  const parsed = row?.t;
  if (typeof parsed !== 'string') {
    throw new ValidationError(
      `${field} ${JSON.stringify(value)} is not an ISO 8601 time: use e.g. 2024-01-31T12:00:00Z`,
      { details: { field, value } },
    );
  }
  return `CAST(${literal(parsed)} AS TIMESTAMPTZ)`;
}
