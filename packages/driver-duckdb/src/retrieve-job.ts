import type { OutputJobResult, RetrieveJobSpec } from '@featurestore/core/driver';
import { featureRowsSql } from './feature-data.js';
import type { JobRun } from './job-run.js';
import { outputList, writeOutputFile } from './output-files.js';
import { checkSchema } from './schema-checks.js';
import { ident } from './sql.js';
import { timeLiteral } from './time-bounds.js';

/**
 * Reads committed rows: all of them, those with event time in [from, to), and/or only the
 * newest per key (greatest event time, then greater sequence, then later row). Rows come out
 * in event-time order (the latest per key: in key order), with exactly the schema's columns.
 */
export async function runRetrieve(run: JobRun, spec: RetrieveJobSpec): Promise<OutputJobResult> {
  checkSchema(spec.schema);
  run.progress(0, 'planning');
  const eventTime = `CAST(__q.${ident(spec.schema.eventTime)} AS TIMESTAMPTZ)`;
  const where: string[] = [];
  if (spec.from !== undefined) {
    where.push(`${eventTime} >= ${await timeLiteral(run, 'from', spec.from)}`);
  }
  if (spec.to !== undefined) where.push(`${eventTime} < ${await timeLiteral(run, 'to', spec.to)}`);
  const keys = spec.schema.primaryKey.map((key) => `__q.${ident(key)}`).join(', ');
  const rows = await featureRowsSql(run, spec.schema, spec.inputs);
  let query = `SELECT * FROM (${rows}) AS __q`;
  if (where.length > 0) query += ` WHERE ${where.join(' AND ')}`;
  if (spec.latest) {
    query += ` QUALIFY row_number() OVER (PARTITION BY ${keys} ORDER BY ${eventTime} DESC, __q.__seq DESC, __q.__row DESC) = 1`;
  }
  // Qualified names: the output list's aliases (CSV text) must not be what is sorted.
  const order = spec.latest ? keys : `${eventTime}, __q.__seq, __q.__row`;
  const columns = spec.schema.features.map((feature) => ({
    sql: `__q.${ident(feature.name)}`,
    name: feature.name,
    type: feature.type,
  }));
  run.progress(0.1, 'reading and writing');
  const rowCount = await writeOutputFile(
    run,
    `SELECT ${outputList(columns, spec.output.format)} FROM (${query}) AS __q ORDER BY ${order}`,
    spec.output,
  );
  run.progress(1, `wrote ${rowCount} rows`);
  return { rowCount, uri: spec.output.uri };
}
