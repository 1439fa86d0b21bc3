/** Who is calling: resolved from credentials by an `IdentityProvider`. */
export interface Principal {
  /** The user id in the metadata store. */
  userId: string;
  name: string;
  admin: boolean;
  /** How the caller proved who it is. */
  via: 'local' | 'token' | 'oidc';
}

export type Credentials = { kind: 'bearer'; token: string };

/**
 * Turns credentials into a principal (OIDC JWTs, personal access tokens); `undefined` when
 * the credentials are not of a kind this provider understands, `UnauthenticatedError` when
 * they are but do not verify.
 */
export interface IdentityProvider {
  readonly name: string;
  authenticate(credentials: Credentials): Promise<Principal | undefined>;
}
