import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { loadModule, ValidationError } from '@featurestore/core/driver';

/** A command as the storage hands it to `send`: built from `@aws-sdk/client-s3`'s classes. */
export interface S3CommandLike {
  readonly input: object;
}

/**
 * The part of an `S3Client` the storage uses. An `S3Client` from `@aws-sdk/client-s3` 3.x fits
 * as it is; the storage never destroys a client it was given.
 */
export interface S3ClientLike {
  send(command: S3CommandLike): Promise<unknown>;
  /**
   * Read by lib-storage's `Upload` for multipart puts (endpoint, path style, checksum
   * settings), and to name the endpoint in error messages.
   */
  readonly config: object;
  destroy(): void;
}

/** How to reach S3 when the storage creates its own client. */
export interface S3ConnectionOptions {
  /** Default: the SDK's chain (`AWS_REGION`, the profile); `us-east-1` with a custom endpoint. */
  region?: string;
  /** An S3-compatible server, e.g. `http://minio.internal:9000`. Default: AWS. */
  endpoint?: string;
  /** Address buckets as `endpoint/bucket` rather than `bucket.endpoint`. Default: true with a custom endpoint. */
  forcePathStyle?: boolean;
  /** Static credentials or a provider. Default: the SDK's default provider chain. */
  credentials?: S3ClientConfig['credentials'];
  /** Any other `S3Client` setting (`maxAttempts`, `requestHandler`, checksum modes…); wins over the above. */
  clientConfig?: S3ClientConfig;
}

/** A connection attempt to a black-holed endpoint fails after this long instead of minutes. */
const CONNECTION_TIMEOUT_MS = 10_000;

/** Creates the storage's own `S3Client`, loading the SDK on first use. */
export async function createS3Client(options: S3ConnectionOptions): Promise<S3ClientLike> {
  const { S3Client } = await loadModule(
    's3 object storage',
    '@aws-sdk/client-s3',
    () => import('@aws-sdk/client-s3'),
  );
  const custom = options.endpoint !== undefined;
  const config: S3ClientConfig = {
    ...(options.region !== undefined
      ? { region: options.region }
      : custom
        ? { region: 'us-east-1' }
        : {}),
    ...(custom ? { endpoint: checkEndpoint(options.endpoint!) } : {}),
    forcePathStyle: options.forcePathStyle ?? custom,
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS },
    ...options.clientConfig,
  };
  return new S3Client(config);
}

/** The endpoint as error messages name it: without credentials, path or query. */
export async function describeClient(client: S3ClientLike, endpoint?: string): Promise<string> {
  if (endpoint !== undefined) return endpoint;
  const config = client.config as {
    endpoint?: () => Promise<{
      protocol?: string;
      hostname?: string;
      port?: number;
      path?: string;
    }>;
    region?: string | (() => Promise<string>);
  };
  try {
    if (typeof config.endpoint === 'function') {
      const { protocol = 'https:', hostname = '', port } = await config.endpoint();
      return `${protocol}//${hostname}${port ? `:${port}` : ''}`;
    }
    const region = typeof config.region === 'function' ? await config.region() : config.region;
    return region ? `AWS S3 (${region})` : 'AWS S3';
  } catch {
    return 'AWS S3';
  }
}

function checkEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch (error) {
    throw new ValidationError(
      `S3 endpoint ${JSON.stringify(endpoint)} is not a URL: use e.g. http://127.0.0.1:9000`,
      { cause: error, details: { field: 'endpoint', value: endpoint } },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ValidationError(
      `S3 endpoint ${JSON.stringify(endpoint)} must be an http:// or https:// URL`,
      { details: { field: 'endpoint', value: endpoint } },
    );
  }
  return endpoint;
}
