import { randomUUID } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { serviceEnv } from '@featurestore/core/testing';
import type { S3ConnectionOptions } from '../src/index.js';

/** How the tests reach the S3 server `scripts/services up` started (moto). */
export function s3Connection(): Required<
  Pick<S3ConnectionOptions, 'endpoint' | 'region' | 'credentials'>
> {
  return {
    endpoint: serviceEnv('FEATURESTORE_TEST_S3_ENDPOINT'),
    region: serviceEnv('FEATURESTORE_TEST_S3_REGION'),
    credentials: {
      accessKeyId: serviceEnv('FEATURESTORE_TEST_S3_ACCESS_KEY_ID'),
      secretAccessKey: serviceEnv('FEATURESTORE_TEST_S3_SECRET_ACCESS_KEY'),
    },
  };
}

export function s3Client(): S3Client {
  return new S3Client({ ...s3Connection(), forcePathStyle: true });
}

/** A fresh bucket for one test file (moto keeps buckets in memory, shared by every run). */
export async function createBucket(client: S3Client): Promise<string> {
  const bucket = `featurestore-test-${randomUUID().slice(0, 13)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** Deletes every object of the bucket, then the bucket. */
export async function deleteBucket(client: S3Client, bucket: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
    );
    const Objects = (page.Contents ?? []).map((object) => ({ Key: object.Key! }));
    if (Objects.length > 0) {
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects } }));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}
