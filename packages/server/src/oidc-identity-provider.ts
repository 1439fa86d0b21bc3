import {
  type AccessService,
  type Credentials,
  FeatureStoreError,
  type IdentityProvider,
  type Principal,
  UnauthenticatedError,
  UnavailableError,
} from '@featurestore/core';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
} from 'jose';

export interface OidcOptions {
  /** The `iss` every token must carry; its discovery document names the JWKS. */
  issuer: string;
  /** The `aud` every token must carry (the client id of Featurestore). */
  audience: string;
  /**
   * Where the provider publishes its signing keys (`…/.well-known/jwks.json`); by default the
   * `jwks_uri` of the issuer's discovery document (`<issuer>/.well-known/openid-configuration`).
   */
  jwksUri?: string;
  /** Signing keys given directly (tests, air-gapped setups). */
  jwks?: JSONWebKeySet;
  /** The claim holding the user's groups (default `groups`). */
  groupsClaim?: string;
  /** Members of this group get the global admin flag. */
  adminGroup?: string;
}

/**
 * The signature algorithms accepted: asymmetric ones only, so that `none` is never accepted
 * and a provider's public key can never serve as the secret of an HMAC (HS256) signature.
 */
const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/** How long the discovery document may take to answer. */
const DISCOVERY_TIMEOUT_MS = 5_000;

type Verifier = Parameters<typeof jwtVerify>[1];
type KeySet = (
  ...args: Parameters<ReturnType<typeof createRemoteJWKSet>>
) => ReturnType<ReturnType<typeof createRemoteJWKSet>>;

/**
 * OIDC bearer tokens (JWTs) verified with `jose` against the provider's JWKS (found through its
 * discovery document unless given; cached, and refetched on an unknown key at most once per
 * jose's cooldown); issuer, audience, expiry, not-before and algorithm are checked. The subject
 * is mapped to a user on first sight, and the admin flag follows the groups claim.
 */
export class OidcIdentityProvider implements IdentityProvider {
  readonly name = 'oidc';
  readonly #options: OidcOptions;
  readonly #access: Pick<AccessService, 'principalForOidc'>;
  /** The key set, once known: the discovery document is read on the first token only. */
  #keySet: Promise<KeySet> | undefined;

  constructor(options: OidcOptions, access: Pick<AccessService, 'principalForOidc'>) {
    this.#options = options;
    this.#access = access;
    if (options.jwks) this.#keySet = Promise.resolve(createLocalJWKSet(options.jwks) as KeySet);
    else if (options.jwksUri) {
      this.#keySet = Promise.resolve(createRemoteJWKSet(new URL(options.jwksUri)));
    }
  }

  async authenticate(credentials: Credentials): Promise<Principal | undefined> {
    if (credentials.kind !== 'bearer' || credentials.token.split('.').length !== 3)
      return undefined;
    const keys: Verifier = async (header, token) => (await this.#keys())(header, token);
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(credentials.token, keys, {
        issuer: this.#options.issuer,
        audience: this.#options.audience,
        algorithms: [...OIDC_ALGORITHMS],
      }));
    } catch (error) {
      if (error instanceof FeatureStoreError) throw error;
      if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError)) {
        throw new UnavailableError(
          `the signing keys of the OIDC provider ${this.#options.issuer} could not be read (${describeFailure(error)}): try again, and check that the provider is reachable from the server`,
          { cause: error },
        );
      }
      throw new UnauthenticatedError(
        `the OIDC token was refused: ${this.#describe(error, credentials.token)}; sign in again`,
        { cause: error },
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

  /** The key set, from the discovery document on first use (read again after a failure). */
  #keys(): Promise<KeySet> {
    this.#keySet ??= discoverKeySet(this.#options.issuer).catch((error: unknown) => {
      this.#keySet = undefined;
      throw error;
    });
    return this.#keySet;
  }

  /** What is wrong with the token, in words a caller can act on. */
  #describe(error: unknown, token: string): string {
    const header = safeHeader(token);
    if (error instanceof errors.JWTExpired) {
      return `it expired at ${timeOf(error.payload.exp)}`;
    }
    if (error instanceof errors.JWTClaimValidationFailed) {
      const { claim, reason, payload } = error;
      if (reason === 'missing') return `it has no ${claim} claim`;
      if (claim === 'nbf') return `it is not valid before ${timeOf(payload.nbf)}`;
      if (claim === 'iss') {
        return `it was issued by ${JSON.stringify(payload.iss)} (claim iss), not by ${JSON.stringify(this.#options.issuer)}`;
      }
      if (claim === 'aud') {
        const given = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
        return `it is meant for ${given.map((aud) => JSON.stringify(aud)).join(', ')} (claim aud), not for ${JSON.stringify(this.#options.audience)}`;
      }
      return `claim ${claim} is not accepted (${reason})`;
    }
    if (error instanceof errors.JOSEAlgNotAllowed) {
      return `its algorithm ${JSON.stringify(header?.alg ?? '')} is not accepted (use one of ${OIDC_ALGORITHMS.join(', ')})`;
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return 'its signature does not verify';
    }
    if (error instanceof errors.JWKSNoMatchingKey) {
      return `it is signed with a key the provider does not publish (kid ${header?.kid === undefined ? 'missing' : JSON.stringify(header.kid)})`;
    }
    if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
      return `it is not a well-formed JWT (${describeFailure(error)})`;
    }
    return describeFailure(error);
  }
}

/**
 * The remote key set named by `<issuer>/.well-known/openid-configuration`, whose `issuer` must
 * be exactly the configured one (OpenID Connect Discovery 1.0, section 4.3).
 */
async function discoverKeySet(issuer: string): Promise<KeySet> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let document: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    document = (await response.json()) as typeof document;
  } catch (error) {
    throw new UnavailableError(
      `the discovery document of the OIDC provider (${url}) could not be read (${describeFailure(error)}): check --oidc-issuer and that the provider is reachable from the server`,
      { cause: error },
    );
  }
  if (document.issuer !== issuer) {
    throw new UnavailableError(
      `the discovery document ${url} names the issuer ${JSON.stringify(document.issuer)}, not ${JSON.stringify(issuer)}: set --oidc-issuer to exactly the provider's issuer`,
    );
  }
  if (typeof document.jwks_uri !== 'string') {
    throw new UnavailableError(
      `the discovery document ${url} has no jwks_uri: give the signing keys with --oidc-jwks-uri`,
    );
  }
  return createRemoteJWKSet(new URL(document.jwks_uri));
}

function safeHeader(token: string): { alg?: string; kid?: string } | undefined {
  try {
    return decodeProtectedHeader(token);
  } catch {
    return undefined;
  }
}

function timeOf(seconds: unknown): string {
  return typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : String(seconds);
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function describeFailure(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
