import { UnauthenticatedError } from '../errors.js';
import type { Credentials, IdentityProvider, Principal } from '../ports/identity-provider.js';
import type { MetadataOperations } from '../ports/metadata-store.js';
import { hashTokenSecret, TOKEN_PREFIX } from './token-secrets.js';

/** Records "last used" at most this often per token, so reads don't turn into writes. */
const LAST_USED_GRANULARITY_MS = 60_000;

/** Personal access tokens: looks the secret up by its hash. */
export class TokenIdentityProvider implements IdentityProvider {
  readonly name = 'token';
  readonly #store: Pick<MetadataOperations, 'getTokenByHash' | 'getUser' | 'updateToken'>;

  constructor(store: Pick<MetadataOperations, 'getTokenByHash' | 'getUser' | 'updateToken'>) {
    this.#store = store;
  }

  async authenticate(credentials: Credentials): Promise<Principal | undefined> {
    if (credentials.kind !== 'bearer' || !credentials.token.startsWith(TOKEN_PREFIX)) {
      return undefined;
    }
    const token = await this.#store.getTokenByHash(hashTokenSecret(credentials.token));
    const now = new Date();
    if (!token) throw new UnauthenticatedError('the access token is not valid: create a new one');
    if (token.revokedAt) {
      throw new UnauthenticatedError(
        `the access token "${token.name}" was revoked: create a new one`,
      );
    }
    if (token.expiresAt && token.expiresAt <= now) {
      throw new UnauthenticatedError(
        `the access token "${token.name}" expired at ${token.expiresAt.toISOString()}: create a new one`,
      );
    }
    const user = await this.#store.getUser({ id: token.userId });
    if (!user) throw new UnauthenticatedError('the access token belongs to a deleted user');
    if (
      !token.lastUsedAt ||
      now.getTime() - token.lastUsedAt.getTime() > LAST_USED_GRANULARITY_MS
    ) {
      await this.#store.updateToken(token.id, { lastUsedAt: now });
    }
    return { userId: user.id, name: user.name, admin: user.admin, via: 'token' };
  }
}
