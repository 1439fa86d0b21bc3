import { type IdentityProvider, type Principal, UnauthenticatedError } from '@featurestore/core';
import type { Metadata } from '@grpc/grpc-js';
import { rememberPrincipal } from '../observability/call-context.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Who is calling: the `authorization: Bearer <token>` metadata of every call, resolved by the
 * first identity provider that recognises the token (the engine's personal access tokens,
 * then OIDC JWTs when configured). What the caller may do is the engine's business alone.
 */
export class CallAuthenticator {
  readonly #providers: readonly IdentityProvider[];

  /** `providers` are asked in order; each answers only for tokens of its own kind. */
  constructor(providers: readonly IdentityProvider[]) {
    this.#providers = providers;
  }

  /**
   * The caller's principal; UNAUTHENTICATED without a token or with one nobody accepts.
   * The call's context remembers it, for the call log.
   */
  async authenticate(metadata: Metadata): Promise<Principal> {
    const headers = metadata.get('authorization');
    if (headers.length === 0) {
      throw new UnauthenticatedError(
        'the call has no authorization metadata: send "authorization: Bearer <token>" with a personal access token or an OIDC token',
      );
    }
    const match = headers.length === 1 ? BEARER.exec(String(headers[0])) : null;
    if (!match) {
      throw new UnauthenticatedError(
        'the authorization metadata is not one "Bearer <token>" value: send exactly one',
      );
    }
    const credentials = { kind: 'bearer' as const, token: match[1]! };
    for (const provider of this.#providers) {
      const principal = await provider.authenticate(credentials);
      if (principal) {
        rememberPrincipal(metadata, principal);
        return principal;
      }
    }
    throw new UnauthenticatedError(
      `the bearer token is not a Featurestore access token (fst_…)${
        this.#providers.some((provider) => provider.name === 'oidc')
          ? ' nor an OIDC token (a JWT)'
          : ' and this server accepts no OIDC tokens (start it with --oidc-issuer)'
      }: create an access token with featurestore token create`,
    );
  }
}
