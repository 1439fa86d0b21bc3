import type { Credentials, IdentityProvider, Principal } from '@featurestore/core';

/** Tokens remembered at most; past it the oldest half is forgotten (a bound, not an LRU). */
const MAX_TOKENS = 10_000;

/**
 * An identity provider that answers again, for `ttlMs`, with the principal it answered for
 * a token: the online service's reads then pay no metadata round trip to authenticate (a
 * personal access token is two PostgreSQL queries), as the engine's online lookups pay none
 * within `onlineMetadataCacheMs`. The price is the same bounded staleness: a token revoked,
 * expired or of a user whose admin flag changed by another process is still accepted for up to
 * `ttlMs`; an access change made by this process (`changes`) applies at once. Refusals and
 * tokens the provider does not recognise are never remembered.
 */
export class RecentPrincipals implements IdentityProvider {
  readonly name: string;
  readonly #provider: IdentityProvider;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #changes: { readonly generation: number } | undefined;
  readonly #recent = new Map<
    string,
    { principal: Principal; expires: number; generation: number }
  >();

  /**
   * `now`: the clock entries expire by, in epoch ms (default `Date.now`); `changes`: the
   * engine's `accessChanges`, so that entries from before an access change are not used.
   */
  constructor(
    provider: IdentityProvider,
    options: { ttlMs: number; now?: () => number; changes?: { readonly generation: number } },
  ) {
    this.name = provider.name;
    this.#provider = provider;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#changes = options.changes;
  }

  async authenticate(credentials: Credentials): Promise<Principal | undefined> {
    const now = this.#now();
    const generation = this.#changes?.generation ?? 0;
    const recent = this.#recent.get(credentials.token);
    if (recent && recent.expires > now && recent.generation === generation) {
      return recent.principal;
    }
    const principal = await this.#provider.authenticate(credentials);
    if (principal === undefined || this.#ttlMs <= 0) {
      this.#recent.delete(credentials.token);
      return principal;
    }
    if (this.#recent.size >= MAX_TOKENS) {
      let drop = MAX_TOKENS / 2;
      for (const token of this.#recent.keys()) {
        this.#recent.delete(token);
        if (--drop === 0) break;
      }
    }
    this.#recent.set(credentials.token, { principal, expires: now + this.#ttlMs, generation });
    return principal;
  }
}
