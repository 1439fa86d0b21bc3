import { RestError } from '@azure/storage-blob';
import { ValidationError } from '@featurestore/core/driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdlsContainerClientLike, AdlsObjectStorage, convertAdlsError } from '../src/index.js';
import { azuriteConnection, azuriteService, createFilesystem } from './azurite-service.js';

const context = {
  operation: 'download',
  account: 'acme',
  filesystem: 'features',
  key: 'a/b.parquet',
  uri: 'abfss://features@acme.dfs.core.windows.net/prod/a/b.parquet',
  endpoint: 'https://acme.blob.core.windows.net',
};

/** A service error as the SDK builds it: the code from `x-ms-error-code`, in `details` too. */
function restError(errorCode: string, statusCode: number, message = `${errorCode} message`) {
  return Object.assign(
    new RestError(`${message}\nRequestId:1f0c\nTime:2026-11-27T08:00:00.0000000Z`, {
      code: errorCode,
      statusCode,
    }),
    { details: { errorCode, requestId: '1f0c' } },
  );
}

describe('convertAdlsError', () => {
  it('names the key of a missing blob', () => {
    const error = convertAdlsError(restError('BlobNotFound', 404), context);
    expect(error).toMatchObject({
      code: 'NOT_FOUND',
      details: { key: 'a/b.parquet', azureCode: 'BlobNotFound', requestId: '1f0c' },
    });
    expect(error.message).toContain('"a/b.parquet" does not exist (abfss://features@acme');
  });

  it('names a missing filesystem, with how to create it', () => {
    const error = convertAdlsError(restError('ContainerNotFound', 404), context);
    expect(error).toMatchObject({ code: 'NOT_FOUND' });
    expect(error.message).toMatch(
      /filesystem \(container\) "features" does not exist in storage account "acme" .*az storage fs create --name features --account-name acme/,
    );
  });

  it('turns authentication failures into an UnauthenticatedError', () => {
    for (const code of [
      'AuthenticationFailed',
      'InvalidAuthenticationInfo',
      'NoAuthenticationInformation',
    ]) {
      expect(convertAdlsError(restError(code, 403), context), code).toMatchObject({
        code: 'UNAUTHENTICATED',
        message: expect.stringContaining('rejected the credentials'),
      });
    }
    const identity = Object.assign(new Error('DefaultAzureCredential failed to retrieve a token'), {
      name: 'AggregateAuthenticationError',
    });
    expect(convertAdlsError(identity, context)).toMatchObject({
      code: 'UNAUTHENTICATED',
      message: expect.stringContaining('az login'),
    });
  });

  it('turns authorization failures into a PermissionDeniedError naming the role', () => {
    for (const code of ['AuthorizationPermissionMismatch', 'AuthorizationFailure']) {
      expect(
        convertAdlsError(restError(code, 403, 'This request is not authorized'), context),
        code,
      ).toMatchObject({
        code: 'PERMISSION_DENIED',
        message: expect.stringContaining('Storage Blob Data Contributor'),
      });
    }
  });

  it('turns busy servers and network failures into a retryable UnavailableError', () => {
    const busy = convertAdlsError(restError('ServerBusy', 503), context);
    expect(busy).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    expect(busy.message).toContain('throttling');
    expect(convertAdlsError(restError('InternalError', 500), context)).toMatchObject({
      code: 'UNAVAILABLE',
    });
    const refused = new RestError('connect ECONNREFUSED 127.0.0.1:1', { code: 'ECONNREFUSED' });
    expect(convertAdlsError(refused, context)).toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining(
        'cannot reach Azure Storage at https://acme.blob.core.windows.net',
      ),
    });
    const timeout = Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
    expect(convertAdlsError(timeout, context)).toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('keeps the Azure code and message of anything else, without the request lines', () => {
    const error = convertAdlsError(
      restError('SomethingNew', 409, 'Something new happened.'),
      context,
    );
    expect(error.message).toContain('(SomethingNew): Something new happened.');
    expect(error.message).not.toContain('RequestId');
    const xml = new RestError(
      '<?xml version="1.0"?><Error><Code>OutOfRangeInput</Code><Message>One of the request inputs is out of range.</Message></Error>',
      { statusCode: 400, code: 'OutOfRangeInput' },
    );
    expect(convertAdlsError(xml, context)).toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining(
        '(OutOfRangeInput): One of the request inputs is out of range.',
      ),
    });
  });

  it('passes errors that did not come from Azure through unchanged', () => {
    const own = new Error('the body stream broke');
    expect(convertAdlsError(own, context)).toBe(own);
    const featureStore = new ValidationError('bad');
    expect(convertAdlsError(featureStore, context)).toBe(featureStore);
  });
});

describe('an account without blob batches', () => {
  const service = azuriteService();
  let filesystem: string;
  beforeAll(async () => {
    filesystem = (await createFilesystem(service)).containerName;
  });
  afterAll(async () => {
    await service.getContainerClient(filesystem).deleteIfExists();
  });

  it('deletes one blob at a time after the first refused batch', async () => {
    // Azurite takes batches; this real client refuses them as an account without them would.
    const real = service.getContainerClient(filesystem);
    let batches = 0;
    const client: AdlsContainerClientLike = {
      url: real.url,
      getBlockBlobClient: (name) => real.getBlockBlobClient(name),
      listBlobsFlat: (options) => real.listBlobsFlat(options),
      getBlobBatchClient: () => {
        batches++;
        return {
          deleteBlobs: async () => {
            throw restError('FeatureNotSupported', 400, 'Blob batch is not supported.');
          },
        } as unknown as ReturnType<AdlsContainerClientLike['getBlobBatchClient']>;
      },
    };
    const storage = new AdlsObjectStorage({
      account: azuriteConnection().account,
      filesystem,
      containerClient: client,
    });
    const keys = Array.from({ length: 300 }, (_, i) => `one-by-one/${i}`);
    await Promise.all(keys.map((key) => storage.put(key, 'x')));
    await storage.delete([...keys, 'one-by-one/missing']);
    expect((await storage.list('one-by-one/')).objects).toEqual([]);
    expect(batches).toBe(1);
  });
});
