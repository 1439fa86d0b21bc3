import { UnauthenticatedError, UnavailableError } from './errors.js';

/** An OIDC client registered for the client-credentials grant (a service account). */
export interface OidcClientCredentials {
  /** The provider's issuer URL; its discovery document names the token endpoint. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The audience (resource) the tokens are for: the server's `--oidc-audience`. */
  audience?: string;
  /** Scopes to ask for, space-separated. */
  scope?: string;
}

/** A token is refreshed this long before it expires, so no call carries one about to lapse. */
const REFRESH_MARGIN_MS = 30_000;

/**
 * Access tokens from an OIDC provider by the client-credentials grant: the token endpoint
 * from the issuer's discovery document (read once), a token cached until shortly before it
 * expires, one request at a time however many calls wait for it.
 */
export class OidcTokenSource {
  readonly #options: OidcClientCredentials;
  readonly #now: () => number;
  #tokenEndpoint: Promise<string> | undefined;
  #cached: { token: string; refreshAt: number } | undefined;
  #pending: Promise<string> | undefined;

  /** `now` is injectable so tests can move past a token's lifetime without waiting. */
  constructor(options: OidcClientCredentials, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
  }

  /** A valid access token: the cached one, or a new one from the token endpoint. */
  token(): Promise<string> {
    if (this.#cached && this.#now() < this.#cached.refreshAt) {
      return Promise.resolve(this.#cached.token);
    }
    this.#pending ??= this.#request().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #request(): Promise<string> {
    const endpoint = await this.#discover();
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (this.#options.audience !== undefined) {
      // RFC 8707 `resource`, and `audience` for the providers that name it so (Auth0, Okta).
      body.set('resource', this.#options.audience);
      body.set('audience', this.#options.audience);
    }
    if (this.#options.scope !== undefined) body.set('scope', this.#options.scope);
    const basic = Buffer.from(
      `${encodeURIComponent(this.#options.clientId)}:${encodeURIComponent(this.#options.clientSecret)}`,
    ).toString('base64');
    const requestedAt = this.#now();
    const response = await this.#fetch(endpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body,
    });
    const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok || typeof answer.access_token !== 'string') {
      const reason =
        typeof answer.error === 'string'
          ? `${answer.error}${typeof answer.error_description === 'string' ? `: ${answer.error_description}` : ''}`
          : `HTTP ${response.status}`;
      const Refusal = response.status >= 500 ? UnavailableError : UnauthenticatedError;
      throw new Refusal(
        `the OIDC provider ${this.#options.issuer} refused client ${this.#options.clientId} a token (${reason}): check clientId, clientSecret and audience`,
        { details: { field: 'oidc.clientId', value: this.#options.clientId } },
      );
    }
    const lifetimeMs = typeof answer.expires_in === 'number' ? answer.expires_in * 1000 : 60_000;
    this.#cached = {
      token: answer.access_token,
      refreshAt: requestedAt + Math.max(lifetimeMs - REFRESH_MARGIN_MS, lifetimeMs / 2),
    };
    return answer.access_token;
  }

  #discover(): Promise<string> {
    this.#tokenEndpoint ??= (async () => {
      const url = `${this.#options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      const response = await this.#fetch(url, { headers: { accept: 'application/json' } });
      const document = (await response.json().catch(() => ({}))) as Record<string, unknown>;
      if (!response.ok || typeof document.token_endpoint !== 'string') {
        throw new UnavailableError(
          `the OIDC discovery document ${url} has no token_endpoint (HTTP ${response.status}): check the issuer URL`,
          { details: { field: 'oidc.issuer', value: this.#options.issuer } },
        );
      }
      return document.token_endpoint;
    })().catch((error: unknown) => {
      // Not cached when it failed: the next call tries again.
      this.#tokenEndpoint = undefined;
      throw error;
    });
    return this.#tokenEndpoint;
  }

  async #fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, init);
    } catch (error) {
      throw new UnavailableError(
        `the OIDC provider cannot be reached at ${url}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, details: { field: 'oidc.issuer', value: this.#options.issuer } },
      );
    }
  }
}
