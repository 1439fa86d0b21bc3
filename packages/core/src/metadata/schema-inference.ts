import type { Authorizer } from '../auth/authorizer.js';
import { NotSupportedError, ValidationError } from '../errors.js';
import { validateName } from '../identifiers.js';
import type { Tags } from '../model/records.js';
import type { ResolvedSource } from '../offline/sources.js';
import { type StagedUpload, sourceDescription } from '../offline/staged-uploads.js';
import type { ComputeEngine, DataFormat, InferSchemaJobResult } from '../ports/compute-engine.js';
import type { Principal } from '../ports/identity-provider.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import {
  type FeatureSetDefinition,
  parseFeatureSetDefinition,
  parseTimeToLive,
} from './feature-set-definition.js';
import { authorizedProject } from './lookups.js';

/** What schema inference needs besides the file: what the types cannot tell. */
export interface InferSchemaOptions {
  /** The key columns; each must be a column of the source, with a value in every row. */
  primaryKey: readonly string[];
  /** The event-time column: a column of the source inferred as timestamp or date. */
  eventTime: string;
  /** ISO 8601 duration (`P30D`). */
  timeToLive?: string;
  description?: string;
  tags?: Tags;
  /** Overrides the format told by the file names. */
  format?: DataFormat;
  /** Cancels the inference (it reads every row). */
  signal?: AbortSignal;
}

/** An inferred definition, for review (saved and edited) or for `register` as it is. */
export interface InferredSchema {
  /** In the schema file format that `register` and `update` take. */
  definition: FeatureSetDefinition;
  /** What a reviewer should know about the values behind the types, one sentence each. */
  notes: string[];
  /** Rows read. */
  rowCount: number;
  /** The files read, and their format. */
  source: { uris: string[]; format: DataFormat };
}

function columnsOf(result: InferSchemaJobResult): string {
  return result.features.map((feature) => `"${feature.name}"`).join(', ');
}

/**
 * The definition for a source's inferred types, or a `ValidationError` naming what keeps it
 * from ingesting: a column name that is not a feature name, a key or event-time column the
 * source lacks or leaves empty, an event time that is not a time. Then validated like any
 * definition (`parseFeatureSetDefinition`: reserved names, key types, the time to live).
 */
export function inferredDefinition(
  source: string,
  result: InferSchemaJobResult,
  options: InferSchemaOptions,
): FeatureSetDefinition {
  for (const feature of result.features) {
    try {
      validateName('feature', feature.name);
    } catch (error) {
      throw new ValidationError(
        `source ${source}: column "${feature.name}" cannot be a feature: ${(error as Error).message.replace(/^feature name "[^"]*" is invalid: /, '')}; rename the column in the file (feature names are lowercase letters, digits and underscores)`,
        { cause: error, details: { field: 'source', value: feature.name } },
      );
    }
  }
  const byName = new Map(result.features.map((feature) => [feature.name, feature]));
  const required = [
    ...options.primaryKey.map((name) => ({ name, field: 'primaryKey', what: 'primary key' })),
    { name: options.eventTime, field: 'eventTime', what: 'event time' },
  ];
  for (const { name, field, what } of required) {
    const feature = byName.get(name);
    if (!feature) {
      throw new ValidationError(
        `${what} "${name}" is not a column of ${source} (columns: ${columnsOf(result)}): name one of them`,
        {
          details: { field, value: name, columns: result.features.map((f) => f.name) },
        },
      );
    }
    if (feature.nullable) {
      throw new ValidationError(
        `${what} "${name}" is empty in some rows of ${source}: every row needs a ${what} value; fill them in, or name another column`,
        { details: { field, value: name } },
      );
    }
  }
  const eventTime = byName.get(options.eventTime)!;
  if (eventTime.type !== 'timestamp' && eventTime.type !== 'date') {
    throw new ValidationError(
      `event time "${eventTime.name}" is inferred as ${eventTime.type} from ${source}: it must be a time in every row, ISO 8601 such as 2024-01-31T12:00:00Z (a timestamp) or YYYY-MM-DD (a date); fix the values, or name another column`,
      { details: { field: 'eventTime', value: eventTime.name, type: eventTime.type } },
    );
  }
  const definition: Record<string, unknown> = {
    primaryKey: [...options.primaryKey],
    eventTime: options.eventTime,
    features: result.features.map(({ name, type }) => ({ name, type })),
  };
  if (options.timeToLive !== undefined) definition.timeToLive = options.timeToLive;
  if (options.description !== undefined) definition.description = options.description;
  if (options.tags !== undefined && Object.keys(options.tags).length > 0) {
    definition.tags = options.tags;
  }
  const parsed = parseFeatureSetDefinition(definition);
  // In the order of the schema file format, without the empty tags none were given for.
  return {
    primaryKey: parsed.primaryKey,
    eventTime: parsed.eventTime,
    ...(parsed.timeToLive === undefined ? {} : { timeToLive: parsed.timeToLive }),
    ...(parsed.description === undefined ? {} : { description: parsed.description }),
    ...(definition.tags === undefined ? {} : { tags: parsed.tags ?? {} }),
    features: parsed.features,
  };
}

/**
 * Expands a source for a caller into the files to read and their format, under the same
 * access rules as an ingestion's source (`resolveSource`).
 */
export type SourceResolver = (
  principal: Principal,
  source: string | StagedUpload,
  format: DataFormat | undefined,
) => Promise<ResolvedSource>;

/**
 * Schema inference: a feature set definition from a data file's values, typed by the rules
 * ingestion applies (the compute engine's `infer-schema` job), so that ingesting the file into
 * the feature set registered from it succeeds.
 *
 * @example
 * const inferred = await engine.schemaInference.infer(principal, 'fraud', 'tx.csv', {
 *   primaryKey: ['customer_id'],
 *   eventTime: 'ts',
 * });
 * await engine.featureSets.register(principal, 'fraud', 'transactions', inferred.definition);
 */
export class SchemaInference {
  readonly #store: MetadataStore;
  readonly #authorizer: Authorizer;
  readonly #compute: ComputeEngine;
  readonly #resolveSource: SourceResolver;

  constructor(deps: {
    store: MetadataStore;
    authorizer: Authorizer;
    compute: ComputeEngine;
    resolveSource: SourceResolver;
  }) {
    this.#store = deps.store;
    this.#authorizer = deps.authorizer;
    this.#compute = deps.compute;
    this.#resolveSource = deps.resolveSource;
  }

  /**
   * Infers the definition of a feature set from a source (a file or a folder of files, local
   * or in a configured storage), for a caller who may register feature sets in the project.
   * Reads every row; registers nothing.
   */
  async infer(
    principal: Principal,
    projectName: string,
    source: string | StagedUpload,
    options: InferSchemaOptions,
  ): Promise<InferredSchema> {
    // Authorized before anything says whether the project exists (see `authorizedProject`).
    await authorizedProject(
      this.#store,
      this.#authorizer,
      principal,
      'featureset.register',
      projectName,
    );
    if (!this.#compute.capabilities.jobTypes.includes('infer-schema')) {
      throw new NotSupportedError(
        `the ${this.#compute.driver} compute engine cannot infer schemas: write the schema file by hand`,
        { details: { driver: this.#compute.driver } },
      );
    }
    // Before reading what may be a large source.
    if (options.primaryKey.length === 0) {
      throw new ValidationError('primaryKey must name at least one column of the source', {
        details: { field: 'primaryKey', value: [] },
      });
    }
    parseTimeToLive(options.timeToLive);
    const resolved = await this.#resolveSource(principal, source, options.format);
    const result = await this.#compute.run(
      { type: 'infer-schema', sources: resolved.uris, format: resolved.format },
      { signal: options.signal ?? new AbortController().signal, reportProgress: () => undefined },
    );
    return {
      definition: inferredDefinition(sourceDescription(source), result, options),
      notes: result.notes,
      rowCount: result.rowCount,
      source: { uris: resolved.uris, format: resolved.format },
    };
  }
}
