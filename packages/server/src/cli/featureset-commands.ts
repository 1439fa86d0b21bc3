import {
  type FeatureSet,
  type FeatureSetVersion,
  formatVersion,
  parseTagAssignments,
} from '@featurestore/core';
import type { Command } from 'commander';
import { withStore } from './context.js';
import type { CliIo } from './io.js';
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

export function registerFeatureSetCommands(program: Command, io: CliIo): void {
  const featureset = program
    .command('featureset')
    .description('register, version, search and delete feature sets');

  featureset
    .command('register <project> <name>')
    .description('register a feature set (version 1.0) from a schema file')
    .requiredOption('--schema <file>', 'the schema file (JSON, format in ARCHITECTURE.md)')
    .action(
      withStore(io, async (ctx, project: string, name: string, opts: { schema: string }) => {
        const definition = await readJsonFile('--schema', opts.schema);
        const registered = await ctx.store.engine.featureSets.register(
          ctx.store.principal,
          project,
          name,
          definition,
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
