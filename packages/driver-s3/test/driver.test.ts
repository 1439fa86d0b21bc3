import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { listAll, readAll } from '@featurestore/core/driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStorage } from '../src/index.js';
import { createBucket, deleteBucket, s3Client, s3Connection } from './s3-service.js';

const MiB = 1024 * 1024;

/** A local port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function keysOf(storage: S3ObjectStorage, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of listAll(storage, prefix)) keys.push(object.key);
  return keys;
}

describe('S3ObjectStorage', () => {
  const admin: S3Client = s3Client();
  let bucket: string;
  let storage: S3ObjectStorage;
  beforeAll(async () => {
    bucket = await createBucket(admin);
    storage = new S3ObjectStorage({ bucket, ...s3Connection() });
  });
  afterAll(async () => {
    await storage?.close();
    if (bucket) await deleteBucket(admin, bucket);
    admin.destroy();
  }, 60_000);

  describe('a missing bucket', () => {
    it('is a NotFoundError naming the bucket and saying to create it, on every call', async () => {
      const missing = new S3ObjectStorage({ bucket: `${bucket}-missing`, ...s3Connection() });
      const expected = {
        code: 'NOT_FOUND',
        message: expect.stringMatching(
          new RegExp(`bucket "${bucket}-missing" does not exist .*create it`),
        ),
      };
      await expect(missing.get('a')).rejects.toMatchObject(expected);
      await expect(missing.head('a')).rejects.toMatchObject(expected);
      await expect(missing.list('')).rejects.toMatchObject(expected);
      await expect(missing.put('a', 'x')).rejects.toMatchObject(expected);
      await expect(missing.put('a', Readable.from(['x']))).rejects.toMatchObject(expected);
      await expect(missing.delete(['a'])).rejects.toMatchObject(expected);
      await missing.close();
    });
  });

  describe('a prefixed storage', () => {
    it('skips the zero-byte folder markers the AWS console makes', async () => {
      for (const key of ['marked/in.txt', 'marked/sub/deep.txt', 'marked/sub/']) {
        await admin.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: Buffer.from(key.endsWith('/') ? '' : key),
          }),
        );
      }
      const tenant = S3ObjectStorage.fromUrl(`s3://${bucket}/marked/`, s3Connection());
      expect(await keysOf(tenant)).toEqual(['in.txt', 'sub/deep.txt']);
      expect(await tenant.head('sub')).toBeUndefined();
      await tenant.close();
    });
  });

  describe('put', () => {
    it('sends bodies larger than one part as a multipart upload and reports their size', async () => {
      const small = new S3ObjectStorage({ bucket, ...s3Connection(), partSize: 5 * MiB });
      const bytes = randomBytes(11 * MiB);
      expect((await small.put('multi/bytes', bytes)).size).toBe(bytes.length);
      async function* chunks() {
        for (let i = 0; i < 11; i++) yield bytes.subarray(i * MiB, (i + 1) * MiB);
      }
      expect((await small.put('multi/iterable', chunks())).size).toBe(bytes.length);
      for (const key of ['multi/bytes', 'multi/iterable']) {
        const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        expect(head.ETag, key).toMatch(/-3"$/);
        expect((await readAll(await small.get(key))).equals(bytes), key).toBe(true);
      }
      await small.close();
    });

    it("passes a failing body stream's own error through and leaves no object", async () => {
      const failure = new Error('the source broke');
      async function* broken() {
        yield Buffer.alloc(6 * MiB);
        throw failure;
      }
      const small = new S3ObjectStorage({ bucket, ...s3Connection(), partSize: 5 * MiB });
      await expect(small.put('broken/object', broken())).rejects.toBe(failure);
      expect(await small.head('broken/object')).toBeUndefined();
      await small.close();
    });

    it('refuses parts below the S3 minimum', () => {
      expect(() => new S3ObjectStorage({ bucket, partSize: MiB })).toThrow(/5 MiB/);
    });
  });

  describe('an injected client', () => {
    it('is used as given and left open on close', async () => {
      const client = s3Client();
      const injected = new S3ObjectStorage({ bucket, client });
      await injected.put('injected/a', 'a');
      await injected.close();
      await expect(injected.head('injected/a')).rejects.toMatchObject({
        message: expect.stringContaining('is closed'),
      });
      const again = new S3ObjectStorage({ bucket, client });
      expect(await again.head('injected/a')).toMatchObject({ size: 1 });
      client.destroy();
    });

    it('cannot be combined with connection options', () => {
      expect(() => new S3ObjectStorage({ bucket, client: s3Client(), region: 'x' })).toThrow(
        /both a client and region/,
      );
    });
  });

  describe('an unreachable endpoint', () => {
    it('fails fast with a retryable UnavailableError naming the endpoint', async () => {
      const endpoint = `http://127.0.0.1:${await closedPort()}`;
      const down = new S3ObjectStorage({
        bucket,
        ...s3Connection(),
        endpoint,
        clientConfig: { maxAttempts: 2 },
      });
      const started = Date.now();
      const expected = {
        code: 'UNAVAILABLE',
        retryable: true,
        message: expect.stringMatching(new RegExp(`cannot reach S3 at ${endpoint} .*ECONNREFUSED`)),
      };
      await expect(down.get('a')).rejects.toMatchObject(expected);
      await expect(down.head('a')).rejects.toMatchObject(expected);
      await expect(down.list('')).rejects.toMatchObject(expected);
      await expect(down.put('a', 'x')).rejects.toMatchObject(expected);
      await expect(down.put('a', Readable.from(['x']))).rejects.toMatchObject(expected);
      await expect(down.delete(['a'])).rejects.toMatchObject(expected);
      expect(Date.now() - started).toBeLessThan(10_000);
      await down.close();
    });
  });
});

describe('S3ObjectStorage.fromUrl', () => {
  it('parses the bucket and the prefix', () => {
    const cases: [string, string, string | undefined][] = [
      ['s3://bucket', 'bucket', undefined],
      ['s3://bucket/', 'bucket', undefined],
      ['s3://my.bucket-1/a/b/', 'my.bucket-1', 'a/b'],
      ['s3://bucket/with space/ünïcode', 'bucket', 'with space/ünïcode'],
    ];
    for (const [url, bucket, prefix] of cases) {
      const storage = S3ObjectStorage.fromUrl(url);
      expect({ bucket: storage.bucket, prefix: storage.prefix }, url).toEqual({ bucket, prefix });
    }
    expect(S3ObjectStorage.fromUrl('s3://bucket/p/').uri('k/x.parquet')).toBe(
      's3://bucket/p/k/x.parquet',
    );
    expect(S3ObjectStorage.fromUrl('s3://bucket').uri('x')).toBe('s3://bucket/x');
  });

  it('refuses bad URLs with a ValidationError naming the URL', () => {
    for (const url of [
      'http://bucket/prefix',
      's3:/bucket',
      's3://',
      's3:///prefix',
      's3://a/prefix',
      's3://bucket_/x',
      's3://bucket//double',
      's3://bucket/a/../b',
      's3://bucket/a\\b',
      'abfss://fs@account.dfs.core.windows.net/x',
    ]) {
      expect(() => S3ObjectStorage.fromUrl(url), url).toThrow(
        expect.objectContaining({
          code: 'VALIDATION',
          message: expect.stringContaining(JSON.stringify(url)),
        }),
      );
    }
  });

  it('refuses an endpoint that is not an http(s) URL, on first use', async () => {
    const storage = S3ObjectStorage.fromUrl('s3://bucket', { endpoint: 'localhost:9000' });
    await expect(storage.head('x')).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining('localhost:9000'),
    });
  });
});
