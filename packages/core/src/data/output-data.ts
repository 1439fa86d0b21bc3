import { randomUUID } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type RecordBatch, Table } from 'apache-arrow';
import { NotFoundError, ValidationError } from '../errors.js';
import type { Job } from '../model/offline-records.js';
import { outputRemovedError } from '../offline/job-outputs.js';
import { formatOfPath } from '../offline/sources.js';
import type { ObjectStorage } from '../ports/object-storage.js';
import { PRIVATE_FILE_MODE } from '../storage/private-modes.js';
import { recordBatch } from './arrow-columns.js';
import { csvRecords } from './csv-records.js';
import { type ColumnType, cellDecoder, rowValueOf } from './output-values.js';
import { parquetRows } from './parquet-rows.js';

/** A row of a result: column name → value (see `OutputData.rows`). */
export type OutputRow = Record<string, unknown>;

/** Rows per record batch of `arrowBatches` unless told. */
const DEFAULT_BATCH_ROWS = 65_536;

/**
 * The output of a `retrieve` or `historical` job, for code in the same process: read it as
 * rows, as an Arrow table, or copy it to a file, without touching storage keys. It also has
 * the fields every caller had before (`outputKey`, `rowCount`, `format`), so code that reads
 * the storage object itself keeps working.
 *
 * The output stays in the store's storage until the output retention passes (7 days by
 * default); `engine.outputs.remove(principal, output.jobId)` removes it sooner.
 *
 * @example
 * const { result } = await fs.engine.offline.retrieve(fs.principal, 'fraud', 'transactions', {
 *   latest: true,
 * });
 * const output = await result;
 * for await (const row of output.rows()) console.log(row.customer_id, row.amount);
 * const table = await output.toArrow(); // an apache-arrow Table
 * await output.writeTo('latest.csv');
 */
export class OutputData {
  /** Storage key of the output file. */
  readonly outputKey: string;
  readonly rowCount: number;
  readonly format: 'csv' | 'parquet';
  [field: string]: unknown;
  readonly #storage: ObjectStorage;
  readonly #job: Job;
  readonly #types: ReadonlyMap<string, ColumnType>;

  /**
   * `types`: the type of each feature column by its output name; other columns (an entity
   * file's) are text.
   */
  constructor(
    result: { outputKey: string; rowCount: number; format: 'csv' | 'parquet' },
    deps: { storage: ObjectStorage; job: Job; types: ReadonlyMap<string, ColumnType> },
  ) {
    this.outputKey = result.outputKey;
    this.rowCount = result.rowCount;
    this.format = result.format;
    this.#storage = deps.storage;
    this.#job = deps.job;
    this.#types = deps.types;
  }

  /** The id of the job that wrote the output. */
  get jobId(): string {
    return this.#job.id;
  }

  /**
   * The rows, in output order, read as they stream from storage (memory holds one chunk).
   * Values by feature type: `bool` boolean, `int32`/`float32`/`float64` number (NaN and
   * ±Infinity included), `int64` bigint, `string` string, `bytes` Uint8Array, `date` and
   * `timestamp` Date (UTC; microseconds are cut to milliseconds: `toArrow` keeps them),
   * `list<…>` arrays; null for a missing value; a float32 as the shortest decimal that is the
   * same float32. An entity file's columns (in a training set) are strings as the file had
   * them. CSV and Parquet outputs of the same job give the same rows (a Parquet output is read
   * a row group at a time; its ZSTD pages need Node 22.15 or later, `NotSupportedError` before).
   *
   * @example
   * for await (const row of output.rows()) model.train(row);
   */
  async *rows(): AsyncGenerator<OutputRow> {
    for await (const { names, values } of this.#decodedRows()) {
      const row: OutputRow = {};
      for (let c = 0; c < names.length; c++) row[names[c]!.name] = names[c]!.toRow(values[c]);
      yield row;
    }
  }

  /**
   * The rows as apache-arrow record batches of `rowsPerBatch` rows (default 65,536), read as
   * they stream: for results larger than memory. Types as in `toArrow`.
   */
  async *arrowBatches(options: { rowsPerBatch?: number } = {}): AsyncGenerator<RecordBatch> {
    const size = options.rowsPerBatch ?? DEFAULT_BATCH_ROWS;
    let columns: { name: string; type: ColumnType }[] | undefined;
    let pending: unknown[][] = [];
    let batches = 0;
    for await (const { names, values } of this.#decodedRows((header) => {
      columns = header.map((column) => ({ name: column.name, type: column.type }));
    })) {
      pending.push(values);
      if (pending.length >= size) {
        yield recordBatch(names, pending);
        batches++;
        pending = [];
      }
    }
    // No rows at all still makes one (empty) batch: it carries the columns and their types.
    if (pending.length > 0 || batches === 0) yield recordBatch(columns ?? [], pending);
  }

  /**
   * The whole output as an apache-arrow `Table`: `bool` Bool, `int32` Int32, `int64` Int64,
   * `float32` Float32, `float64` Float64, `string` Utf8, `bytes` Binary, `date` DateDay,
   * `timestamp` Timestamp(microsecond, UTC), `list<T>` List<T>; an entity file's columns Utf8.
   *
   * @example
   * const table = await output.toArrow();
   * console.log(table.numRows, table.getChild('transactions__amount')?.toArray());
   */
  async toArrow(): Promise<Table> {
    const batches: RecordBatch[] = [];
    for await (const batch of this.arrowBatches()) batches.push(batch);
    return new Table(batches);
  }

  /**
   * Copies the output to a local file (replaced whole: a reader never sees half of it), mode
   * 0600 like the store's files. The file's extension, when it names a format, must be the
   * output's (`retrieve`/`historical` with `format: 'parquet'` for a `.parquet` file).
   *
   * @example
   * await output.writeTo('training-set.csv');
   */
  async writeTo(path: string): Promise<void> {
    const named = formatOfPath(path);
    if (named !== undefined && named !== this.format) {
      throw new ValidationError(
        `${path} names a ${named} file, but this output is ${this.format}: run the job with { format: '${named === 'json' ? 'csv' : named}' }, or write to a .${this.format} file`,
        { details: { field: 'path', value: path } },
      );
    }
    const temporary = `${path}.tmp-${randomUUID()}`;
    const file = await open(temporary, 'wx', PRIVATE_FILE_MODE).catch(
      (error: NodeJS.ErrnoException) => {
        throw new ValidationError(
          `${path} cannot be written (${error.code ?? error.message}): check that its folder exists and is writable`,
          { cause: error, details: { field: 'path', value: path } },
        );
      },
    );
    try {
      await pipeline(await this.#read(), file.createWriteStream());
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async #read(): Promise<Readable> {
    try {
      return await this.#storage.get(this.outputKey);
    } catch (error) {
      if (error instanceof NotFoundError) throw outputRemovedError(this.#job);
      throw error;
    }
  }

  /** Each row's decoded values, with the columns (names, types) from the file's header. */
  async *#decodedRows(onHeader?: (header: DecodedColumn[]) => void): AsyncGenerator<{
    names: DecodedColumn[];
    values: unknown[];
  }> {
    if (this.format === 'parquet') {
      yield* this.#parquetRows(onHeader);
      return;
    }
    let columns: DecodedColumn[] | undefined;
    for await (const record of csvRecords(await this.#read())) {
      if (columns === undefined) {
        columns = record.map((name) => decodedColumn(name ?? '', this.#types.get(name ?? '')));
        onHeader?.(columns);
        continue;
      }
      const values = record.map((text, c) => (text === null ? null : columns![c]!.decode(text)));
      yield { names: columns, values };
    }
  }
  /** The rows of a Parquet output, decoded to the values a CSV output of the same job gives. */
  async *#parquetRows(onHeader?: (header: DecodedColumn[]) => void): AsyncGenerator<{
    names: DecodedColumn[];
    values: unknown[];
  }> {
    const info = await this.#storage.head(this.outputKey);
    if (info === undefined) throw outputRemovedError(this.#job);
    let columns: DecodedColumn[] = [];
    const rows = parquetRows(this.#storage, this.outputKey, info.size, this.#types, (header) => {
      columns = header.map((column) => decodedColumn(column.name, column.type));
      onHeader?.(columns);
    });
    try {
      for await (const values of rows) yield { names: columns, values };
    } catch (error) {
      if (error instanceof NotFoundError) throw outputRemovedError(this.#job);
      throw error;
    }
  }
}

interface DecodedColumn {
  name: string;
  type: ColumnType;
  decode(text: string): unknown;
  toRow(value: unknown): unknown;
}

function decodedColumn(name: string, type: ColumnType = 'text'): DecodedColumn {
  return { name, type, decode: cellDecoder(type), toRow: rowValueOf(type) };
}
