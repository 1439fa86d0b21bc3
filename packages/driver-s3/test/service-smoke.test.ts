import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MiB = 1024 * 1024;

describe('S3 test service', () => {
  const s3 = new S3Client({
    endpoint: serviceEnv('FEATURESTORE_TEST_S3_ENDPOINT'),
    region: serviceEnv('FEATURESTORE_TEST_S3_REGION'),
    credentials: {
      accessKeyId: serviceEnv('FEATURESTORE_TEST_S3_ACCESS_KEY_ID'),
      secretAccessKey: serviceEnv('FEATURESTORE_TEST_S3_SECRET_ACCESS_KEY'),
    },
    // A local server has no per-bucket host names.
    forcePathStyle: true,
  });
  const bucket = `smoke-${randomUUID()}`;

  async function listKeys(prefix: string): Promise<{ keys: string[]; pages: number }> {
    const keys: string[] = [];
    let pages = 0;
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      pages += 1;
      keys.push(...(page.Contents ?? []).map((object) => object.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return { keys, pages };
  }

  async function inBatches<T>(items: T[], size: number, work: (item: T) => Promise<unknown>) {
    for (let start = 0; start < items.length; start += size) {
      await Promise.all(items.slice(start, start + size).map(work));
    }
  }

  beforeAll(async () => {
    // moto keeps buckets in memory only, so each run makes its own.
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  afterAll(async () => {
    const { keys } = await listKeys('');
    // DeleteObjects takes at most 1000 keys per call.
    for (let start = 0; start < keys.length; start += 1000) {
      const Objects = keys.slice(start, start + 1000).map((Key) => ({ Key }));
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects } }));
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    s3.destroy();
  });

  it('puts an object and reads it whole and by range', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'hello.txt', Body: '0123456789' }));

    const whole = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'hello.txt' }));
    expect(await whole.Body!.transformToString()).toBe('0123456789');

    const range = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'hello.txt', Range: 'bytes=2-5' }),
    );
    expect(range.ContentRange).toBe('bytes 2-5/10');
    expect(await range.Body!.transformToString()).toBe('2345');
  });

  it('lists more than 1000 keys across pages', async () => {
    const keys = Array.from({ length: 1100 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
    await inBatches(keys, 50, (Key) =>
      s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key })),
    );

    const listed = await listKeys('many/');

    expect(listed.pages).toBe(2);
    expect(listed.keys).toEqual(keys);
  }, 60_000);

  it('uploads a large object in parts and reads it back', async () => {
    const body = randomBytes(12 * MiB);
    const upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: 'large.bin', Body: body },
      partSize: 5 * MiB,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const parts: number[] = [];
    upload.on('httpUploadProgress', (progress) => {
      if (progress.part !== undefined) parts.push(progress.part);
    });

    await upload.done();

    // Three parts of 5, 5 and 2 MiB: a single PUT would not have exercised the multipart API.
    expect(new Set(parts).size).toBe(3);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'large.bin' }));
    expect(head.ContentLength).toBe(body.length);
    // S3 gives a completed multipart object an ETag that ends in its number of parts.
    expect(head.ETag).toMatch(/-3"$/);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'large.bin' }));
    const bytes = await got.Body!.transformToByteArray();
    expect(bytes.length).toBe(body.length);
    const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
    expect(sha256(bytes)).toBe(sha256(body));
  }, 60_000);
});
