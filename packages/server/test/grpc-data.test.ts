import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { listAll, type ObjectStorage } from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import {
  CreateProjectRequest,
  type InferSchemaResponse,
  RegisterFeatureSetRequest,
} from '@featurestore/protocol/featurestore/v1/core';
import {
  DataFormat,
  type Ingestion,
  IngestRequest,
  type Job,
  type JobResponse,
  JobState,
  type ListIngestionsResponse,
  type ListJobsResponse,
  OutputFormat,
  RetrieveRequest,
} from '@featurestore/protocol/featurestore/v1/data';
import { type ServiceError, status } from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdminToken } from '../src/first-admin-token.js';
import { engineErrorOf } from '../src/grpc/error-status.js';
import { FeatureStoreServer } from '../src/grpc/featurestore-server.js';
import { type FeatureStore, type FeatureStoreConfigInput, openFeatureStore } from '../src/index.js';
import { dropKafkaNames, dropMetadataSchema } from './fixtures/kafka-namespace.js';
import { bearer, chunksOf, DataClient } from './grpc-data-client.js';
import { tempStore, until } from './helpers.js';

const SCHEMA = {
  primaryKey: ['user_id'],
  eventTime: 'ts',
  features: [
    { name: 'user_id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'amount', type: 'float64' },
  ],
};
const DAY1 = Buffer.from(
  'user_id,ts,amount\n1,2026-01-01T10:00:00Z,10.5\n2,2026-01-01T11:00:00Z,20\n1,2026-01-02T10:00:00Z,30\n',
);
const ENTITIES = Buffer.from(
  'user_id,at\n1,2026-01-01T12:00:00Z\n2,2026-01-03T00:00:00Z\n3,2026-01-03T00:00:00Z\n',
);
const issuer = 'https://login.example.test';
const audience = 'featurestore';

/** The status a call failed with, its message, and the engine code it carries. */
async function failure(call: Promise<unknown>) {
  const error = (await call.then(
    () => expect.fail('the call succeeded'),
    (rejected: unknown) => rejected,
  )) as ServiceError;
  return { code: error.code, message: error.details, engine: engineErrorOf(error)?.code };
}

async function stagedUploads(storage: ObjectStorage): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of listAll(storage, 'tmp/uploads/')) keys.push(object.key);
  return keys;
}

async function createFeatureSet(client: DataClient, token: string, project: string, name: string) {
  await client.unary('createProject', CreateProjectRequest.fromPartial({ name: project }), token);
  await client.unary(
    'registerFeatureSet',
    RegisterFeatureSetRequest.fromPartial({ project, name, schema: SCHEMA }),
    token,
  );
}

function ingestions(client: DataClient, token: string, project: string, featureSet: string) {
  return client
    .unary<ListIngestionsResponse>('listIngestions', { project, featureSet, version: '' }, token)
    .then((response) => response.ingestions);
}

/**
 * register → upload + ingest → history and statistics → historical from an uploaded entity
 * file → download → retrieve → revert, all through the wire; no staging object is left.
 */
async function wholeFlow(client: DataClient, token: string, storage: ObjectStorage) {
  const project = `flow_${randomUUID().slice(0, 8)}`;
  await createFeatureSet(client, token, project, 'payments');

  const ingested = await client.ingestUpload(
    {
      project,
      featureSet: 'payments',
      format: DataFormat.DATA_FORMAT_CSV,
      fileName: 'day1.csv',
      options: { idempotencyKey: 'day1', ignoreExtraColumns: false, wait: true },
    },
    DAY1,
    token,
  );
  expect(ingested.job).toMatchObject({ type: 'ingest', state: JobState.JOB_STATE_SUCCEEDED });
  const result = JSON.parse(ingested.job!.resultJson) as { ingestionId: string; rowCount: number };
  expect(result.rowCount).toBe(3);

  const [ingestion] = await ingestions(client, token, project, 'payments');
  expect(ingestion).toMatchObject({
    id: result.ingestionId,
    source: 'upload:day1.csv',
    format: DataFormat.DATA_FORMAT_CSV,
    rowCount: 3,
    idempotencyKey: 'day1',
    state: 'committed',
  });
  const one = await client.unary<Ingestion>(
    'getIngestion',
    { project, featureSet: 'payments', ingestionId: result.ingestionId, version: '' },
    token,
  );
  expect(one.statistics.amount).toMatchObject({
    count: 3,
    nulls: 0,
    minJson: '10.5',
    maxJson: '30',
  });

  const historical = await client.historical(
    {
      features: [`${project}/payments:amount`],
      entityTime: 'at',
      entityFormat: DataFormat.DATA_FORMAT_CSV,
      entityFileName: 'entities.csv',
      format: OutputFormat.OUTPUT_FORMAT_CSV,
      wait: true,
    },
    ENTITIES,
    token,
  );
  expect(historical.job?.state).toBe(JobState.JOB_STATE_SUCCEEDED);
  const trainingSet = (await client.download(historical.job!.id, token, true)).toString('utf8');
  expect(trainingSet.trim().split('\n')).toEqual([
    'user_id,at,payments__amount',
    expect.stringMatching(/^1,2026-01-01[ T]12:00:00(\.000)?Z?,10\.5$/),
    expect.stringMatching(/^2,2026-01-03[ T]00:00:00(\.000)?Z?,20(\.0)?$/),
    expect.stringMatching(/^3,2026-01-03[ T]00:00:00(\.000)?Z?,$/),
  ]);
  // Removed after the download: a second one finds nothing.
  expect((await failure(client.download(historical.job!.id, token))).code).toBe(status.NOT_FOUND);

  const retrieved = await client.unary<JobResponse>(
    'retrieve',
    RetrieveRequest.fromPartial({ project, featureSet: 'payments', latest: true, wait: true }),
    token,
  );
  const latest = (await client.download(retrieved.job!.id, token)).toString('utf8');
  expect(latest.trim().split('\n')).toHaveLength(3);

  const reverted = await client.unary<JobResponse>(
    'revertIngestion',
    { project, featureSet: 'payments', ingestionId: result.ingestionId, wait: true },
    token,
  );
  expect(reverted.job?.state).toBe(JobState.JOB_STATE_SUCCEEDED);
  expect((await ingestions(client, token, project, 'payments'))[0]?.state).toBe('reverted');
  expect(await stagedUploads(storage)).toEqual([]);
}

describe('CoreService data RPCs on the embedded default', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let store: FeatureStore;
  let server: FeatureStoreServer;
  let client: DataClient;
  let admin: string;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

  beforeAll(async () => {
    folder = await tempStore();
    store = await openFeatureStore({ store: folder.dir });
    admin = (await createFirstAdminToken(store.engine, undefined))!.secret;
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' };
    server = await FeatureStoreServer.start(store, {
      listen: '127.0.0.1:0',
      oidc: { issuer, audience, jwks: { keys: [jwk] } },
    });
    client = new DataClient(server.address);
    await createFeatureSet(client, admin, 'bad', 'payments');
  }, 60_000);
  afterAll(async () => {
    client?.close();
    await server?.shutdown();
    await store?.close();
    await folder?.remove();
  });

  it('register → upload + ingest → historical → download → retrieve → revert', async () => {
    await wholeFlow(client, admin, store.storage);
  }, 60_000);

  it('jobs: get, list, watch until the end, cancel a finished one', async () => {
    await createFeatureSet(client, admin, 'jobs', 'payments');
    const started = await client.ingestUpload(
      { project: 'jobs', featureSet: 'payments', format: DataFormat.DATA_FORMAT_CSV },
      DAY1,
      admin,
    );
    const id = started.job!.id;
    const events = await client.watch(id, admin);
    expect(events.at(-1)?.job?.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    // Each event is a change: no two in a row are the same.
    for (let i = 1; i < events.length; i += 1) {
      expect(events[i]!.job).not.toEqual(events[i - 1]!.job);
    }
    const job = await client.unary<Job>('getJob', { id }, admin);
    expect(JSON.parse(job.requestJson)).toMatchObject({ source: 'upload:upload' });
    const listed = await client.unary<ListJobsResponse>(
      'listJobs',
      { state: JobState.JOB_STATE_SUCCEEDED, type: 'ingest', pageSize: 0, pageToken: '' },
      admin,
    );
    expect(listed.jobs.map((listedJob) => listedJob.id)).toContain(id);
    const cancelled = await client.unary<Job>('cancelJob', { id }, admin);
    expect(cancelled.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect((await failure(client.watch(randomUUID(), admin))).code).toBe(status.NOT_FOUND);
  }, 60_000);

  it('InferSchema: the schema of an uploaded sample, as featureset register --schema-from', async () => {
    const inferred = await client.inferSchema(
      {
        project: 'bad',
        primaryKey: ['user_id'],
        eventTime: 'ts',
        format: DataFormat.DATA_FORMAT_CSV,
        fileName: 'day1.csv',
      },
      DAY1,
      admin,
    );
    expect(inferred).toMatchObject<Partial<InferSchemaResponse>>({
      schema: {
        primaryKey: ['user_id'],
        eventTime: 'ts',
        features: SCHEMA.features.map((feature) => ({
          ...feature,
          description: '',
          tags: {},
          sensitive: false,
        })),
      },
      rowCount: 3,
    });
    const { engine, principal } = store;
    const path = join(folder.dir, '..', `${randomUUID()}.csv`);
    await writeFile(path, DAY1);
    const local = await engine.schemaInference.infer(principal, 'bad', path, {
      primaryKey: ['user_id'],
      eventTime: 'ts',
    });
    expect(inferred.schema?.features.map(({ name, type }) => ({ name, type }))).toEqual(
      local.definition.features,
    );
    expect(await stagedUploads(store.storage)).toEqual([]);
  }, 60_000);

  const expired = async () =>
    new SignJWT({ email: 'late@example.test' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('late')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(privateKey);

  /** One row per bad upload: what the client does, and the status it must end with. */
  const badUploads: {
    name: string;
    call: () => Promise<unknown>;
    code: status;
    message: RegExp;
  }[] = [
    {
      name: 'no token',
      call: () =>
        client.ingestUpload(
          { project: 'bad', featureSet: 'payments', format: DataFormat.DATA_FORMAT_CSV },
          DAY1,
          undefined,
        ),
      code: status.UNAUTHENTICATED,
      message: /no authorization metadata/,
    },
    {
      name: 'a malformed token',
      call: () =>
        client.ingestUpload(
          { project: 'bad', featureSet: 'payments', format: DataFormat.DATA_FORMAT_CSV },
          DAY1,
          'not-a-token',
        ),
      code: status.UNAUTHENTICATED,
      message: /not a Featurestore access token/,
    },
    {
      name: 'an expired OIDC token',
      call: async () =>
        client.ingestUpload(
          { project: 'bad', featureSet: 'payments', format: DataFormat.DATA_FORMAT_CSV },
          DAY1,
          await expired(),
        ),
      code: status.UNAUTHENTICATED,
      message: /exp/,
    },
    {
      name: 'a message over the size limit',
      call: () => {
        const { stream, response } = client.openIngestUpload(
          { project: 'bad', featureSet: 'payments', format: DataFormat.DATA_FORMAT_CSV },
          admin,
        );
        stream.write({ chunk: Buffer.concat([DAY1, Buffer.alloc(17 * 1024 * 1024, 0x31)]) });
        stream.end();
        return response;
      },
      code: status.RESOURCE_EXHAUSTED,
      // Over the server's limit (16 MiB by default; grpc-js's own is 4 MiB).
      message: /larger than max|over this server's limit/,
    },
    {
      name: 'CSV bytes declared Parquet',
      call: () =>
        client.ingestUpload(
          { project: 'bad', featureSet: 'payments', format: DataFormat.DATA_FORMAT_PARQUET },
          DAY1,
          admin,
        ),
      code: status.INVALID_ARGUMENT,
      message: /declared parquet, but its bytes are no Parquet file/,
    },
    {
      name: 'Parquet bytes declared JSON Lines',
      call: () =>
        client.ingestUpload(
          { project: 'bad', featureSet: 'payments', format: DataFormat.DATA_FORMAT_JSON },
          Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(100)]),
          admin,
        ),
      code: status.INVALID_ARGUMENT,
      message: /declared json, but its bytes are a Parquet file/,
    },
    {
      name: 'no declared format',
      call: () => client.ingestUpload({ project: 'bad', featureSet: 'payments' }, DAY1, admin),
      code: status.INVALID_ARGUMENT,
      message: /format is required for an upload/,
    },
    {
      name: 'an unknown feature set',
      call: () =>
        client.ingestUpload(
          { project: 'bad', featureSet: 'nosuch', format: DataFormat.DATA_FORMAT_CSV },
          DAY1,
          admin,
        ),
      code: status.NOT_FOUND,
      message: /nosuch/,
    },
    {
      name: 'bytes before the header',
      call: () =>
        new Promise((resolve, reject) => {
          const stream = client.raw.ingestUpload(bearer(admin), (error, value) =>
            error ? reject(error) : resolve(value),
          );
          stream.write({ chunk: DAY1 });
          stream.end();
        }),
      code: status.INVALID_ARGUMENT,
      message: /the first message must hold the header/,
    },
    {
      // What a killed client can look like: its bytes, then the stream's end, no UploadEnd.
      name: 'an upload whose stream ends without its end message',
      call: () => {
        const { stream, response } = client.openIngestUpload(
          { project: 'bad', featureSet: 'payments', format: DataFormat.DATA_FORMAT_CSV },
          admin,
        );
        stream.write({ chunk: DAY1.subarray(0, DAY1.length - 5) });
        stream.end();
        return response;
      },
      code: status.CANCELLED,
      message: /without its end message \(UploadEnd\): it was cut off/,
    },
    {
      name: 'an end message counting other bytes than arrived',
      call: () => {
        const { stream, response } = client.openIngestUpload(
          { project: 'bad', featureSet: 'payments', format: DataFormat.DATA_FORMAT_CSV },
          admin,
        );
        stream.write({ chunk: DAY1 });
        stream.end({ end: { totalBytes: DAY1.length + 1 } });
        return response;
      },
      code: status.INVALID_ARGUMENT,
      message: /end message says \d+ bytes were sent, but \d+ arrived/,
    },
    {
      name: 'a row the schema refuses (waiting for the job)',
      call: () =>
        client.ingestUpload(
          {
            project: 'bad',
            featureSet: 'payments',
            format: DataFormat.DATA_FORMAT_CSV,
            options: { idempotencyKey: '', ignoreExtraColumns: false, wait: true },
          },
          Buffer.from('user_id,ts,amount\n1,2026-01-01T10:00:00Z,lots\n'),
          admin,
        ),
      code: status.INVALID_ARGUMENT,
      message: /amount/,
    },
    {
      name: 'the deadline passes while the upload is still open',
      call: () => {
        const { stream, response } = client.openIngestUpload(
          { project: 'bad', featureSet: 'payments', format: DataFormat.DATA_FORMAT_CSV },
          admin,
          { deadline: Date.now() + 1500 },
        );
        stream.write({ chunk: DAY1 });
        return response;
      },
      code: status.DEADLINE_EXCEEDED,
      message: /Deadline exceeded/i,
    },
    {
      name: 'the server’s own local file as a URI source',
      call: () =>
        client.unary(
          'ingest',
          IngestRequest.fromPartial({
            project: 'bad',
            featureSet: 'payments',
            source: join(folder.dir, 'featurestore.json'),
          }),
          admin,
        ),
      code: status.PERMISSION_DENIED,
      message: /may not read source/,
    },
    {
      name: 'the server’s own local file as the entity file',
      call: () =>
        client.historical(
          {
            features: ['bad/payments:amount'],
            entityTime: 'at',
            entities: join(folder.dir, 'entities.csv'),
          },
          undefined,
          admin,
        ),
      code: status.PERMISSION_DENIED,
      message: /may not read entity file/,
    },
    {
      name: 'entity bytes after a header that names the entity file',
      call: () =>
        client.historical(
          { features: ['bad/payments:amount'], entityTime: 'at', entities: 's3://landing/e.csv' },
          ENTITIES,
          admin,
        ),
      code: status.INVALID_ARGUMENT,
      message: /no bytes may follow/,
    },
    {
      name: 'an uploaded entity file of an unknown feature set',
      call: () =>
        client.historical(
          {
            features: ['bad/nosuch:amount'],
            entityTime: 'at',
            entityFormat: DataFormat.DATA_FORMAT_CSV,
          },
          ENTITIES,
          admin,
        ),
      code: status.NOT_FOUND,
      message: /nosuch/,
    },
  ];

  it.each(badUploads)(
    '$name → its status, nothing ingested, no staging left',
    async (row) => {
      const { code, message } = await failure(row.call());
      expect({ code, message }).toMatchObject({
        code: row.code,
        message: expect.stringMatching(row.message),
      });
      expect(await ingestions(client, admin, 'bad', 'payments')).toEqual([]);
      await until(
        async () => (await stagedUploads(store.storage)).length === 0,
        'no staging',
        10_000,
      );
    },
    30_000,
  );

  it('an upload the client cuts off half-way: nothing ingested, the staging object removed', async () => {
    const { stream, response } = client.openIngestUpload(
      { project: 'bad', featureSet: 'payments', format: DataFormat.DATA_FORMAT_CSV },
      admin,
    );
    stream.write({ chunk: Buffer.from('user_id,ts,amount\n') });
    stream.write({ chunk: Buffer.from('1,2026-01-01T10:00:00Z,10.5\n') });
    stream.cancel();
    expect((await failure(response)).code).toBe(status.CANCELLED);
    await until(
      async () => (await stagedUploads(store.storage)).length === 0,
      'no staging',
      10_000,
    );
    expect(await ingestions(client, admin, 'bad', 'payments')).toEqual([]);
  }, 30_000);

  it('a waiting ingestion whose call is cancelled cancels its job', async () => {
    await createFeatureSet(client, admin, 'slow', 'payments');
    const rows = ['user_id,ts,amount'];
    for (let i = 0; i < 300_000; i += 1) rows.push(`${i},2026-01-01T10:00:00Z,${i}.5`);
    const { stream, response } = client.openIngestUpload(
      {
        project: 'slow',
        featureSet: 'payments',
        format: DataFormat.DATA_FORMAT_CSV,
        options: { idempotencyKey: '', ignoreExtraColumns: false, wait: true },
      },
      admin,
    );
    const bytes = Buffer.from(rows.join('\n'));
    for (const chunk of chunksOf(bytes)) stream.write({ chunk });
    stream.end({ end: { totalBytes: bytes.length } });
    let running: Job | undefined;
    await until(
      async () => {
        const { jobs } = await client.unary<ListJobsResponse>(
          'listJobs',
          { state: JobState.JOB_STATE_RUNNING, type: 'ingest', pageSize: 0, pageToken: '' },
          admin,
        );
        running = jobs.find((job) => JSON.parse(job.requestJson).project === 'slow');
        return running !== undefined;
      },
      'the ingest job running',
      30_000,
    );
    stream.cancel();
    expect((await failure(response)).code).toBe(status.CANCELLED);
    await until(
      async () => {
        const j = await client.unary<Job>('getJob', { id: running!.id }, admin);
        return j.state === JobState.JOB_STATE_CANCELLED;
      },
      'the job cancelled',
      30_000,
    );
    expect(await ingestions(client, admin, 'slow', 'payments')).toEqual([]);
    await until(
      async () => (await stagedUploads(store.storage)).length === 0,
      'no staging',
      10_000,
    );
  }, 60_000);
});

describe('CoreService data RPCs on PostgreSQL + Redis + Kafka + S3 (moto)', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let store: FeatureStore;
  let server: FeatureStoreServer;
  let client: DataClient;
  let admin: string;
  const namespace = `grpcdata_${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    folder = await tempStore();
    const bucket = `fs-grpc-${randomUUID().slice(0, 8)}`;
    const s3 = {
      endpoint: serviceEnv('FEATURESTORE_TEST_S3_ENDPOINT'),
      region: serviceEnv('FEATURESTORE_TEST_S3_REGION'),
      forcePathStyle: true,
      accessKeyId: serviceEnv('FEATURESTORE_TEST_S3_ACCESS_KEY_ID'),
      secretAccessKey: serviceEnv('FEATURESTORE_TEST_S3_SECRET_ACCESS_KEY'),
    };
    const s3Client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    await s3Client.send(new CreateBucketCommand({ Bucket: bucket }));
    s3Client.destroy();
    const config: FeatureStoreConfigInput = {
      store: folder.dir,
      metadata: serviceEnv('FEATURESTORE_TEST_POSTGRES_URL'),
      metadataSchema: namespace,
      online: serviceEnv('FEATURESTORE_TEST_REDIS_URL'),
      queue: `kafka://${serviceEnv('FEATURESTORE_TEST_KAFKA_BROKERS')}`,
      queueNamespace: namespace,
      storage: `s3://${bucket}/store`,
      s3,
    };
    store = await openFeatureStore(config);
    admin = (await createFirstAdminToken(store.engine, undefined))!.secret;
    server = await FeatureStoreServer.start(store, { listen: '127.0.0.1:0' });
    client = new DataClient(server.address);
  }, 120_000);
  afterAll(async () => {
    client?.close();
    await server?.shutdown();
    await store?.close();
    await folder?.remove();
    await dropMetadataSchema(namespace);
    await dropKafkaNames(namespace);
  }, 60_000);

  it('register → upload + ingest → historical → download → retrieve → revert', async () => {
    await wholeFlow(client, admin, store.storage);
  }, 120_000);
});
