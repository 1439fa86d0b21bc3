import { randomUUID } from 'node:crypto';
import { NotFoundError, ValidationError } from '../errors.js';
import { validateName } from '../identifiers.js';
import { authorizedProject, authorizedUser, requireUser } from '../metadata/lookups.js';
import { parseDuration } from '../model/duration.js';
import type { AccessToken, Page, Permission, Project, User } from '../model/records.js';
import type { Principal } from '../ports/identity-provider.js';
import type { MetadataStore, PageRequest } from '../ports/metadata-store.js';
import type { Authorizer } from './authorizer.js';
import { parseRole } from './roles.js';
import { generateTokenSecret, hashTokenSecret, TOKEN_PREFIX } from './token-secrets.js';

/** A token as shown to users: never its hash. */
export type TokenInfo = Omit<AccessToken, 'secretHash'>;

export interface CreatedToken {
  token: TokenInfo;
  /** Shown once: only its hash is stored. */
  secret: string;
}

/** The user an in-process caller acts as unless it passes another principal. */
export const LOCAL_ADMIN_NAME = 'admin';

function toPrincipal(user: User, via: Principal['via']): Principal {
  return { userId: user.id, name: user.name, admin: user.admin, via };
}

function withoutHash({ secretHash: _hash, ...token }: AccessToken): TokenInfo {
  return token;
}

/** Users, personal access tokens and project permissions. */
export class AccessService {
  readonly #store: MetadataStore;
  readonly #authorizer: Authorizer;

  constructor(store: MetadataStore, authorizer: Authorizer) {
    this.#store = store;
    this.#authorizer = authorizer;
  }

  /** The local admin principal, created on first use. */
  async localAdmin(): Promise<Principal> {
    const existing = await this.#store.getUser({ name: LOCAL_ADMIN_NAME });
    if (existing) return toPrincipal(existing, 'local');
    try {
      return toPrincipal(await this.#insertUser(LOCAL_ADMIN_NAME, { admin: true }), 'local');
    } catch (error) {
      // Another process created it between our read and insert.
      const raced = await this.#store.getUser({ name: LOCAL_ADMIN_NAME });
      if (raced) return toPrincipal(raced, 'local');
      throw error;
    }
  }

  async principalFor(userName: string): Promise<Principal> {
    return toPrincipal(await requireUser(this.#store, userName), 'local');
  }

  async createUser(
    principal: Principal,
    input: { name: string; admin?: boolean; email?: string },
  ): Promise<User> {
    await this.#authorizer.require(principal, 'user.create');
    return this.#insertUser(validateName('user', input.name), input);
  }

  async listUsers(principal: Principal, page?: PageRequest): Promise<Page<User>> {
    await this.#authorizer.require(principal, 'user.list');
    return this.#store.listUsers(page);
  }

  async setAdmin(principal: Principal, userName: string, admin: boolean): Promise<User> {
    await this.#authorizer.require(principal, 'user.update');
    const user = await requireUser(this.#store, userName);
    return this.#store.updateUser(user.id, { admin });
  }

  /**
   * Maps an OIDC identity to a user, creating it on first sight; the admin flag follows the
   * identity provider's claims on every sign-in.
   */
  async principalForOidc(identity: {
    subject: string;
    preferredName?: string;
    email?: string;
    admin: boolean;
  }): Promise<Principal> {
    const known = await this.#store.getUser({ oidcSubject: identity.subject });
    if (known) {
      const user =
        known.admin === identity.admin
          ? known
          : await this.#store.updateUser(known.id, { admin: identity.admin });
      return toPrincipal(user, 'oidc');
    }
    const base = userNameFrom(identity.preferredName ?? identity.email ?? identity.subject);
    let name = base;
    for (let n = 2; await this.#store.getUser({ name }); n++) name = `${base.slice(0, 58)}_${n}`;
    const user = await this.#insertUser(name, {
      admin: identity.admin,
      oidcSubject: identity.subject,
      ...(identity.email === undefined ? {} : { email: identity.email }),
    });
    return toPrincipal(user, 'oidc');
  }

  /**
   * Creates a token for the caller (or, for admins, for `user`). Its secret is generated,
   * unless `secret` brings one chosen outside (a scripted set-up's `FEATURESTORE_ADMIN_TOKEN`):
   * it must look like the ones made here (`fst_` and at least 32 random characters), and is
   * stored, like them, by its hash only.
   */
  async createToken(
    principal: Principal,
    input: { name: string; expiresIn?: string; user?: string; secret?: string },
  ): Promise<CreatedToken> {
    const owner =
      input.user === undefined
        ? undefined
        : await authorizedUser(
            this.#store,
            this.#authorizer,
            principal,
            'token.create',
            input.user,
          );
    const userId = owner?.id ?? principal.userId;
    await this.#authorizer.require(principal, 'token.create', { userId });
    if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 200) {
      throw new ValidationError('token name must be 1 to 200 characters', {
        details: { field: 'name', value: input.name },
      });
    }
    const now = new Date();
    const secret = input.secret === undefined ? generateTokenSecret() : checkedSecret(input.secret);
    const token: AccessToken = {
      id: randomUUID(),
      userId,
      name: input.name,
      secretHash: hashTokenSecret(secret),
      createdAt: now,
      ...(input.expiresIn === undefined
        ? {}
        : { expiresAt: new Date(now.getTime() + parseDuration('expiresIn', input.expiresIn)) }),
    };
    return { token: withoutHash(await this.#store.insertToken(token)), secret };
  }

  async listTokens(principal: Principal, userName?: string): Promise<TokenInfo[]> {
    const userId =
      userName === undefined
        ? principal.userId
        : (await authorizedUser(this.#store, this.#authorizer, principal, 'token.list', userName))
            .id;
    await this.#authorizer.require(principal, 'token.list', { userId });
    return (await this.#store.listTokens(userId)).map(withoutHash);
  }

  async revokeToken(principal: Principal, tokenId: string): Promise<TokenInfo> {
    const token = await this.#store.getToken(tokenId);
    if (!token) {
      throw new NotFoundError(`token "${tokenId}" does not exist: list tokens to see the ids`, {
        details: { field: 'token', value: tokenId },
      });
    }
    await this.#authorizer.require(principal, 'token.revoke', { userId: token.userId });
    if (token.revokedAt) return withoutHash(token);
    return withoutHash(await this.#store.updateToken(token.id, { revokedAt: new Date() }));
  }

  async grant(
    principal: Principal,
    projectName: string,
    userName: string,
    role: string,
  ): Promise<Permission> {
    const project = await this.#project(principal, 'permission.grant', projectName);
    const parsedRole = parseRole(role);
    const user = await requireUser(this.#store, userName);
    return this.#store.transaction(async (tx) => {
      if (parsedRole !== 'owner') await this.#keepAnOwner(tx, project.id, projectName, user.id);
      return tx.putPermission({
        projectId: project.id,
        userId: user.id,
        role: parsedRole,
        grantedAt: new Date(),
        grantedBy: principal.userId,
      });
    });
  }

  async revoke(principal: Principal, projectName: string, userName: string): Promise<boolean> {
    const project = await this.#project(principal, 'permission.revoke', projectName);
    const user = await requireUser(this.#store, userName);
    return this.#store.transaction(async (tx) => {
      await this.#keepAnOwner(tx, project.id, projectName, user.id);
      return tx.deletePermission(project.id, user.id);
    });
  }

  async listPermissions(
    principal: Principal,
    projectName: string,
  ): Promise<(Permission & { userName: string })[]> {
    const project = await this.#project(principal, 'permission.list', projectName);
    const permissions = await this.#store.listPermissions({ projectId: project.id });
    return Promise.all(
      permissions.map(async (permission) => ({
        ...permission,
        userName: (await this.#store.getUser({ id: permission.userId }))?.name ?? permission.userId,
      })),
    );
  }

  /** The project, once the caller may do `action` in it (see `authorizedProject`). */
  #project(
    principal: Principal,
    action: 'permission.grant' | 'permission.revoke' | 'permission.list',
    projectName: string,
  ): Promise<Project> {
    return authorizedProject(this.#store, this.#authorizer, principal, action, projectName);
  }

  /** A project must always keep an owner: refuse to demote or remove the last one. */
  async #keepAnOwner(
    tx: Pick<MetadataStore, 'listPermissions'>,
    projectId: string,
    projectName: string,
    userId: string,
  ): Promise<void> {
    const owners = (await tx.listPermissions({ projectId })).filter(
      (permission) => permission.role === 'owner',
    );
    if (owners.length === 1 && owners[0]!.userId === userId) {
      throw new ValidationError(
        `the last owner of project "${projectName}" cannot be removed or demoted: grant owner to another user first`,
        { details: { project: projectName } },
      );
    }
  }

  async #insertUser(
    name: string,
    input: { admin?: boolean; email?: string; oidcSubject?: string },
  ): Promise<User> {
    return this.#store.insertUser({
      id: randomUUID(),
      name,
      admin: input.admin ?? false,
      ...(input.email === undefined ? {} : { email: input.email }),
      ...(input.oidcSubject === undefined ? {} : { oidcSubject: input.oidcSubject }),
      createdAt: new Date(),
    });
  }
}

/** Turns an identity provider's display name into a valid user name. */
function userNameFrom(raw: string): string {
  const cleaned = raw
    .toLowerCase()
    .split('@')[0]!
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^[^a-z]+/, '')
    .slice(0, 60);
  return cleaned === '' ? 'user' : cleaned;
}

/** A secret chosen outside must be as hard to guess as a generated one. */
function checkedSecret(secret: string): string {
  if (
    typeof secret !== 'string' ||
    !secret.startsWith(TOKEN_PREFIX) ||
    secret.length < TOKEN_PREFIX.length + 32
  ) {
    throw new ValidationError(
      `a token secret must be "${TOKEN_PREFIX}" followed by at least 32 random characters, e.g. ${TOKEN_PREFIX}$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')`,
      { details: { field: 'secret' } },
    );
  }
  return secret;
}
