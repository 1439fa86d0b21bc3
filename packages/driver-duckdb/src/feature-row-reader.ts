import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  elementType,
  type FeatureSetSchema,
  type FeatureType,
  ValidationError,
} from '@featurestore/core/driver';
import { jsonValueSql } from './column-types.js';
import { convertDuckDbError } from './duckdb-errors.js';
import { JobRun } from './job-run.js';
import { columnParser, typeHint } from './parse-values.js';
import { columnList, openSource, type SourceFile } from './sources.js';

/** A CSV or Parquet file read as rows of a feature set. */
export type FeatureRowFormat = 'csv' | 'parquet';

interface PlannedColumn {
  name: string;
  type: FeatureType;
  /** The typed value, parsed as ingestion parses it. */
  value: string;
  /** True when the raw value is present but does not parse. */
  problem: string;
  display: string;
  required: 'primary key' | 'event time' | undefined;
}

/**
 * Rows of a CSV or Parquet file typed by a feature set's schema, with ingestion's rules
 * (`parse-values.ts`: CSV text parsed strictly, Parquet columns converted only without loss;
 * every schema column present and no other), for `featurestore online push`. `check()` reads
 * the whole file once and fails on its first bad row, naming the file, row, column and value,
 * so a push sends nothing of a bad file; `batches()` then streams the rows in file order
 * through DuckDB's streaming result, a chunk at a time: memory stays flat whatever the size.
 * Values come as a push takes them: int64 and times as text, lists as arrays.
 *
 * @example
 * const reader = await FeatureRowReader.open('file:///data/rows.csv', 'csv', schema);
 * try {
 *   await reader.check();
 *   for await (const rows of reader.batches(5000)) await push(rows);
 * } finally {
 *   await reader.close();
 * }
 */
export class FeatureRowReader {
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;
  readonly #run: JobRun;
  readonly #file: SourceFile;
  readonly #columns: PlannedColumn[];

  private constructor(
    instance: DuckDBInstance,
    connection: DuckDBConnection,
    run: JobRun,
    file: SourceFile,
    columns: PlannedColumn[],
  ) {
    this.#instance = instance;
    this.#connection = connection;
    this.#run = run;
    this.#file = file;
    this.#columns = columns;
  }

  /** Opens `uri` (a local `file://` URI or path) and plans its columns; fails on a column mismatch. */
  static async open(
    uri: string,
    format: FeatureRowFormat,
    schema: FeatureSetSchema,
  ): Promise<FeatureRowReader> {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    // One thread: rows are numbered and streamed in file order anyway, and a push is small
    // work beside the rest of the machine.
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    try {
      const connection = await instance.connect();
      const run = new JobRun(
        connection,
        { signal: new AbortController().signal, reportProgress: () => {} },
        'push',
      );
      await run.query(`SET TimeZone = 'UTC'`);
      const file = await openSource(run, uri, format);
      const columns = planColumns(file, schema);
      return new FeatureRowReader(instance, connection, run, file, columns);
    } catch (error) {
      instance.closeSync();
      throw error;
    }
  }

  /** The file as messages name it. */
  get name(): string {
    return this.#file.name;
  }

  /**
   * Reads the whole file and resolves with its row count, or fails with a `ValidationError`
   * naming the first row with a value that does not parse or an empty key or event time.
   */
  async check(): Promise<number> {
    const columns = this.#columns;
    const flags = columns.flatMap((column, i) => [
      `${column.problem} AS __bad${i}`,
      `${column.required ? `${column.value} IS NULL` : 'false'} AS __missing${i}`,
      `${column.display} AS __d${i}`,
    ]);
    const any = columns.map((_, i) => `__bad${i} OR __missing${i}`).join(' OR ');
    const [bad] = await this.#run.query(
      `SELECT * FROM (SELECT __ord, ${flags.join(', ')} FROM ${this.#file.from}) WHERE ${any} ORDER BY __ord LIMIT 1`,
    );
    if (bad) {
      const row = Number(bad.__ord);
      const i = columns.findIndex(
        (_, j) => bad[`__bad${j}`] === true || bad[`__missing${j}`] === true,
      );
      const column = columns[i]!;
      const where = `${this.#file.name} row ${row} (${this.#file.rowsAre}), column "${column.name}"`;
      if (bad[`__missing${i}`] === true) {
        throw new ValidationError(`${where}: the ${column.required} is empty: fill it in`, {
          details: { file: this.#file.uri, row, column: column.name },
        });
      }
      const value = String(bad[`__d${i}`]);
      throw new ValidationError(
        `${where}: ${JSON.stringify(value)} is not a valid ${column.type}: write ${typeHint(column.type)}`,
        { details: { file: this.#file.uri, row, column: column.name, value } },
      );
    }
    const [count] = await this.#run.query(`SELECT count(*) AS n FROM ${this.#file.scan}`);
    return Number(count?.n ?? 0);
  }

  /** The rows in file order, `size` at a time (the last batch may be smaller). */
  async *batches(size: number): AsyncGenerator<Record<string, unknown>[]> {
    const columns = this.#columns;
    const select = columns
      .map((column, i) => `${pushValueSql(column.value, column.type)} AS __v${i}`)
      .join(', ');
    let batch: Record<string, unknown>[] = [];
    try {
      const result = await this.#connection.stream(`SELECT ${select} FROM ${this.#file.from}`);
      for await (const rows of result.yieldRowsJs()) {
        for (const values of rows) {
          const row: Record<string, unknown> = {};
          columns.forEach((column, i) => {
            row[column.name] = values[i] ?? null;
          });
          batch.push(row);
          if (batch.length >= size) {
            yield batch;
            batch = [];
          }
        }
      }
    } catch (error) {
      if (error instanceof ValidationError) throw error;
      throw await convertDuckDbError(error, [this.#file]);
    }
    if (batch.length > 0) yield batch;
  }

  close(): Promise<void> {
    this.#connection.closeSync();
    this.#instance.closeSync();
    return Promise.resolve();
  }
}

/**
 * A typed value as a push takes it: JSON Lines conventions (times ISO 8601, dates and bytes as
 * text), and int64 as its decimal text, which the push keeps exactly (a JS number would round
 * beyond 2^53, and a BigInt is no push value).
 */
function pushValueSql(value: string, type: FeatureType): string {
  if (elementType(type) !== 'int64') return jsonValueSql(value, type);
  return type === 'int64'
    ? `CAST(${value} AS VARCHAR)`
    : `list_transform(${value}, lambda __e: CAST(__e AS VARCHAR))`;
}

/** Every schema column, from the file's column of that name; no other column, as ingestion. */
function planColumns(file: SourceFile, schema: FeatureSetSchema): PlannedColumn[] {
  const names = new Set(file.columns.map((column) => column.name));
  const missing = schema.features.find((feature) => !names.has(feature.name));
  if (missing) {
    throw new ValidationError(
      `${file.name} has no column "${missing.name}" (found: ${columnList(file.columns)}): add the column to the file or fix the schema`,
      { details: { file: file.uri, column: missing.name } },
    );
  }
  const known = new Set(schema.features.map((feature) => feature.name));
  const extra = file.columns.find((column) => !known.has(column.name));
  if (extra) {
    throw new ValidationError(
      `${file.name} has column "${extra.name}", which the schema does not define: remove it from the file or add it to the schema`,
      { details: { file: file.uri, column: extra.name } },
    );
  }
  return schema.features.map((feature) => {
    const raw = file.column(feature.name);
    const parser = columnParser(feature.type, raw.kind);
    if (!parser) {
      const found = raw.kind.kind === 'native' ? raw.kind.sqlType : 'text';
      throw new ValidationError(
        `${file.name} column "${feature.name}" has type ${found}, which cannot hold ${feature.type} values: write it as ${feature.type} or change the feature's type`,
        { details: { file: file.uri, column: feature.name, found, expected: feature.type } },
      );
    }
    const value = parser.value(raw.raw);
    return {
      name: feature.name,
      type: feature.type,
      value,
      problem: parser.problem(raw.raw, value),
      display: raw.display,
      required: schema.primaryKey.includes(feature.name)
        ? 'primary key'
        : feature.name === schema.eventTime
          ? 'event time'
          : undefined,
    };
  });
}
