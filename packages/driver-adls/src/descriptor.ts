import { defineDriver } from '@featurestore/core/driver';
import { z } from 'zod';
import { AdlsObjectStorage, type AdlsUrlOptions } from './adls-object-storage.js';

const positive = z.number().int().positive();

/** The `drivers.adls` block of a configuration (also accepted as the top-level `azure` block). */
export const adlsDriverOptions = z
  .object({
    /** A shared key of the account; without a key or SAS, `DefaultAzureCredential` is used. */
    accountKey: z.string().min(1).optional(),
    /** A SAS token of the account or the filesystem. */
    sasToken: z.string().min(1).optional(),
    /** For Azurite or private endpoints, e.g. `http://127.0.0.1:10000/devstoreaccount1`. */
    blobEndpoint: z.string().url().optional(),
    dfsEndpoint: z.string().url().optional(),
    /** The account has a hierarchical namespace and its DFS endpoint (real ADLS Gen2). */
    hierarchicalNamespace: z.boolean().optional(),
    /** Block size of streamed puts in bytes (default 8 MiB). */
    bufferSize: positive.optional(),
    /** Buffers of a streamed put (default 4). */
    maxBuffers: positive.optional(),
  })
  .strict()
  .refine((o) => o.accountKey === undefined || o.sasToken === undefined, {
    message: 'accountKey and sasToken are both set: keep one',
    path: ['sasToken'],
  })
  .default({});

export type AdlsDriverOptions = z.infer<typeof adlsDriverOptions>;

/** `AdlsObjectStorage.fromUrl` options from a validated `drivers.adls` block. */
export function adlsUrlOptions(options: AdlsDriverOptions): AdlsUrlOptions {
  const { accountKey, sasToken, ...rest } = options;
  return {
    ...rest,
    ...(accountKey !== undefined
      ? { credential: { accountKey } }
      : sasToken !== undefined
        ? { credential: { sasToken } }
        : {}),
  };
}

/** Object storage on Azure Data Lake Storage Gen2: `abfss://fs@account.dfs.core.windows.net/prefix`. */
export const adlsDriver = defineDriver({
  name: 'adls',
  port: 'storage',
  schemes: ['abfss'],
  options: adlsDriverOptions,
  open: (url, options) => AdlsObjectStorage.fromUrl(url, adlsUrlOptions(options)),
});
