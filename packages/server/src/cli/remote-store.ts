import { readFile } from 'node:fs/promises';
import { FeatureStoreClient } from '@featurestore/client';
import { NotSupportedError, ValidationError } from '@featurestore/core';
import type { FeatureStoreConfig } from '../config.js';
import type { FeatureStore } from '../open-feature-store.js';
import {
  remoteJobs,
  remoteOffline,
  remoteOnline,
  remoteOutputs,
  remoteSchemaInference,
} from './remote-data.js';
import { remoteServices } from './remote-engine.js';

export interface RemoteOptions {
  /** `HOST:PORT` of a `featurestore serve`. */
  endpoint: string;
  token?: string;
  /** A PEM file: the CA that signed the server's certificate (TLS). */
  tlsCa?: string;
  /**
   * The local configuration: only where the local store folder is, which downloaded outputs
   * (`--out`) may not be written into, as embedded.
   */
  config: FeatureStoreConfig;
}

/** Options that configure a store opened in this process: meaningless with `--endpoint`. */
const LOCAL_OPTIONS = {
  config: '--config',
  metadata: '--metadata',
  storage: '--storage',
  online: '--online',
  queue: '--queue',
  compute: '--compute',
  plugin: '--plugin',
  rebind: '--rebind',
} as const;

/** Refuses options of an embedded or self-hosted store beside `--endpoint`, naming the first. */
export function checkRemoteOptions(options: Partial<Record<keyof typeof LOCAL_OPTIONS, unknown>>) {
  for (const [key, flag] of Object.entries(LOCAL_OPTIONS)) {
    if (options[key as keyof typeof LOCAL_OPTIONS] !== undefined) {
      throw new ValidationError(
        `${flag} configures a store opened by this command, but --endpoint (or FEATURESTORE_ENDPOINT) sends the command to a server, which uses its own: drop one of them`,
        { details: { field: flag } },
      );
    }
  }
}

/** What a command that needs more than the server answers gets when it touches it. */
function notRemote(what: string): never {
  throw new NotSupportedError(
    `this command needs ${what}, which the server does not offer yet: run it without --endpoint (and FEATURESTORE_ENDPOINT) on a machine that opens the store`,
    { details: { field: 'endpoint', value: what } },
  );
}

/** An object whose every property is refused with `notRemote(what)`. */
function unavailable<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get: (_target, property) => {
      // Promise resolution and inspection probe `then` and symbols: not a use.
      if (property === 'then' || typeof property === 'symbol') return undefined;
      return notRemote(`${what}.${String(property)}`);
    },
  });
}

/**
 * A `FeatureStore` whose engine is a server: the services the server answers go through the
 * client; anything else (the offline engine, storage, config…) is refused with a
 * `NotSupportedError` naming it, so every command behaves the same embedded and remote
 * wherever the server can do its work.
 */
export async function openRemoteStore(options: RemoteOptions): Promise<FeatureStore> {
  let ca: Buffer | undefined;
  if (options.tlsCa !== undefined) {
    ca = await readFile(options.tlsCa).catch((error: unknown) => {
      throw new ValidationError(
        `--tls-ca ${options.tlsCa} cannot be read: ${(error as Error).message}`,
        { details: { field: '--tls-ca', value: options.tlsCa } },
      );
    });
  }
  const client = new FeatureStoreClient({
    endpoint: options.endpoint,
    ...(options.token === undefined ? { token: '' } : { token: options.token }),
    ...(ca === undefined ? {} : { tls: { ca } }),
  });
  const services = {
    ...remoteServices(client),
    jobs: remoteJobs(client),
    offline: remoteOffline(client),
    outputs: remoteOutputs(client),
    online: remoteOnline(client),
    schemaInference: remoteSchemaInference(client),
  };
  const engine = new Proxy(services, {
    get: (target, property) =>
      property in target || typeof property === 'symbol' || property === 'then'
        ? target[property as keyof typeof target]
        : notRemote(`engine.${String(property)}`),
  });
  const store = {
    engine,
    // The server acts as the token's owner: commands pass this on without reading it.
    principal: unavailable('the caller'),
    config: options.config,
    storage: unavailable('the store storage'),
    authenticate: () => notRemote('authenticate'),
    close: async () => client.close(),
  };
  return store as unknown as FeatureStore;
}
