import { type Project, parseTagAssignments } from '@featurestore/core';
import type { Command } from 'commander';
import { withStore } from './context.js';
import type { CliIo } from './io.js';
import { collect, pageExtra, parseTagFilter } from './options.js';

export function showProject(project: Project) {
  return {
    name: project.name,
    description: project.description,
    tags: project.tags,
    revision: project.revision,
    created: project.createdAt,
    updated: project.updatedAt,
    id: project.id,
  };
}

export function registerProjectCommands(program: Command, io: CliIo): void {
  const project = program
    .command('project')
    .description('create, read, update and delete projects');

  project
    .command('create <name>')
    .description('create a project; you become its owner')
    .option('--description <text>', 'what the project is for')
    .option('--tag <key=value>', 'a tag (repeatable)', collect)
    .action(
      withStore(io, async (ctx, name: string, opts: { description?: string; tag?: string[] }) => {
        const created = await ctx.store.engine.projects.create(ctx.store.principal, {
          name,
          description: opts.description,
          tags: parseTagAssignments(opts.tag ?? []),
        });
        ctx.record(created, showProject(created));
      }),
    );

  project
    .command('get <name>')
    .description('show a project')
    .action(
      withStore(io, async (ctx, name: string) => {
        const found = await ctx.store.engine.projects.get(ctx.store.principal, name);
        ctx.record(found, showProject(found));
      }),
    );

  project
    .command('list')
    .description('list the projects you can see')
    .option('--prefix <text>', 'names starting with this')
    .option('--owner <user>', 'owned by this user')
    .option('--tag <key[=value]>', 'with this tag (and value)')
    .option('--search <text>', 'text in the description')
    .option('--page-size <n>', 'at most this many', Number)
    .option('--page-token <token>', 'continue a previous listing')
    .action(
      withStore(
        io,
        async (
          ctx,
          opts: {
            prefix?: string;
            owner?: string;
            tag?: string;
            search?: string;
            pageSize?: number;
            pageToken?: string;
          },
        ) => {
          const tag = parseTagFilter(opts.tag);
          const page = await ctx.store.engine.projects.list(ctx.store.principal, {
            namePrefix: opts.prefix,
            owner: opts.owner,
            tag,
            text: opts.search,
            pageSize: opts.pageSize,
            pageToken: opts.pageToken,
          });
          ctx.table(page.items, ['name', 'description', 'tags'], pageExtra(page));
        },
      ),
    );

  project
    .command('update <name>')
    .description('change the description or tags of a project')
    .option('--description <text>', 'the new description')
    .option('--tag <key=value>', 'set a tag (repeatable); other tags are kept', collect)
    .option('--revision <n>', 'fail if the project changed since this revision', Number)
    .action(
      withStore(
        io,
        async (
          ctx,
          name: string,
          opts: { description?: string; tag?: string[]; revision?: number },
        ) => {
          const { engine, principal } = ctx.store;
          const current = await engine.projects.get(principal, name);
          const updated = await engine.projects.update(principal, name, {
            description: opts.description,
            tags: opts.tag && { ...current.tags, ...parseTagAssignments(opts.tag) },
            expectedRevision: opts.revision ?? current.revision,
          });
          ctx.record(updated, showProject(updated));
        },
      ),
    );

  project
    .command('delete <name>')
    .description('delete a project (refused while it holds feature sets, unless --force)')
    .option('--force', 'also delete its feature sets')
    .action(
      withStore(io, async (ctx, name: string, opts: { force?: boolean }) => {
        await ctx.store.engine.projects.delete(ctx.store.principal, name, {
          force: opts.force === true,
        });
        ctx.message(`deleted project ${name}`, { deleted: name });
      }),
    );
}
