import {
  AlreadyExistsError,
  type DataFormat,
  type FeatureSet,
  type FeatureSetVersion,
  formatVersion,
  NotFoundError,
  parseFeatureSetDefinition,
  parseTagAssignments,
  ValidationError,
  validateName,
} from '@featurestore/core';
import type { Command } from 'commander';
import { type CommandContext, withStore } from './context.js';
import { type CliIo, formatRecord } from './io.js';
import { collect, pageExtra, parseTagFilter, readJsonFile } from './options.js';

function showFeatureSet(featureSet: FeatureSet) {
  return {
    name: `${featureSet.projectName}/${featureSet.name}`,
    version: formatVersion(featureSet.version),
    latest: formatVersion(featureSet.latestVersion),
    description: featureSet.description,
    primaryKey: featureSet.schema.primaryKey.join(', '),
    eventTime: featureSet.schema.eventTime,
    timeToLive: featureSet.timeToLive,
    tags: featureSet.tags,
    features: featureSet.schema.features
      .map((feature) => `${feature.name}:${feature.type}${feature.sensitive ? ' (sensitive)' : ''}`)
      .join(', '),
    revision: featureSet.revision,
    id: featureSet.id,
  };
}

function versionRow(version: FeatureSetVersion) {
  return {
    version: formatVersion(version.version),
    created: version.createdAt,
    changes: version.changes.join('; '),
  };
}

interface RegisterOptions {
  schema?: string;
  schemaFrom?: string;
  primaryKey?: string;
  eventTime?: string;
  ttl?: string;
  description?: string;
  tag?: string[];
  format?: string;
  dryRun?: boolean;
}

const INFERENCE_OPTIONS = {
  primaryKey: '--primary-key',
  eventTime: '--event-time',
  ttl: '--ttl',
  description: '--description',
  tag: '--tag',
  format: '--format',
  dryRun: '--dry-run',
} as const;

/** `--schema FILE` alone: the options of inference have no meaning there. */
function checkRegisterOptions(opts: RegisterOptions): void {
  if (opts.schema === undefined) {
    throw new ValidationError(
      'featureset register needs --schema FILE (a schema file) or --schema-from DATAFILE (infer it from a data file)',
      { details: { field: 'schema' } },
    );
  }
  for (const [key, option] of Object.entries(INFERENCE_OPTIONS)) {
    if (opts[key as keyof RegisterOptions] !== undefined) {
      throw new ValidationError(
        `${option} goes with --schema-from DATAFILE, not --schema: put it in the schema file instead`,
        { details: { field: option } },
      );
    }
  }
}

function parseFormatOption(value: string | undefined): DataFormat | undefined {
  if (value === undefined || value === 'csv' || value === 'parquet' || value === 'json') {
    return value;
  }
  throw new ValidationError(
    `--format ${JSON.stringify(value)} is unknown: use csv, parquet or json`,
    {
      details: { field: 'format', value },
    },
  );
}

function requiredOption(value: string | undefined, option: string, what: string): string {
  if (value === undefined || value.trim() === '') {
    throw new ValidationError(`--schema-from needs ${option}: ${what}`, {
      details: { field: option },
    });
  }
  return value;
}

/** `{ "a": 1, "b": [2] }`: a small JSON value on one line, spaced like the README's. */
function inlineJson(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(inlineJson).join(', ')}]`;
  const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${inlineJson(v)}`);
  return entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`;
}

/** A definition as a schema file for people to read and edit: one line per field and feature. */
function schemaFileText(definition: Record<string, unknown>): string {
  const fields = Object.entries(definition).map(([key, value]) =>
    key === 'features' && Array.isArray(value)
      ? `  "features": [\n${value.map((feature) => `    ${inlineJson(feature)}`).join(',\n')}\n  ]`
      : `  ${JSON.stringify(key)}: ${inlineJson(value)}`,
  );
  return `{\n${fields.join(',\n')}\n}\n`;
}

/** A name already taken fails before the data file is read, not after. */
async function refuseExisting(ctx: CommandContext, project: string, name: string): Promise<void> {
  const existing = await ctx.store.engine.featureSets
    .get(ctx.store.principal, project, name)
    .catch((error: unknown) => {
      if (error instanceof NotFoundError && error.details?.field === 'featureSet') return undefined;
      throw error;
    });
  if (existing) {
    throw new AlreadyExistsError(
      `feature set "${project}/${name}" already exists: change its schema with featureset update --schema (a new major version), or pick another name`,
      { details: { field: 'name', value: name } },
    );
  }
}

/**
 * `--schema-from DATAFILE`: infers the definition, prints it in the schema file format (to
 * save, edit and register with --schema) with the notes on stderr, then registers it unless
 * `--dry-run`.
 */
async function registerInferred(
  ctx: CommandContext,
  io: CliIo,
  project: string,
  name: string,
  opts: RegisterOptions & { schemaFrom: string },
): Promise<void> {
  if (opts.schema !== undefined) {
    throw new ValidationError(
      '--schema and --schema-from exclude each other: register from a schema file, or infer one from a data file',
      { details: { field: 'schema' } },
    );
  }
  const primaryKey = requiredOption(
    opts.primaryKey,
    '--primary-key',
    'name the key columns, comma-separated (--primary-key customer_id)',
  )
    .split(',')
    .map((column) => column.trim());
  const eventTime = requiredOption(
    opts.eventTime,
    '--event-time',
    'name the event-time column (--event-time ts)',
  );
  const { engine, principal } = ctx.store;
  // Checked before the (long) read of the data file.
  validateName('feature set', name);
  const format = parseFormatOption(opts.format);
  if (!opts.dryRun) await refuseExisting(ctx, project, name);
  const inferred = await engine.schemaInference.infer(principal, project, opts.schemaFrom, {
    primaryKey,
    eventTime,
    ...(opts.ttl === undefined ? {} : { timeToLive: opts.ttl }),
    ...(opts.description === undefined ? {} : { description: opts.description }),
    ...(opts.tag === undefined ? {} : { tags: parseTagAssignments(opts.tag) }),
    ...(format === undefined ? {} : { format }),
  });
  const summary = {
    schema: inferred.definition,
    notes: inferred.notes,
    rowCount: inferred.rowCount,
  };
  if (!ctx.options.json) {
    io.stdout(schemaFileText({ ...inferred.definition }));
    for (const note of inferred.notes) io.stderr(`note: ${note}\n`);
  }
  if (opts.dryRun) {
    if (ctx.options.json) io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      io.stderr(
        `inferred from ${inferred.rowCount} rows of ${opts.schemaFrom}; not registered (--dry-run): save the schema above, edit it, and register it with --schema\n`,
      );
    }
    return;
  }
  const registered = await engine.featureSets.register(
    principal,
    project,
    name,
    inferred.definition,
  );
  if (ctx.options.json) {
    io.stdout(`${JSON.stringify({ ...summary, featureSet: registered }, null, 2)}\n`);
  } else {
    io.stdout(`\n${formatRecord(showFeatureSet(registered))}\n`);
  }
}

export function registerFeatureSetCommands(program: Command, io: CliIo): void {
  const featureset = program
    .command('featureset')
    .description('register, version, search and delete feature sets');

  featureset
    .command('register <project> <name>')
    .description(
      'register a feature set (version 1.0) from a schema file, or from a data file whose types are inferred',
    )
    .option(
      '--schema <file>',
      'the schema file (JSON; its JSON Schema is schemas/feature-set.schema.json, the terms docs/concepts.md)',
    )
    .option(
      '--schema-from <datafile>',
      'infer the schema from a CSV, Parquet or JSON Lines file (or a folder of them): prints it, then registers it',
    )
    .option('--primary-key <columns>', 'with --schema-from: the key columns, comma-separated')
    .option('--event-time <column>', 'with --schema-from: the event-time column')
    .option('--ttl <duration>', 'with --schema-from: time to live, ISO 8601 (P30D, PT12H)')
    .option('--description <text>', 'with --schema-from: the description')
    .option('--tag <key=value>', 'with --schema-from: a tag (repeatable)', collect)
    .option(
      '--format <format>',
      'with --schema-from: csv, parquet or json (default: from the names)',
    )
    .option('--dry-run', 'with --schema-from: print the inferred schema without registering')
    .action(
      withStore(io, async (ctx, project: string, name: string, opts: RegisterOptions) => {
        if (opts.schemaFrom !== undefined) {
          await registerInferred(ctx, io, project, name, { ...opts, schemaFrom: opts.schemaFrom });
          return;
        }
        checkRegisterOptions(opts);
        const definition = await readJsonFile('--schema', opts.schema!);
        const registered = await ctx.store.engine.featureSets.register(
          ctx.store.principal,
          project,
          name,
          parseFeatureSetDefinition(definition),
        );
        ctx.record(registered, showFeatureSet(registered));
      }),
    );

  featureset
    .command('get <project> <name>')
    .description('show a feature set (the latest version unless --version)')
    .option('--version <v>', 'MAJOR (latest minor of it) or MAJOR.MINOR')
    .action(
      withStore(io, async (ctx, project: string, name: string, opts: { version?: string }) => {
        const found = await ctx.store.engine.featureSets.get(
          ctx.store.principal,
          project,
          name,
          opts.version,
        );
        ctx.record(found, showFeatureSet(found));
      }),
    );

  featureset
    .command('list')
    .description('list and search feature sets')
    .option('--project <name>', 'in this project')
    .option('--prefix <text>', 'names starting with this')
    .option('--tag <key[=value]>', 'with this tag (and value)')
    .option('--feature <name>', 'having a feature of this name')
    .option('--search <text>', 'text in the name, description or feature descriptions')
    .option('--page-size <n>', 'at most this many', Number)
    .option('--page-token <token>', 'continue a previous listing')
    .action(
      withStore(
        io,
        async (
          ctx,
          opts: {
            project?: string;
            prefix?: string;
            tag?: string;
            feature?: string;
            search?: string;
            pageSize?: number;
            pageToken?: string;
          },
        ) => {
          const page = await ctx.store.engine.featureSets.list(ctx.store.principal, {
            project: opts.project,
            namePrefix: opts.prefix,
            tag: parseTagFilter(opts.tag),
            feature: opts.feature,
            text: opts.search,
            pageSize: opts.pageSize,
            pageToken: opts.pageToken,
          });
          ctx.table(
            page.items.map((item) => ({
              ...item,
              project: item.projectName,
              version: formatVersion(item.version),
            })),
            ['project', 'name', 'version', 'description'],
            pageExtra(page),
          );
        },
      ),
    );

  featureset
    .command('update <project> <name>')
    .description('change metadata (new minor version) or the schema (new major version)')
    .option('--description <text>', 'the new description')
    .option('--tag <key=value>', 'set a tag (repeatable); other tags are kept', collect)
    .option('--ttl <duration>', 'time to live, ISO 8601 (P30D, PT12H); "none" removes it')
    .option('--schema <file>', 'a new schema file: a changed schema makes a new major version')
    .option('--revision <n>', 'fail if the feature set changed since this revision', Number)
    .action(
      withStore(
        io,
        async (
          ctx,
          project: string,
          name: string,
          opts: {
            description?: string;
            tag?: string[];
            ttl?: string;
            schema?: string;
            revision?: number;
          },
        ) => {
          const { engine, principal } = ctx.store;
          const current = await engine.featureSets.get(principal, project, name);
          const updated = await engine.featureSets.update(principal, project, name, {
            description: opts.description,
            tags: opts.tag && { ...current.tags, ...parseTagAssignments(opts.tag) },
            timeToLive: opts.ttl === 'none' ? null : opts.ttl,
            schema:
              opts.schema === undefined ? undefined : await readJsonFile('--schema', opts.schema),
            expectedRevision: opts.revision ?? current.revision,
          });
          ctx.record(updated, showFeatureSet(updated));
        },
      ),
    );

  featureset
    .command('versions <project> <name>')
    .description('list the versions of a feature set and what changed in each')
    .action(
      withStore(io, async (ctx, project: string, name: string) => {
        const versions = await ctx.store.engine.featureSets.versions(
          ctx.store.principal,
          project,
          name,
        );
        ctx.table(versions.map(versionRow), ['version', 'created', 'changes']);
      }),
    );

  featureset
    .command('delete <project> <name>')
    .description('delete a feature set with all its versions')
    .action(
      withStore(io, async (ctx, project: string, name: string) => {
        await ctx.store.engine.featureSets.delete(ctx.store.principal, project, name);
        ctx.message(`deleted feature set ${project}/${name}`, { deleted: `${project}/${name}` });
      }),
    );
}
