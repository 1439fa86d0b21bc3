import type { Command } from 'commander';
import { withStore } from './context.js';
import type { CliIo } from './io.js';

export function registerAccessCommands(program: Command, io: CliIo): void {
  const user = program.command('user').description('manage users (admins only)');

  user
    .command('create <name>')
    .description('create a local user')
    .option('--admin', 'give the global admin flag')
    .option('--email <address>', 'contact address')
    .action(
      withStore(io, async (ctx, name: string, opts: { admin?: boolean; email?: string }) => {
        const created = await ctx.store.engine.access.createUser(ctx.store.principal, {
          name,
          admin: opts.admin === true,
          email: opts.email,
        });
        ctx.record(created);
      }),
    );

  user
    .command('list')
    .description('list users')
    .action(
      withStore(io, async (ctx) => {
        const page = await ctx.store.engine.access.listUsers(ctx.store.principal, {
          pageSize: 1000,
        });
        ctx.table(page.items, ['name', 'admin', 'email', 'oidcSubject', 'createdAt']);
      }),
    );

  const token = program.command('token').description('personal access tokens');

  token
    .command('create')
    .description('create a token; its secret is shown once and stored only as a hash')
    .requiredOption('--name <name>', 'what the token is for')
    .option('--expires-in <duration>', 'ISO 8601 duration, e.g. P90D')
    .option('--user <name>', 'for another user (admins only)')
    .action(
      withStore(io, async (ctx, opts: { name: string; expiresIn?: string; user?: string }) => {
        const created = await ctx.store.engine.access.createToken(ctx.store.principal, opts);
        ctx.record(created, {
          id: created.token.id,
          name: created.token.name,
          expires: created.token.expiresAt ?? 'never',
          secret: created.secret,
          note: 'the secret is shown only now: store it safely',
        });
      }),
    );

  token
    .command('list')
    .description('list your tokens (or a user’s, for admins)')
    .option('--user <name>', 'whose tokens')
    .action(
      withStore(io, async (ctx, opts: { user?: string }) => {
        const tokens = await ctx.store.engine.access.listTokens(ctx.store.principal, opts.user);
        ctx.table(tokens, ['id', 'name', 'createdAt', 'expiresAt', 'lastUsedAt', 'revokedAt']);
      }),
    );

  token
    .command('revoke <id>')
    .description('revoke a token; it stops working at once')
    .action(
      withStore(io, async (ctx, id: string) => {
        const revoked = await ctx.store.engine.access.revokeToken(ctx.store.principal, id);
        ctx.message(`revoked token ${revoked.name} (${revoked.id})`, revoked);
      }),
    );

  const permission = program
    .command('permission')
    .description('project roles: owner > editor > sensitive_consumer > consumer > viewer');

  permission
    .command('grant <project> <user> <role>')
    .description('give a user a role in a project (replaces their previous role)')
    .action(
      withStore(io, async (ctx, project: string, userName: string, role: string) => {
        const granted = await ctx.store.engine.access.grant(
          ctx.store.principal,
          project,
          userName,
          role,
        );
        ctx.message(`granted ${granted.role} on ${project} to ${userName}`, granted);
      }),
    );

  permission
    .command('revoke <project> <user>')
    .description('remove a user from a project')
    .action(
      withStore(io, async (ctx, project: string, userName: string) => {
        const removed = await ctx.store.engine.access.revoke(
          ctx.store.principal,
          project,
          userName,
        );
        ctx.message(
          removed
            ? `revoked ${userName}'s role on ${project}`
            : `${userName} had no role on ${project}`,
          { revoked: removed },
        );
      }),
    );

  permission
    .command('list <project>')
    .description('who has which role in a project')
    .action(
      withStore(io, async (ctx, project: string) => {
        const permissions = await ctx.store.engine.access.listPermissions(
          ctx.store.principal,
          project,
        );
        ctx.table(permissions, ['userName', 'role', 'grantedAt']);
      }),
    );
}
