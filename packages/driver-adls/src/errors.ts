import {
  ConflictError,
  FeatureStoreError,
  NotFoundError,
  PermissionDeniedError,
  SOCKET_ERROR_CODES,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
} from '@featurestore/core/driver';

/** What the converter knows of the failed call, to say what failed. */
export interface AdlsErrorContext {
  /** The operation, e.g. `download` or `rename`. */
  operation: string;
  account: string;
  filesystem: string;
  /** The key as the caller named it (relative to the storage prefix). */
  key?: string;
  /** The object's or the listing's `abfss://` URI. */
  uri?: string;
  /** Where the requests went, e.g. `https://acme.blob.core.windows.net`. */
  endpoint?: string;
}

/** The fields a `RestError` from `@azure/core-rest-pipeline` (or an identity error) carries. */
interface AzureErrorLike {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  details?: { errorCode?: string; requestId?: string } | unknown;
  request?: unknown;
}

/** Socket errors, and the Azure pipeline's for a request it could not send. */
const NETWORK_CODES = new Set([...SOCKET_ERROR_CODES, 'REQUEST_SEND_ERROR']);

const UNAVAILABLE_CODES = new Set([
  'ServerBusy',
  'OperationTimedOut',
  'InternalError',
  'ContainerBeingDeleted',
  'FilesystemBeingDeleted',
  'IngressOverAccountLimit',
  'EgressOverAccountLimit',
  'TpsOverAccountLimit',
]);

const UNAUTHENTICATED_CODES = new Set([
  'AuthenticationFailed',
  'InvalidAuthenticationInfo',
  'NoAuthenticationInformation',
  'ExpiredToken',
]);

/** Errors `@azure/identity` throws when no credential works. */
const IDENTITY_ERRORS = new Set([
  'CredentialUnavailableError',
  'AuthenticationError',
  'AuthenticationRequiredError',
  'AggregateAuthenticationError',
]);

const NOT_FOUND_KEY_CODES = new Set(['BlobNotFound', 'PathNotFound', 'SourcePathNotFound']);
const NOT_FOUND_FILESYSTEM_CODES = new Set(['ContainerNotFound', 'FilesystemNotFound']);

const CONFLICT_CODES = new Set([
  'ConditionNotMet',
  'LeaseIdMissing',
  'LeaseAlreadyPresent',
  'LeaseIdMismatchWithBlobOperation',
  'PathConflict',
  'PathAlreadyExists',
  'DestinationPathIsBeingDeleted',
  'SourcePathIsBeingDeleted',
]);

const INPUT_CODES = new Set([
  'InvalidRange',
  'InvalidResourceName',
  'InvalidBlobOrBlock',
  'OutOfRangeInput',
  'RequestBodyTooLarge',
  'InvalidHeaderValue',
  'InvalidUri',
  'BlobArchived',
  'BlobBeingRehydrated',
  'InvalidRenameSourcePath',
  'RenameDestinationParentPathNotFound',
  'FeatureNotSupported',
  'BlobTierInadequateForContentLength',
]);

/**
 * Converts an error from `@azure/storage-blob`, `@azure/storage-file-datalake` or
 * `@azure/identity` into the `FeatureStoreError` a caller can act on: `BlobNotFound` becomes a
 * `NotFoundError` naming the key, `ContainerNotFound` one naming the filesystem with how to
 * create it; rejected credentials (`AuthenticationFailed`, identity failures) an
 * `UnauthenticatedError`; `AuthorizationFailure` and the `Authorization*Mismatch` codes a
 * `PermissionDeniedError` naming the role to grant; `ServerBusy`, 5xx answers, refused
 * connections and timeouts a retryable `UnavailableError` naming the endpoint; anything else
 * keeps the Azure code in its message. A `FeatureStoreError`, and an error that did not come
 * from Azure (a caller's body stream failing), pass through unchanged.
 *
 * @example
 * try {
 *   await blob.download();
 * } catch (error) {
 *   throw convertAdlsError(error, { operation: 'download', account, filesystem, key });
 * }
 */
export function convertAdlsError(error: unknown, context: AdlsErrorContext): Error {
  if (error instanceof FeatureStoreError) return error;
  if (typeof error !== 'object' || error === null) {
    return new FeatureStoreError('INTERNAL', `ADLS ${context.operation} failed: ${String(error)}`, {
      cause: error,
    });
  }
  const native = error as AzureErrorLike;
  const serviceCode = (native.details as { errorCode?: string } | undefined)?.errorCode;
  const code = serviceCode ?? native.code ?? '';
  const status = native.statusCode;
  const network = NETWORK_CODES.has(native.code ?? '') || native.name === 'AbortError';
  const identity = IDENTITY_ERRORS.has(native.name ?? '');
  const fromAzure =
    native.name === 'RestError' || status !== undefined || serviceCode !== undefined;
  const plainHttp = /not permitted for non-TLS/i.test(native.message ?? '');
  if (!fromAzure && !network && !identity && !plainHttp) return error as Error;

  const endpoint = context.endpoint ?? `the storage account "${context.account}"`;
  const where =
    context.uri ?? `abfss://${context.filesystem}@${context.account}.dfs.core.windows.net`;
  const requestId = (native.details as { requestId?: string } | undefined)?.requestId;
  const details: Record<string, unknown> = {
    operation: context.operation,
    account: context.account,
    filesystem: context.filesystem,
    ...(context.key === undefined ? {} : { key: context.key }),
    ...(code ? { azureCode: code } : {}),
    ...(status === undefined ? {} : { httpStatus: status }),
    ...(requestId ? { requestId } : {}),
  };
  const options = { cause: error, details };
  const firstLine = summary(native.message ?? '');
  const reason = firstLine && firstLine !== code ? `: ${firstLine}` : '';

  if (plainHttp) {
    return new ValidationError(
      `a token credential (Microsoft Entra ID, DefaultAzureCredential) needs an https:// endpoint, and ${endpoint} is plain http: use https, or pass credential: { accountKey } or { sasToken } (Azurite over http takes its account key)`,
      options,
    );
  }

  if (identity) {
    return new UnauthenticatedError(
      `no Azure credential could get a token for ${where}${reason}: sign in (\`az login\`), set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET or a managed identity, or pass credential: { accountKey } or { sasToken }`,
      options,
    );
  }
  if (network || UNAVAILABLE_CODES.has(code) || status === 429 || (status ?? 0) >= 500) {
    const what = network ? native.code || native.name : code || `HTTP ${status}`;
    const busy = code === 'ServerBusy' || code.endsWith('OverAccountLimit') || status === 429;
    return new UnavailableError(
      busy
        ? `Azure Storage at ${endpoint} is throttling requests (${what}) during ${context.operation} on ${where}: retry later, with fewer concurrent requests`
        : `cannot reach Azure Storage at ${endpoint} during ${context.operation} on ${where} (${what}): check that the account and endpoint are right and the service is running, then retry`,
      options,
    );
  }
  if (NOT_FOUND_FILESYSTEM_CODES.has(code)) {
    return new NotFoundError(
      `filesystem (container) "${context.filesystem}" does not exist in storage account "${context.account}" at ${endpoint}: create it (e.g. \`az storage fs create --name ${context.filesystem} --account-name ${context.account}\`) or fix the filesystem in the storage URL`,
      options,
    );
  }
  if (NOT_FOUND_KEY_CODES.has(code) || (status === 404 && context.key !== undefined)) {
    return new NotFoundError(
      context.key === undefined
        ? `nothing found at ${where} during ${context.operation} (${code || 404})`
        : `object ${JSON.stringify(context.key)} does not exist (${where})`,
      options,
    );
  }
  // Azurite (and some proxies) answer a bad signature with AuthorizationFailure.
  if (
    UNAUTHENTICATED_CODES.has(code) ||
    status === 401 ||
    /failed to authenticate/i.test(firstLine)
  ) {
    return new UnauthenticatedError(
      `Azure Storage at ${endpoint} rejected the credentials during ${context.operation} on ${where} (${code || status}): check the account key, that the SAS token is complete and not expired, or that the token credential is for this tenant`,
      options,
    );
  }
  if (
    code.startsWith('Authorization') ||
    code === 'InsufficientAccountPermissions' ||
    status === 403
  ) {
    // Without a body (HEAD), a bad signature and a missing permission look the same here.
    const alsoCredentials =
      code === 'AuthorizationFailure' || code === ''
        ? '; if this is a new setup, check the account key or SAS token too'
        : '';
    return new PermissionDeniedError(
      `Azure Storage at ${endpoint} denied ${context.operation} on ${where} (${code || 403}): grant the identity "Storage Blob Data Contributor" on the filesystem or account, give the SAS read, add, create, write, delete and list permissions, and check the account's network rules${alsoCredentials}`,
      options,
    );
  }
  if (CONFLICT_CODES.has(code) || status === 409 || status === 412) {
    return new ConflictError(
      `Azure Storage refused ${context.operation} on ${where} (${code || status})${reason}: another writer holds or changed it; retry`,
      { ...options, retryable: true },
    );
  }
  if (INPUT_CODES.has(code) || status === 400 || status === 416) {
    return new ValidationError(
      `Azure Storage at ${endpoint} rejected ${context.operation} on ${where} (${code || status})${reason}`,
      options,
    );
  }
  return new FeatureStoreError(
    'INTERNAL',
    `Azure Storage at ${endpoint} failed ${context.operation} on ${where} with ${code || 'an unknown error'}${status === undefined ? '' : ` (HTTP ${status})`}${reason}`,
    options,
  );
}

/** The service's message without its request id and time lines, or the XML body's `<Message>`. */
function summary(message: string): string {
  const xml = /<Message>([^<]*)/.exec(message);
  const text = (xml ? xml[1]! : message.split('\n')[0]!).trim();
  return text.startsWith('<') ? '' : text;
}
