import type {
  AnonymousCredential,
  ContainerClient,
  StoragePipelineOptions,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import type {
  DataLakeFileSystemClient,
  StoragePipelineOptions as DataLakePipelineOptions,
} from '@azure/storage-file-datalake';
import { loadModule, ValidationError } from '@featurestore/core/driver';

/** An access token provider, such as `DefaultAzureCredential` from `@azure/identity`. */
export interface TokenCredentialLike {
  getToken(
    scopes: string | string[],
    options?: object,
  ): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

/**
 * How the storage authenticates: the account's shared key, a SAS token (account or container
 * scope, with or without the leading `?`), or a token credential (Microsoft Entra ID). Without
 * one, `DefaultAzureCredential` from `@azure/identity` is loaded (install it).
 */
export type AdlsCredential = { accountKey: string } | { sasToken: string } | TokenCredentialLike;

/**
 * The part of a `ContainerClient` from `@azure/storage-blob` the storage uses; a
 * `ContainerClient` fits as it is, and the storage never closes it.
 */
export type AdlsContainerClientLike = Pick<
  ContainerClient,
  'getBlockBlobClient' | 'listBlobsFlat' | 'getBlobBatchClient' | 'url'
>;

/** The part of a `DataLakeFileSystemClient` the rename uses. */
export type AdlsFileSystemClientLike = Pick<
  DataLakeFileSystemClient,
  'getFileClient' | 'getDirectoryClient'
>;

export interface AdlsClientSettings {
  account: string;
  filesystem: string;
  credential: AdlsCredential | undefined;
  blobEndpoint: string;
  dfsEndpoint: string;
  pipelineOptions: StoragePipelineOptions | undefined;
}

/** Creates the blob client of the filesystem, loading the SDK (and the credential) lazily. */
export async function createContainerClient(
  settings: AdlsClientSettings,
): Promise<AdlsContainerClientLike> {
  const blob = await loadModule(
    'adls object storage',
    '@azure/storage-blob',
    () => import('@azure/storage-blob'),
  );
  const { credential, sas } = await resolveCredential(settings, blob);
  return new blob.ContainerClient(
    `${settings.blobEndpoint}/${settings.filesystem}${sas}`,
    credential,
    settings.pipelineOptions,
  );
}

/** Creates the DFS client of the filesystem, for the calls only the DFS endpoint serves. */
export async function createFileSystemClient(
  settings: AdlsClientSettings,
): Promise<AdlsFileSystemClientLike> {
  const datalake = await loadModule(
    'adls object storage',
    '@azure/storage-file-datalake',
    () => import('@azure/storage-file-datalake'),
  );
  // The Data Lake SDK takes the Blob SDK's credential classes (it re-exports them).
  const blob = await loadModule(
    'adls object storage',
    '@azure/storage-blob',
    () => import('@azure/storage-blob'),
  );
  const { credential, sas } = await resolveCredential(settings, blob);
  return new datalake.DataLakeFileSystemClient(
    `${settings.dfsEndpoint}/${settings.filesystem}${sas}`,
    credential,
    // The same options; only the DFS SDK's `audience` type is narrower (one string).
    settings.pipelineOptions as DataLakePipelineOptions | undefined,
  );
}

/** The SAS query string of a credential, with its `?`, or `''`. */
export function sasQuery(credential: AdlsCredential | undefined): string {
  if (!credential || !('sasToken' in credential)) return '';
  const token = credential.sasToken.replace(/^\?/, '');
  return token === '' ? '' : `?${token}`;
}

type BlobSdk = typeof import('@azure/storage-blob');

async function resolveCredential(
  settings: AdlsClientSettings,
  sdk: BlobSdk,
): Promise<{
  credential: StorageSharedKeyCredential | AnonymousCredential | TokenCredentialLike;
  sas: string;
}> {
  const given = settings.credential;
  if (given && 'accountKey' in given) {
    if (typeof given.accountKey !== 'string' || given.accountKey === '') {
      throw new ValidationError('credential.accountKey is empty: pass the storage account key', {
        details: { field: 'credential.accountKey' },
      });
    }
    return {
      credential: new sdk.StorageSharedKeyCredential(settings.account, given.accountKey),
      sas: '',
    };
  }
  if (given && 'sasToken' in given) {
    return { credential: new sdk.AnonymousCredential(), sas: sasQuery(given) };
  }
  if (given && typeof (given as TokenCredentialLike).getToken === 'function') {
    return { credential: given, sas: '' };
  }
  if (given) {
    throw new ValidationError(
      'credential must be { accountKey }, { sasToken } or a token credential (an object with getToken)',
      { details: { field: 'credential' } },
    );
  }
  return { credential: await defaultAzureCredential(), sas: '' };
}

let defaultCredential: Promise<TokenCredentialLike> | undefined;

/** One `DefaultAzureCredential` per process: it caches tokens, so sharing it saves sign-ins. */
function defaultAzureCredential(): Promise<TokenCredentialLike> {
  defaultCredential ??= (async () => {
    // A variable specifier: `@azure/identity` is an optional peer, not needed to compile.
    const name = '@azure/identity';
    const identity = (await loadModule('adls object storage', name, () => import(name))) as {
      DefaultAzureCredential: new () => TokenCredentialLike;
    };
    return new identity.DefaultAzureCredential();
  })();
  defaultCredential.catch(() => {
    defaultCredential = undefined;
  });
  return defaultCredential;
}
