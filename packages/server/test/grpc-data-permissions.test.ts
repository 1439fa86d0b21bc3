import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ACTION_REQUIREMENTS,
  type Action,
  type FeatureSetDefinition,
  type FeatureStoreEngine,
  type Principal,
  ROLES,
  type Role,
} from '@featurestore/core';
import {
  DataFormat,
  type Ingestion,
  IngestRequest,
  RetrieveRequest,
} from '@featurestore/protocol/featurestore/v1/data';
import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureStoreServer } from '../src/grpc/featurestore-server.js';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { DataClient } from './grpc-data-client.js';
import { tempStore } from './helpers.js';

const definition: FeatureSetDefinition = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'score', type: 'float64' },
    { name: 'secret', type: 'float64', sensitive: true },
  ],
};
const ROWS = Buffer.from('id,ts,score,secret\n1,2026-01-01T00:00:00Z,0.5,7\n');
const ENTITIES = Buffer.from('id,at\n1,2026-01-02T00:00:00Z\n');

type Subject = Role | 'non_member' | 'admin';
const SUBJECTS: Subject[] = [...ROLES, 'non_member', 'admin'];

/** What a subject has to call with: its token, and a project where it has its role. */
interface Fixture {
  engine: FeatureStoreEngine;
  client: DataClient;
  caller: Principal;
  token: string;
  project: string;
  /** A committed ingestion of the project's feature set `fs`. */
  ingestionId: string;
  /** A finished job with an output file, the caller's own. */
  ownJob: string;
  /** The same, but the admin's. */
  adminJob: string;
  landing: string;
}

/**
 * Every data RPC, the engine action it performs, and whose job it touches (`self` actions
 * allow the job's creator and admins only). The expectation comes from the engine's one
 * action table, `ACTION_REQUIREMENTS`.
 */
const RPCS: {
  rpc: string;
  action: Action | 'authenticated';
  job?: 'own' | 'admin';
  call: (f: Fixture) => Promise<unknown>;
}[] = [
  {
    rpc: 'Ingest',
    action: 'data.write',
    call: (f) =>
      f.client.unary(
        'ingest',
        IngestRequest.fromPartial({
          project: f.project,
          featureSet: 'fs',
          source: join(f.landing, 'rows.csv'),
        }),
        f.token,
      ),
  },
  {
    rpc: 'IngestUpload',
    action: 'data.write',
    call: (f) =>
      f.client.ingestUpload(
        { project: f.project, featureSet: 'fs', format: DataFormat.DATA_FORMAT_CSV },
        ROWS,
        f.token,
      ),
  },
  {
    rpc: 'ListIngestions',
    action: 'featureset.get',
    call: (f) =>
      f.client.unary(
        'listIngestions',
        { project: f.project, featureSet: 'fs', version: '' },
        f.token,
      ),
  },
  {
    rpc: 'GetIngestion',
    action: 'featureset.get',
    call: (f) =>
      f.client.unary(
        'getIngestion',
        { project: f.project, featureSet: 'fs', ingestionId: f.ingestionId, version: '' },
        f.token,
      ),
  },
  {
    rpc: 'RevertIngestion',
    action: 'data.write',
    call: (f) =>
      f.client.unary(
        'revertIngestion',
        { project: f.project, featureSet: 'fs', ingestionId: f.ingestionId, wait: true },
        f.token,
      ),
  },
  {
    // Every column, the sensitive one too.
    rpc: 'Retrieve',
    action: 'data.read_sensitive',
    call: (f) =>
      f.client.unary(
        'retrieve',
        RetrieveRequest.fromPartial({ project: f.project, featureSet: 'fs', wait: true }),
        f.token,
      ),
  },
  {
    rpc: 'Historical',
    action: 'data.read',
    call: (f) =>
      f.client.historical(
        {
          features: [`${f.project}/fs:score`],
          entityTime: 'at',
          entityFormat: DataFormat.DATA_FORMAT_CSV,
          wait: true,
        },
        ENTITIES,
        f.token,
      ),
  },
  {
    rpc: 'InferSchema',
    action: 'featureset.register',
    call: (f) =>
      f.client.inferSchema(
        {
          project: f.project,
          primaryKey: ['id'],
          eventTime: 'ts',
          format: DataFormat.DATA_FORMAT_CSV,
        },
        ROWS,
        f.token,
      ),
  },
  {
    rpc: 'ListJobs',
    action: 'authenticated',
    call: (f) =>
      f.client.unary('listJobs', { state: 0, type: '', pageSize: 0, pageToken: '' }, f.token),
  },
  ...(['own', 'admin'] as const).flatMap((job) => {
    const id = (f: Fixture) => (job === 'own' ? f.ownJob : f.adminJob);
    return [
      {
        rpc: 'GetJob',
        action: 'job.read' as const,
        job,
        call: (f: Fixture) => f.client.unary('getJob', { id: id(f) }, f.token),
      },
      {
        rpc: 'WatchJob',
        action: 'job.read' as const,
        job,
        call: (f: Fixture) => f.client.watch(id(f), f.token),
      },
      {
        rpc: 'DownloadOutput',
        action: 'job.read' as const,
        job,
        call: (f: Fixture) => f.client.download(id(f), f.token),
      },
      {
        rpc: 'CancelJob',
        action: 'job.cancel' as const,
        job,
        call: (f: Fixture) => f.client.unary('cancelJob', { id: id(f) }, f.token),
      },
    ];
  }),
];

function expected(
  action: Action | 'authenticated',
  subject: Subject,
  job: 'own' | 'admin' | undefined,
): boolean {
  if (subject === 'admin' || action === 'authenticated') return true;
  const requirement = ACTION_REQUIREMENTS[action];
  if (requirement === 'self') return job === 'own';
  if (requirement === 'authenticated') return true;
  if (requirement === 'admin' || subject === 'non_member') return false;
  return ROLES.indexOf(subject) >= ROLES.indexOf(requirement);
}

describe('data RPCs × roles through the wire: what the engine’s action table allows', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let store: FeatureStore;
  let server: FeatureStoreServer;
  let client: DataClient;
  let landing: string;
  let counter = 0;

  beforeAll(async () => {
    folder = await tempStore();
    landing = join(folder.dir, 'landing');
    await mkdir(landing);
    await writeFile(join(landing, 'rows.csv'), ROWS);
    store = await openFeatureStore({
      store: join(folder.dir, 'store'),
      sources: { roots: [landing] },
    });
    server = await FeatureStoreServer.start(store, { listen: '127.0.0.1:0' });
    client = new DataClient(server.address);
  }, 60_000);
  afterAll(async () => {
    client?.close();
    await server?.shutdown();
    await store?.close();
    await folder?.remove();
  });

  /** A job of `createdBy` that succeeded with an output file. */
  async function finishedJob(engine: FeatureStoreEngine, createdBy: string): Promise<string> {
    const id = randomUUID();
    const outputKey = `outputs/${id}/out.csv`;
    await engine.drivers.storage.put(outputKey, 'id\n1\n');
    await engine.drivers.metadata.insertJob({
      id,
      type: 'retrieve',
      state: 'succeeded',
      progress: 1,
      request: {},
      result: { outputKey, rowCount: 1, format: 'csv' },
      cancelRequested: false,
      createdBy,
      createdAt: new Date(),
      finishedAt: new Date(),
    });
    return id;
  }

  async function fixture(subject: Subject): Promise<Fixture> {
    const { engine, principal: admin } = store;
    const id = counter++;
    const project = `p${id}`;
    const callerName = `caller_${id}`;
    await engine.projects.create(admin, { name: project });
    await engine.featureSets.register(admin, project, 'fs', definition);
    const ingested = await (
      await engine.offline.ingest(admin, project, 'fs', join(landing, 'rows.csv'))
    ).result;
    await engine.access.createUser(admin, { name: callerName, admin: subject === 'admin' });
    if (subject !== 'non_member' && subject !== 'admin') {
      await engine.access.grant(admin, project, callerName, subject);
    }
    const caller = await engine.access.principalFor(callerName);
    const { secret } = await engine.access.createToken(admin, { name: 'rpc', user: callerName });
    return {
      engine,
      client,
      caller,
      token: secret,
      project,
      ingestionId: ingested.ingestionId,
      ownJob: await finishedJob(engine, caller.userId),
      adminJob: await finishedJob(engine, admin.userId),
      landing,
    };
  }

  for (const { rpc, action, job, call } of RPCS) {
    for (const subject of SUBJECTS) {
      const allowed = expected(action, subject, job);
      const whose = job === undefined ? '' : ` (${job === 'own' ? 'its own' : "the admin's"} job)`;
      it(`${rpc}${whose} by ${subject}: ${allowed ? 'allowed' : 'PERMISSION_DENIED'}`, async () => {
        const f = await fixture(subject);
        const outcome = call(f);
        if (allowed) await outcome;
        else {
          const error = (await outcome.then(
            () => expect.fail('the call succeeded'),
            (rejected: unknown) => rejected,
          )) as ServiceError;
          expect(error.code).toBe(status.PERMISSION_DENIED);
        }
      }, 30_000);
    }
  }

  it('statistics of a sensitive feature are withheld from a consumer, shown to a sensitive consumer', async () => {
    for (const [subject, withheld] of [
      ['consumer', ['secret']],
      ['sensitive_consumer', []],
    ] as const) {
      const f = await fixture(subject);
      const ingestion = await f.client.unary<Ingestion>(
        'getIngestion',
        { project: f.project, featureSet: 'fs', ingestionId: f.ingestionId, version: '' },
        f.token,
      );
      expect(ingestion.statisticsWithheld).toEqual(withheld);
      expect(Object.keys(ingestion.statistics).includes('secret')).toBe(withheld.length === 0);
    }
  }, 30_000);
});
