import { CoreServiceService as Core } from '@featurestore/protocol/featurestore/v1/core';
import type { CallRunner } from './call-runner.js';
import type { CallOptions } from './client-options.js';
import { permissionOf, tokenOf, userOf } from './messages.js';
import type { CreatedToken, Page, PageRequest, Permission, TokenInfo, User } from './records.js';

/** Users, personal access tokens and project permissions, as the engine's `access` service. */
export class AccessClient {
  readonly #calls: CallRunner;

  constructor(calls: CallRunner) {
    this.#calls = calls;
  }

  /** Creates a local user (admins only). */
  async createUser(
    input: { name: string; admin?: boolean; email?: string },
    options?: CallOptions,
  ): Promise<User> {
    const request = { name: input.name, admin: input.admin === true, email: input.email ?? '' };
    return userOf(await this.#calls.unary(Core.createUser, request, 'once', options));
  }

  async listUsers(page: PageRequest = {}, options?: CallOptions): Promise<Page<User>> {
    const request = { pageSize: page.pageSize ?? 0, pageToken: page.pageToken ?? '' };
    const answer = await this.#calls.unary(Core.listUsers, request, 'idempotent', options);
    return {
      items: answer.users.map(userOf),
      ...(answer.nextPageToken === '' ? {} : { nextPageToken: answer.nextPageToken }),
    };
  }

  /** Gives or takes away the global admin flag. */
  async setAdmin(userName: string, admin: boolean, options?: CallOptions): Promise<User> {
    return userOf(
      await this.#calls.unary(Core.setUserAdmin, { name: userName, admin }, 'once', options),
    );
  }

  /** A new personal access token, for the caller or (admins) `user`; the secret is shown once. */
  async createToken(
    input: { name: string; expiresIn?: string; user?: string },
    options?: CallOptions,
  ): Promise<CreatedToken> {
    const request = { name: input.name, expiresIn: input.expiresIn ?? '', user: input.user ?? '' };
    const created = await this.#calls.unary(Core.createAccessToken, request, 'once', options);
    return { token: tokenOf(created.token), secret: created.secret };
  }

  /** The caller's tokens, or (admins) another user's. */
  async listTokens(userName?: string, options?: CallOptions): Promise<TokenInfo[]> {
    const { tokens } = await this.#calls.unary(
      Core.listAccessTokens,
      { user: userName ?? '' },
      'idempotent',
      options,
    );
    return tokens.map(tokenOf);
  }

  /** Revokes a token; it stops working at once. */
  async revokeToken(tokenId: string, options?: CallOptions): Promise<TokenInfo> {
    return tokenOf(
      await this.#calls.unary(Core.revokeAccessToken, { id: tokenId }, 'once', options),
    );
  }

  /** Gives a user a role in a project, replacing their previous one. */
  async grant(
    project: string,
    userName: string,
    role: string,
    options?: CallOptions,
  ): Promise<Permission> {
    return permissionOf(
      await this.#calls.unary(
        Core.grantPermission,
        { project, user: userName, role },
        'once',
        options,
      ),
    );
  }

  /** Removes a user's role in a project; false when they had none. */
  async revoke(project: string, userName: string, options?: CallOptions): Promise<boolean> {
    const { revoked } = await this.#calls.unary(
      Core.revokePermission,
      { project, user: userName },
      'once',
      options,
    );
    return revoked;
  }

  /** Who has which role in a project. */
  async listPermissions(project: string, options?: CallOptions): Promise<Permission[]> {
    const { permissions } = await this.#calls.unary(
      Core.listPermissions,
      { project },
      'idempotent',
      options,
    );
    return permissions.map(permissionOf);
  }
}
