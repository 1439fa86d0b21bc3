import {
  type AccessService,
  type Credentials,
  type IdentityProvider,
  type Principal,
  UnauthenticatedError,
} from '@featurestore/core';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
} from 'jose';

export interface OidcOptions {
  /** The `iss` every token must carry. */
  issuer: string;
  /** The `aud` every token must carry (the client id of Featurestore). */
  audience: string;
  /** Where the provider publishes its signing keys (`…/.well-known/jwks.json`). */
  jwksUri?: string;
  /** Signing keys given directly (tests, air-gapped setups). */
  jwks?: JSONWebKeySet;
  /** The claim holding the user's groups (default `groups`). */
  groupsClaim?: string;
  /** Members of this group get the global admin flag. */
  adminGroup?: string;
}

type Verifier = Parameters<typeof jwtVerify>[1];

/**
 * OIDC bearer tokens (JWTs) verified with `jose` against the provider's JWKS; the subject is
 * mapped to a user on first sight, and the admin flag follows the groups claim.
 */
export class OidcIdentityProvider implements IdentityProvider {
  readonly name = 'oidc';
  readonly #options: OidcOptions;
  readonly #keys: Verifier;
  readonly #access: Pick<AccessService, 'principalForOidc'>;

  constructor(options: OidcOptions, access: Pick<AccessService, 'principalForOidc'>) {
    if (!options.jwks && !options.jwksUri) {
      throw new TypeError('OIDC needs jwksUri (or jwks) to verify tokens');
    }
    this.#options = options;
    this.#keys = options.jwks
      ? (createLocalJWKSet(options.jwks) as Verifier)
      : (createRemoteJWKSet(new URL(options.jwksUri!)) as Verifier);
    this.#access = access;
  }

  async authenticate(credentials: Credentials): Promise<Principal | undefined> {
    if (credentials.kind !== 'bearer' || credentials.token.split('.').length !== 3)
      return undefined;
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(credentials.token, this.#keys, {
        issuer: this.#options.issuer,
        audience: this.#options.audience,
      }));
    } catch (error) {
      throw new UnauthenticatedError(
        `the OIDC token was refused: ${describe(error)}; sign in again`,
        {
          cause: error,
        },
      );
    }
    if (!claims.sub) throw new UnauthenticatedError('the OIDC token has no subject (sub claim)');
    const groups = claims[this.#options.groupsClaim ?? 'groups'];
    const admin =
      this.#options.adminGroup !== undefined &&
      Array.isArray(groups) &&
      groups.includes(this.#options.adminGroup);
    const preferredName = stringClaim(claims.preferred_username) ?? stringClaim(claims.name);
    const email = stringClaim(claims.email);
    return this.#access.principalForOidc({
      subject: claims.sub,
      admin,
      ...(preferredName === undefined ? {} : { preferredName }),
      ...(email === undefined ? {} : { email }),
    });
  }
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'it has expired';
  if (error instanceof errors.JWTClaimValidationFailed)
    return `claim ${error.claim} is not accepted (${error.reason})`;
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return 'its signature does not verify';
  if (error instanceof errors.JWKSNoMatchingKey) return 'it is signed with an unknown key';
  return error instanceof Error ? error.message : String(error);
}
