import { type ChannelCredentials, type ClientOptions, credentials } from '@grpc/grpc-js';
import { ValidationError } from './errors.js';
import type { OidcClientCredentials } from './oidc-client-credentials.js';
import type { RetryPolicy } from './retry-policy.js';

/** TLS settings: PEM contents (not paths). */
export interface TlsOptions {
  /** The CA that signed the server's certificate (default: the system's CAs). */
  ca?: Buffer | string;
  /** A client certificate and its key, for servers that require mutual TLS. */
  cert?: Buffer | string;
  key?: Buffer | string;
  /** The name the server's certificate must carry, when it is not the endpoint's host. */
  serverName?: string;
}

export interface FeatureStoreClientOptions {
  /** The server, `HOST:PORT` (default `FEATURESTORE_ENDPOINT`). */
  endpoint?: string;
  /** A personal access token (`fst_…`) or any bearer token (default `FEATURESTORE_TOKEN`). */
  token?: string;
  /** Tokens from an OIDC provider by the client-credentials grant, instead of `token`. */
  oidc?: OidcClientCredentials;
  /**
   * TLS settings, or `false` for plaintext. Default: plaintext to a loopback address
   * (localhost, 127.0.0.0/8, ::1), TLS with the system's CAs to anything else.
   */
  tls?: TlsOptions | false;
  /** How long a call may take, retries included, unless the call says otherwise (default 30 s). */
  deadlineMs?: number;
  /** Retries of idempotent calls on UNAVAILABLE. */
  retry?: RetryPolicy;
  /** grpc-js channel options (`grpc.max_receive_message_length`…). */
  channelOptions?: ClientOptions;
}

/** Per-call settings, the last argument of every method. */
export interface CallOptions {
  /** How long this call may take, retries included. */
  deadlineMs?: number;
  /** Cancels the call (a `CancelledError`). */
  signal?: AbortSignal;
}

export const DEFAULT_DEADLINE_MS = 30_000;

/** The endpoint to dial: the option, else `FEATURESTORE_ENDPOINT`; checked to be HOST:PORT. */
export function endpointOf(options: FeatureStoreClientOptions): string {
  const endpoint = options.endpoint ?? process.env.FEATURESTORE_ENDPOINT;
  if (endpoint === undefined || endpoint === '') {
    throw new ValidationError(
      'no server to call: pass endpoint (HOST:PORT) or set FEATURESTORE_ENDPOINT',
      { details: { field: 'endpoint' } },
    );
  }
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(endpoint)) {
    throw new ValidationError(
      `endpoint ${JSON.stringify(endpoint)} is not HOST:PORT: give it as featurestore.example.com:50051 or 127.0.0.1:50051`,
      { details: { field: 'endpoint', value: endpoint } },
    );
  }
  return endpoint;
}

function isLoopback(endpoint: string): boolean {
  const host = endpoint.slice(0, endpoint.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The channel credentials of the `tls` option (see its default). */
export function channelCredentialsOf(
  endpoint: string,
  tls: TlsOptions | false | undefined,
): ChannelCredentials {
  if (tls === false || (tls === undefined && isLoopback(endpoint))) {
    return credentials.createInsecure();
  }
  if ((tls?.cert === undefined) !== (tls?.key === undefined)) {
    throw new ValidationError('tls.cert and tls.key go together: give both for mutual TLS', {
      details: { field: tls?.cert === undefined ? 'tls.cert' : 'tls.key' },
    });
  }
  const pem = (value: Buffer | string | undefined) =>
    value === undefined ? null : Buffer.from(value);
  return credentials.createSsl(pem(tls?.ca), pem(tls?.key), pem(tls?.cert));
}

/** The channel options of the `tls` option: the certificate name to check, when given. */
export function tlsChannelOptions(tls: TlsOptions | false | undefined): ClientOptions {
  if (!tls || tls.serverName === undefined) return {};
  return {
    'grpc.ssl_target_name_override': tls.serverName,
    'grpc.default_authority': tls.serverName,
  };
}
