import type {
  ColumnBatch,
  DataFormat,
  OutputJobResult,
  RetrieveJobSpec,
  RetrieveStreamSpec,
} from '@featurestore/core/driver';
import { isList } from './column-types.js';
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
  const query = await retrieveSql(run, spec, spec.output.format);
  run.progress(0.1, 'reading and writing');
  const rowCount = await writeOutputFile(run, query, spec.output);
  run.progress(1, `wrote ${rowCount} rows`);
  return { rowCount, uri: spec.output.uri };
}

/**
 * The rows `runRetrieve` would write as JSON Lines, yielded in columnar batches with each
 * value as `JSON.parse` would give it (see `ColumnBatch`): the query is the same, and lists,
 * which DuckDB hands over as objects, become arrays.
 */
export async function* streamRetrieve(
  run: JobRun,
  spec: RetrieveStreamSpec,
): AsyncGenerator<ColumnBatch> {
  const query = await retrieveSql(run, { ...spec, type: 'retrieve' }, 'json');
  const lists = spec.schema.features.map((feature) => isList(feature.type));
  let rows = 0;
  for await (const chunk of run.stream(query)) {
    rows += chunk.rowCount;
    run.progress(0.5, `read ${rows} rows`);
    yield {
      rowCount: chunk.rowCount,
      columns: chunk.columns.map((column, i) => (lists[i] ? column.map(listItems) : column)),
    };
  }
}

/** A DuckDB list value as an array (nested lists too); NULL stays null. */
function listItems(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || !('items' in value)) return value;
  return (value as { items: unknown[] }).items.map(listItems);
}

/**
 * The query of a retrieve: rows with event time in [from, to) and/or only the newest per key
 * (greatest event time, then greater sequence, then later row), in event-time order (the latest
 * per key: in key order), with exactly the schema's columns in their output form.
 */
async function retrieveSql(
  run: JobRun,
  spec: RetrieveJobSpec | (RetrieveStreamSpec & { type: 'retrieve' }),
  format: DataFormat,
): Promise<string> {
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
  return `SELECT ${outputList(columns, format)} FROM (${query}) AS __q ORDER BY ${order}`;
}
