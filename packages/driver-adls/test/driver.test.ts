import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import {
  type ContainerClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import { listAll, readAll } from '@featurestore/core/driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdlsObjectStorage } from '../src/index.js';
import {
  azuriteConnection,
  azuriteService,
  createFilesystem,
  sharedKey,
} from './azurite-service.js';

const MiB = 1024 * 1024;

/** A local port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function keysOf(storage: AdlsObjectStorage, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of listAll(storage, prefix)) keys.push(object.key);
  return keys;
}

describe('AdlsObjectStorage', () => {
  const service = azuriteService();
  let container: ContainerClient;
  let filesystem: string;
  let storage: AdlsObjectStorage;
  beforeAll(async () => {
    container = await createFilesystem(service);
    filesystem = container.containerName;
    storage = new AdlsObjectStorage({ ...azuriteConnection(), filesystem });
  });
  afterAll(async () => {
    await storage?.close();
    await container?.deleteIfExists();
  });

  describe('a missing filesystem', () => {
    it('is a NotFoundError naming the container and saying to create it, on every call', async () => {
      const missing = new AdlsObjectStorage({
        ...azuriteConnection(),
        filesystem: `${filesystem}-gone`,
      });
      const expected = {
        code: 'NOT_FOUND',
        message: expect.stringMatching(
          new RegExp(`filesystem \\(container\\) "${filesystem}-gone" does not exist .*create it`),
        ),
      };
      await expect(missing.get('a')).rejects.toMatchObject(expected);
      await expect(missing.head('a')).rejects.toMatchObject(expected);
      await expect(missing.list('')).rejects.toMatchObject(expected);
      await expect(missing.put('a', 'x')).rejects.toMatchObject(expected);
      await expect(missing.put('a', Readable.from(['x']))).rejects.toMatchObject(expected);
      await expect(missing.delete(['a', 'b'])).rejects.toMatchObject(expected);
    });
  });

  describe('a prefixed storage', () => {
    it('skips the folder markers hierarchical namespaces and Hadoop tools write', async () => {
      for (const name of ['marked/in.txt', 'marked/sub/deep.txt']) {
        await container.getBlockBlobClient(name).upload(name, name.length);
      }
      await container
        .getBlockBlobClient('marked/dir')
        .upload('', 0, { metadata: { hdi_isfolder: 'true' } });
      const tenant = AdlsObjectStorage.fromUrl(
        `abfss://${filesystem}@devstoreaccount1.dfs.core.windows.net/marked/`,
        {
          blobEndpoint: azuriteConnection().blobEndpoint,
          credential: azuriteConnection().credential,
        },
      );
      expect(await keysOf(tenant)).toEqual(['in.txt', 'sub/deep.txt']);
      expect(await tenant.head('dir')).toBeUndefined();
      expect(tenant.uri('in.txt')).toBe(
        `abfss://${filesystem}@devstoreaccount1.dfs.core.windows.net/marked/in.txt`,
      );
    });
  });

  describe('put', () => {
    it('stages bodies larger than one buffer as blocks and reports their size', async () => {
      const small = new AdlsObjectStorage({ ...azuriteConnection(), filesystem, bufferSize: MiB });
      const bytes = randomBytes(5 * MiB + 123);
      expect((await small.put('blocks/bytes', bytes)).size).toBe(bytes.length);
      async function* chunks() {
        for (let i = 0; i < bytes.length; i += 300_000) yield bytes.subarray(i, i + 300_000);
      }
      expect((await small.put('blocks/iterable', chunks())).size).toBe(bytes.length);
      for (const name of ['blocks/bytes', 'blocks/iterable']) {
        const blocks = await container.getBlockBlobClient(name).getBlockList('committed');
        expect(blocks.committedBlocks?.length, name).toBe(6);
        expect((await readAll(await small.get(name))).equals(bytes), name).toBe(true);
      }
    });

    it("passes a failing body stream's own error through and leaves no object", async () => {
      const failure = new Error('the source broke');
      async function* broken() {
        yield Buffer.alloc(3 * MiB);
        throw failure;
      }
      const small = new AdlsObjectStorage({ ...azuriteConnection(), filesystem, bufferSize: MiB });
      await expect(small.put('broken/object', broken())).rejects.toBe(failure);
      expect(await small.head('broken/object')).toBeUndefined();
    });
  });

  describe('delete', () => {
    it('reports the keys it could not delete, after deleting the others', async () => {
      await storage.put('leased/locked', 'x');
      await storage.put('leased/free', 'y');
      // A leased blob refuses a delete without the lease id, in the batch as on its own.
      const lease = container.getBlockBlobClient('leased/locked').getBlobLeaseClient();
      await lease.acquireLease(-1);
      try {
        await expect(storage.delete(['leased/locked', 'leased/free'])).rejects.toMatchObject({
          code: 'CONFLICT',
          message: expect.stringMatching(
            /^1 of 2 deletes failed: "leased\/locked" \(LeaseIdMissing\)/,
          ),
          details: { failures: [{ key: 'leased/locked', code: 'LeaseIdMissing', status: 412 }] },
        });
        expect(await keysOf(storage, 'leased/')).toEqual(['leased/locked']);
      } finally {
        await lease.releaseLease();
      }
    });
  });

  describe('credentials', () => {
    it('works with a container SAS token', async () => {
      const sas = generateBlobSASQueryParameters(
        {
          containerName: filesystem,
          permissions: ContainerSASPermissions.parse('racwdl'),
          expiresOn: new Date(Date.now() + 3_600_000),
        },
        sharedKey(),
      ).toString();
      const { account, blobEndpoint } = azuriteConnection();
      const withSas = new AdlsObjectStorage({
        account,
        blobEndpoint,
        filesystem,
        credential: { sasToken: `?${sas}` },
        prefix: 'sas',
      });
      await withSas.put('a b.txt', 'a');
      await withSas.put('b', Readable.from(['b']));
      expect(await keysOf(withSas)).toEqual(['a b.txt', 'b']);
      expect((await readAll(await withSas.get('a b.txt'))).toString()).toBe('a');
      await withSas.delete(['a b.txt', 'b', 'missing']);
      expect(await keysOf(withSas)).toEqual([]);
    });

    it('reports a wrong account key as a credential problem naming the account', async () => {
      const wrong = new AdlsObjectStorage({
        ...azuriteConnection(),
        filesystem,
        credential: { accountKey: Buffer.from('not the key').toString('base64') },
      });
      // Azurite answers a bad signature with AuthorizationFailure (Azure: AuthenticationFailed);
      // a HEAD answer carries no message to tell which, so it names both causes.
      await expect(wrong.list('')).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
        message: expect.stringMatching(/devstoreaccount1 rejected the credentials .*account key/),
      });
      await expect(wrong.head('a')).rejects.toMatchObject({
        code: 'PERMISSION_DENIED',
        message: expect.stringContaining('check the account key or SAS token too'),
      });
    });

    it('loads DefaultAzureCredential when none is given, and explains that it needs https', async () => {
      const { account, blobEndpoint } = azuriteConnection();
      const signedIn = new AdlsObjectStorage({ account, blobEndpoint, filesystem });
      await expect(signedIn.head('a')).rejects.toMatchObject({
        code: 'VALIDATION',
        message: expect.stringMatching(
          /needs an https:\/\/ endpoint.*credential: \{ accountKey \}/,
        ),
      });
    });
  });

  describe('an injected container client', () => {
    it('is used as given', async () => {
      const injected = new AdlsObjectStorage({
        account: 'devstoreaccount1',
        filesystem,
        containerClient: service.getContainerClient(filesystem),
      });
      await injected.put('injected/a', 'a');
      expect(await storage.head('injected/a')).toMatchObject({ size: 1 });
      await injected.close();
      await expect(injected.head('injected/a')).rejects.toMatchObject({
        message: expect.stringContaining('is closed'),
      });
    });

    it('cannot be combined with a blob endpoint', () => {
      expect(
        () =>
          new AdlsObjectStorage({
            ...azuriteConnection(),
            filesystem,
            containerClient: service.getContainerClient(filesystem),
          }),
      ).toThrow(/both a containerClient and blobEndpoint/);
    });
  });

  describe('capabilities', () => {
    it('has no rename on the Blob endpoint alone', () => {
      expect(storage.rename).toBeUndefined();
    });

    it('renames on the DFS endpoint with hierarchicalNamespace, which Azurite does not serve', async () => {
      const hns = new AdlsObjectStorage({
        ...azuriteConnection(),
        filesystem,
        hierarchicalNamespace: true,
        dfsEndpoint: azuriteConnection().blobEndpoint,
      });
      expect(typeof hns.rename).toBe('function');
      await hns.put('rename/from', 'x');
      // Azurite answers the DFS rename with 400: the call is converted, not left raw.
      await expect(hns.rename!('rename/from', 'rename/to')).rejects.toMatchObject({
        code: 'VALIDATION',
        message: expect.stringContaining('rename'),
      });
      expect(
        () =>
          new AdlsObjectStorage({
            ...azuriteConnection(),
            filesystem,
            hierarchicalNamespace: true,
          }),
      ).toThrow(/pass dfsEndpoint/);
    });
  });

  describe('an unreachable endpoint', () => {
    it('fails fast with a retryable UnavailableError naming the endpoint', async () => {
      const blobEndpoint = `http://127.0.0.1:${await closedPort()}/devstoreaccount1`;
      const down = new AdlsObjectStorage({
        ...azuriteConnection(),
        blobEndpoint,
        filesystem,
        pipelineOptions: {
          retryOptions: { maxTries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
        },
      });
      const started = Date.now();
      const expected = {
        code: 'UNAVAILABLE',
        retryable: true,
        message: expect.stringMatching(
          new RegExp(`cannot reach Azure Storage at ${blobEndpoint} .*ECONNREFUSED`),
        ),
      };
      await expect(down.get('a')).rejects.toMatchObject(expected);
      await expect(down.head('a')).rejects.toMatchObject(expected);
      await expect(down.list('')).rejects.toMatchObject(expected);
      await expect(down.put('a', 'x')).rejects.toMatchObject(expected);
      await expect(down.put('a', Readable.from(['x']))).rejects.toMatchObject(expected);
      await expect(down.delete(['a'])).rejects.toMatchObject(expected);
      expect(Date.now() - started).toBeLessThan(10_000);
    });
  });
});

describe('AdlsObjectStorage.fromUrl', () => {
  it('parses the filesystem, the account, the cloud and the prefix', () => {
    const cases: [string, Record<string, unknown>][] = [
      [
        'abfss://features@acme.dfs.core.windows.net',
        {
          filesystem: 'features',
          account: 'acme',
          endpointSuffix: 'core.windows.net',
          prefix: undefined,
        },
      ],
      [
        'abfss://features@acme.dfs.core.windows.net/prod/v1/',
        { filesystem: 'features', account: 'acme', prefix: 'prod/v1' },
      ],
      [
        'abfs://my-fs@acme01.dfs.core.chinacloudapi.cn/a b',
        { endpointSuffix: 'core.chinacloudapi.cn', prefix: 'a b' },
      ],
    ];
    for (const [url, expected] of cases) {
      const storage = AdlsObjectStorage.fromUrl(url, { credential: { accountKey: 'a2V5' } });
      expect(
        {
          filesystem: storage.filesystem,
          account: storage.account,
          endpointSuffix: storage.endpointSuffix,
          prefix: storage.prefix,
        },
        url,
      ).toMatchObject(expected);
    }
    expect(
      AdlsObjectStorage.fromUrl('abfss://features@acme.dfs.core.windows.net/prod').uri(
        'k/x.parquet',
      ),
    ).toBe('abfss://features@acme.dfs.core.windows.net/prod/k/x.parquet');
  });

  it('refuses bad URLs with a ValidationError naming the URL', () => {
    for (const url of [
      's3://bucket/prefix',
      'abfss://acme.dfs.core.windows.net/prefix',
      'abfss://@acme.dfs.core.windows.net',
      'abfss://features@acme.blob.core.windows.net',
      'abfss://features@acme.dfs',
      'abfss://Features@acme.dfs.core.windows.net',
      'abfss://fs--x@acme.dfs.core.windows.net',
      'abfss://features@ACME.dfs.core.windows.net',
      'abfss://features@acme.dfs.core.windows.net//double',
      'abfss://features@acme.dfs.core.windows.net/a/../b',
    ]) {
      expect(() => AdlsObjectStorage.fromUrl(url), url).toThrow(
        expect.objectContaining({
          code: 'VALIDATION',
          message: expect.stringContaining(JSON.stringify(url)),
        }),
      );
    }
  });

  it('refuses an endpoint with a query, pointing SAS tokens to the credential', () => {
    expect(
      () =>
        new AdlsObjectStorage({
          account: 'acme',
          filesystem: 'features',
          blobEndpoint: 'https://acme.blob.core.windows.net?sv=2024',
        }),
    ).toThrow(/sasToken/);
  });
});
