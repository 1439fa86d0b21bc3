import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import { ValidationError } from '../errors.js';

/**
 * TLS settings as a configuration file can hold them: PEM text inline or a file to read it
 * from (`caFile`, `certFile`, `keyFile`), for drivers whose URLs turn TLS on (`rediss://`,
 * `kafkas://`).
 */
export interface TlsSettings {
  ca?: string;
  caFile?: string;
  cert?: string;
  certFile?: string;
  key?: string;
  keyFile?: string;
  /** The name the server's certificate must carry, when it differs from the host. */
  servername?: string;
  /** `false` accepts any certificate: for tests only. */
  rejectUnauthorized?: boolean;
}

/**
 * Node's TLS connection options from `settings`, reading the files it names. `field` names
 * the setting in errors (`drivers.redis.tls`).
 */
export async function tlsConnectionOptions(
  settings: TlsSettings,
  field: string,
): Promise<ConnectionOptions> {
  const pem = async (inline: string | undefined, file: string | undefined, name: string) => {
    if (inline !== undefined && file !== undefined) {
      throw new ValidationError(
        `${field}.${name} and ${field}.${name}File are both set: keep one`,
        {
          details: { field: `${field}.${name}` },
        },
      );
    }
    if (file === undefined) return inline;
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      throw new ValidationError(
        `${field}.${name}File ${JSON.stringify(file)} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): check the path`,
        { cause: error, details: { field: `${field}.${name}File`, value: file } },
      );
    }
  };
  const ca = await pem(settings.ca, settings.caFile, 'ca');
  const cert = await pem(settings.cert, settings.certFile, 'cert');
  const key = await pem(settings.key, settings.keyFile, 'key');
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(settings.servername === undefined ? {} : { servername: settings.servername }),
    ...(settings.rejectUnauthorized === undefined
      ? {}
      : { rejectUnauthorized: settings.rejectUnauthorized }),
  };
}
