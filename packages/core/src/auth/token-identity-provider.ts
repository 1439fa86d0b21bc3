import { UnauthenticatedError } from '../errors.js';
import type { LastKnownLookups } from '../metadata/last-known-lookups.js';
import type { Credentials, IdentityProvider, Principal } from '../ports/identity-provider.js';
import type { MetadataOperations } from '../ports/metadata-store.js';
import { hashTokenSecret, TOKEN_PREFIX } from './token-secrets.js';

/** Records "last used" at most this often per token, so reads don't turn into writes. */
const LAST_USED_GRANULARITY_MS = 60_000;

/**
 * Personal access tokens: looks the secret up by its hash. With `lastKnown`, a token whose
 * lookup answered before is still accepted while the metadata store is unreachable (within
 * the staleness bound, and only until it expires); one never seen is refused UNAVAILABLE.
 */
export class TokenIdentityProvider implements IdentityProvider {
  readonly name = 'token';
  readonly #store: Pick<MetadataOperations, 'getTokenByHash' | 'getUser' | 'updateToken'>;
  readonly #lastKnown: LastKnownLookups | undefined;

  constructor(
    store: Pick<MetadataOperations, 'getTokenByHash' | 'getUser' | 'updateToken'>,
    lastKnown?: LastKnownLookups,
  ) {
    this.#store = store;
    this.#lastKnown = lastKnown;
  }

  async authenticate(credentials: Credentials): Promise<Principal | undefined> {
    if (credentials.kind !== 'bearer' || !credentials.token.startsWith(TOKEN_PREFIX)) {
      return undefined;
    }
    const hash = hashTokenSecret(credentials.token);
    const lookUp = () => this.#lookUp(hash);
    const { principal, name, expiresAt } = this.#lastKnown
      ? await this.#lastKnown.get(`token\n${hash}`, 'this access token', lookUp)
      : await lookUp();
    // Checked again on every call: a last known token still expires on time.
    if (expiresAt && expiresAt.getTime() <= Date.now()) throw expired(name, expiresAt);
    return principal;
  }

  /** The token's principal, its name and its expiry, or the refusal if it is not valid now. */
  async #lookUp(
    hash: string,
  ): Promise<{ principal: Principal; name: string; expiresAt: Date | undefined }> {
    const token = await this.#store.getTokenByHash(hash);
    const now = new Date();
    if (!token) throw new UnauthenticatedError('the access token is not valid: create a new one');
    if (token.revokedAt) {
      throw new UnauthenticatedError(
        `the access token "${token.name}" was revoked: create a new one`,
      );
    }
    if (token.expiresAt && token.expiresAt <= now) throw expired(token.name, token.expiresAt);
    const user = await this.#store.getUser({ id: token.userId });
    if (!user) throw new UnauthenticatedError('the access token belongs to a deleted user');
    if (
      !token.lastUsedAt ||
      now.getTime() - token.lastUsedAt.getTime() > LAST_USED_GRANULARITY_MS
    ) {
      await this.#store.updateToken(token.id, { lastUsedAt: now });
    }
    return {
      principal: { userId: user.id, name: user.name, admin: user.admin, via: 'token' },
      name: token.name,
      expiresAt: token.expiresAt,
    };
  }
}

function expired(name: string, expiresAt: Date): UnauthenticatedError {
  return new UnauthenticatedError(
    `the access token "${name}" expired at ${expiresAt.toISOString()}: create a new one`,
  );
}
