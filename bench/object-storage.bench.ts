/**
 * Object-storage benchmark: upload and download throughput of one object through
 * `S3ObjectStorage` and `AdlsObjectStorage`, each beside the raw SDK call on the same object,
 * with the same client and the same part/buffer settings, in the same run. Raw and driver take
 * turns (ABBA) so drift in the server hits both alike; the table shows the median.
 *
 *   node --conditions=@featurestore/source --import tsx bench/object-storage.bench.ts \
 *     [--size-mb 256] [--reps 3] [--drivers s3,adls]
 *
 * It runs against the services of `scripts/services up` (moto and Azurite, settings read
 * from .services/env), in a fresh bucket and container that it deletes afterwards.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AdlsObjectStorage } from '@featurestore/driver-adls';
import { S3ObjectStorage } from '@featurestore/driver-s3';

const { values: args } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '256' },
    reps: { type: 'string', default: '3' },
    drivers: { type: 'string', default: 's3,adls' },
  },
});
const MiB = 1024 * 1024;
const SIZE = Number(args['size-mb']) * MiB;
const REPS = Number(args.reps);
const DRIVERS = new Set(args.drivers.split(','));
/** The drivers' defaults, given to the raw calls too. */
const PART_SIZE = 8 * MiB;
const QUEUE_SIZE = 4;
const CHUNK = MiB;

function serviceEnv(): Record<string, string> {
  const file = fileURLToPath(new URL('../.services/env', import.meta.url));
  if (!existsSync(file)) throw new Error(`${file} is missing: run scripts/services up first`);
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}
const env = serviceEnv();

/** One pattern block, handed out SIZE / CHUNK times: generation costs nothing measurable. */
const pattern = randomBytes(CHUNK);
async function* body(): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < SIZE; sent += CHUNK) {
    yield sent + CHUNK <= SIZE ? pattern : pattern.subarray(0, SIZE - sent);
  }
}

async function drain(stream: AsyncIterable<Uint8Array | string>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.length;
  if (bytes !== SIZE) throw new Error(`read ${bytes} bytes, expected ${SIZE}`);
  return bytes;
}

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

interface Row {
  driver: string;
  operation: string;
  raw: number[];
  wrapped: number[];
}

/** Runs raw and driver REPS times each, alternating which goes first. */
async function measure(
  driver: string,
  operation: string,
  raw: () => Promise<unknown>,
  wrapped: () => Promise<unknown>,
): Promise<Row> {
  const row: Row = { driver, operation, raw: [], wrapped: [] };
  await raw(); // warm-up: connections, JIT, lazy SDK loading
  await wrapped();
  for (let rep = 0; rep < REPS; rep++) {
    const order = rep % 2 === 0 ? ['raw', 'wrapped'] : ['wrapped', 'raw'];
    for (const which of order) {
      const time = await seconds(which === 'raw' ? raw : wrapped);
      (which === 'raw' ? row.raw : row.wrapped).push(SIZE / 1e6 / time);
    }
  }
  console.error(`  ${driver} ${operation}: raw ${fmt(row.raw)} / driver ${fmt(row.wrapped)} MB/s`);
  return row;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const fmt = (values: number[]) => values.map((value) => value.toFixed(0)).join(' ');

async function benchS3(): Promise<Row[]> {
  const client = new S3Client({
    endpoint: env.FEATURESTORE_TEST_S3_ENDPOINT!,
    region: env.FEATURESTORE_TEST_S3_REGION!,
    credentials: {
      accessKeyId: env.FEATURESTORE_TEST_S3_ACCESS_KEY_ID!,
      secretAccessKey: env.FEATURESTORE_TEST_S3_SECRET_ACCESS_KEY!,
    },
    forcePathStyle: true,
  });
  const bucket = `featurestore-bench-${randomUUID().slice(0, 13)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  // The same client for both, so only the code paths differ.
  const storage = new S3ObjectStorage({
    bucket,
    client,
    partSize: PART_SIZE,
    queueSize: QUEUE_SIZE,
  });
  try {
    const upload = await measure(
      's3',
      'upload',
      () =>
        new Upload({
          client,
          params: { Bucket: bucket, Key: 'raw.bin', Body: Readable.from(body()) },
          partSize: PART_SIZE,
          queueSize: QUEUE_SIZE,
          leavePartsOnError: false,
        }).done(),
      () => storage.put('driver.bin', body()),
    );
    const download = await measure(
      's3',
      'download',
      async () => {
        const output = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'raw.bin' }));
        return drain(output.Body as Readable);
      },
      async () => drain(await storage.get('driver.bin')),
    );
    return [upload, download];
  } finally {
    for (const Key of ['raw.bin', 'driver.bin']) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    client.destroy();
  }
}

async function benchAdls(): Promise<Row[]> {
  // The very SDK build the driver imports (it is installed under the driver's package).
  const require = createRequire(new URL('../packages/driver-adls/package.json', import.meta.url));
  const entry = require.resolve('@azure/storage-blob').replace('/commonjs/', '/esm/');
  const blob = (await import(pathToFileURL(entry).href)) as typeof import('@azure/storage-blob');
  const service = new blob.BlobServiceClient(
    env.FEATURESTORE_TEST_AZURITE_BLOB_URL!,
    new blob.StorageSharedKeyCredential(
      env.FEATURESTORE_TEST_AZURITE_ACCOUNT!,
      env.FEATURESTORE_TEST_AZURITE_KEY!,
    ),
  );
  const container = service.getContainerClient(`featurestore-bench-${randomUUID().slice(0, 13)}`);
  await container.create();
  const storage = new AdlsObjectStorage({
    account: env.FEATURESTORE_TEST_AZURITE_ACCOUNT!,
    filesystem: container.containerName,
    containerClient: container,
    bufferSize: PART_SIZE,
    maxBuffers: QUEUE_SIZE,
  });
  const raw = container.getBlockBlobClient('raw.bin');
  try {
    const upload = await measure(
      'adls',
      'upload',
      () => raw.uploadStream(Readable.from(body()), PART_SIZE, QUEUE_SIZE),
      () => storage.put('driver.bin', body()),
    );
    const download = await measure(
      'adls',
      'download',
      async () => drain((await raw.download()).readableStreamBody as Readable),
      async () => drain(await storage.get('driver.bin')),
    );
    return [upload, download];
  } finally {
    await container.deleteIfExists();
  }
}

console.error(
  `object storage: ${SIZE / MiB} MiB, ${REPS} repetitions, parts/blocks of ${PART_SIZE / MiB} MiB × ${QUEUE_SIZE}`,
);
const rows: Row[] = [];
if (DRIVERS.has('s3')) rows.push(...(await benchS3()));
if (DRIVERS.has('adls')) rows.push(...(await benchAdls()));

const lines = [
  '| driver | operation | raw SDK MB/s | driver MB/s | driver/raw time | within 1.1× |',
  '|---|---|---:|---:|---:|:---:|',
];
for (const row of rows) {
  const raw = median(row.raw);
  const wrapped = median(row.wrapped);
  const ratio = raw / wrapped;
  lines.push(
    `| ${row.driver} | ${row.operation} | ${raw.toFixed(0)} | ${wrapped.toFixed(0)} | ${ratio.toFixed(2)}× | ${ratio <= 1.1 ? 'yes' : 'no'} |`,
  );
}
console.log(`\nobject of ${SIZE / MiB} MiB, median of ${REPS} (MB = 10^6 bytes)\n`);
console.log(lines.join('\n'));
