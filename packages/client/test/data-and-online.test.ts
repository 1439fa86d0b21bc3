import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FeatureSetDefinition,
  FeatureStoreClient,
  type Job,
  NotFoundError,
  ValidationError,
} from '../src/index.js';
import { type RunningServer, startTestServer } from './test-server.js';

const definition: FeatureSetDefinition = {
  primaryKey: ['user_id'],
  eventTime: 'ts',
  features: [
    { name: 'user_id', type: 'int64' },
    { name: 'ts', type: 'timestamp' },
    { name: 'amount', type: 'float64' },
    { name: 'seen', type: 'timestamp' },
    { name: 'labels', type: 'list<string>' },
  ],
};

const day1 = [
  'user_id,ts,amount,seen,labels',
  '1,2026-01-01T00:00:00.000Z,10.5,2026-01-01T00:00:00.000Z,"[""a""]"',
  '2,2026-01-01T00:00:00.000Z,20,2026-01-01T00:00:00.000Z,"[]"',
].join('\n');
const day2 = [
  'user_id,ts,amount,seen,labels',
  '1,2026-01-02T00:00:00.000Z,11.5,2026-01-02T00:00:00.000Z,"[""b""]"',
].join('\n');

describe('FeatureStoreClient: data, jobs and online against a real server', () => {
  let server: RunningServer;
  let client: FeatureStoreClient;
  let dir: string;

  beforeAll(async () => {
    server = await startTestServer();
    client = new FeatureStoreClient({ endpoint: server.address, token: server.adminToken });
    dir = await mkdtemp(join(tmpdir(), 'featurestore-client-data-'));
    await writeFile(join(dir, 'day1.csv'), `${day1}\n`);
    await client.projects.create({ name: 'shop' });
    await client.featureSets.register('shop', 'payments', definition);
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  let first: Job;

  it('ingests an uploaded file and a stream, idempotently, and lists the history', async () => {
    first = await client.offline.ingest(
      'shop',
      'payments',
      { path: join(dir, 'day1.csv') },
      {
        wait: true,
      },
    );
    expect(first).toMatchObject({ type: 'ingest', state: 'succeeded', progress: 1 });
    expect(first.result).toMatchObject({ rowCount: 2 });

    const fromStream = () =>
      client.offline.ingest(
        'shop',
        'payments',
        { stream: Readable.from([Buffer.from(`${day2}\n`)]), fileName: 'day2.csv' },
        { wait: true, idempotencyKey: 'day2' },
      );
    const second = await fromStream();
    expect(second.state).toBe('succeeded');
    const retried = await fromStream();
    expect(retried.result?.ingestionId).toBe(second.result?.ingestionId);

    const history = await client.offline.ingestions('shop', 'payments');
    expect(history.map((ingestion) => [ingestion.source, ingestion.rowCount])).toEqual([
      ['upload:day1.csv', 2],
      ['upload:day2.csv', 1],
    ]);
    const one = await client.offline.ingestion('shop', 'payments', history[0]!.id);
    expect(one.statistics.amount).toMatchObject({ count: 2, nulls: 0, min: 10.5, max: 20 });

    expect(await client.jobs.get(first.id)).toMatchObject({ id: first.id, state: 'succeeded' });
    const jobs = await client.jobs.list({ type: 'ingest' });
    expect(jobs.items.map((job) => job.id)).toContain(first.id);
    expect((await client.jobs.list({ state: 'failed' })).items).toEqual([]);
    // Cancelling a job that has ended changes nothing.
    expect(await client.jobs.cancel(first.id)).toMatchObject({ state: 'succeeded' });
  });

  it('retrieves and downloads to a path and to a stream; historical with uploaded entities', async () => {
    const retrieved = await client.offline.retrieve('shop', 'payments', {
      latest: true,
      wait: true,
    });
    expect(retrieved.state).toBe('succeeded');
    const out = join(dir, 'latest.csv');
    const bytes = await client.offline.download(retrieved.id, out);
    const text = await readFile(out, 'utf8');
    expect(bytes).toBe(Buffer.byteLength(text));
    expect(text.trim().split('\n')).toHaveLength(3);
    expect(text).toContain('11.5');

    const sink = new PassThrough();
    const collected: Buffer[] = [];
    sink.on('data', (chunk: Buffer) => collected.push(chunk));
    await client.offline.download(retrieved.id, sink);
    expect(Buffer.concat(collected).toString('utf8')).toBe(text);

    const training = await client.offline.historical({
      features: ['shop/payments:amount'],
      entityTime: 'at',
      entities: {
        stream: Readable.from(['user_id,at\n1,2026-01-01T12:00:00Z\n1,2026-01-03T00:00:00Z\n']),
        fileName: 'entities.csv',
      },
      wait: true,
    });
    expect(training.state).toBe('succeeded');
    const trainingFile = join(dir, 'training.csv');
    await client.offline.download(training.id, { path: trainingFile });
    const rows = (await readFile(trainingFile, 'utf8')).trim().split('\n');
    expect(rows).toHaveLength(3);
    expect(rows[1]).toContain('10.5');
    expect(rows[2]).toContain('11.5');
  });

  it('a failed download leaves no file behind', async () => {
    const out = join(dir, 'never.csv');
    await expect(
      client.offline.download('00000000-0000-4000-8000-000000000000', out),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(readFile(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('an upload to an unknown feature set fails before the bytes, with NOT_FOUND', async () => {
    const error = await client.offline
      .ingest('shop', 'nothing', { path: join(dir, 'day1.csv') })
      .catch((rejected: unknown) => rejected);
    expect(error).toBeInstanceOf(NotFoundError);
    const missingFile = await client.offline
      .ingest('shop', 'payments', { path: join(dir, 'missing.csv') })
      .catch((rejected: unknown) => rejected);
    expect(missingFile).toBeInstanceOf(ValidationError);
    expect((missingFile as Error).message).toMatch(/missing\.csv cannot be read/);
  });

  it('pushes rows and reads them back online, typed as the engine returns them', async () => {
    const pushed = await client.online.push(
      'shop',
      'payments',
      [
        {
          user_id: 7,
          ts: new Date('2026-02-01T00:00:00Z'),
          amount: 3.25,
          seen: '2026-02-01T10:00:00.000Z',
          labels: ['x', 'y'],
        },
        { user_id: 8, ts: '2026-02-01T00:00:00Z', amount: 4, seen: null, labels: [] },
      ],
      { waitApplied: true, waitSynced: true },
    );
    expect(pushed).toMatchObject({ rows: 2, featureSet: 'shop/payments' });
    expect(pushed.positions).toHaveLength(2);

    const rows = await client.online.getOnlineFeatures({
      features: ['shop/payments:amount', 'shop/payments:seen', 'shop/payments:labels'],
      entities: [{ user_id: 7 }, { user_id: 8 }, { user_id: 999 }],
    });
    expect(rows).toEqual([
      {
        user_id: 7,
        payments__amount: 3.25,
        payments__seen: '2026-02-01T10:00:00.000Z',
        payments__labels: ['x', 'y'],
      },
      { user_id: 8, payments__amount: 4, payments__seen: null, payments__labels: [] },
      { user_id: 999, payments__amount: null, payments__seen: null, payments__labels: null },
    ]);
    // waitSynced: the rows are committed offline as well when the push answers.
    const history = await client.offline.ingestions('shop', 'payments');
    expect(history.at(-1)).toMatchObject({ rowCount: 2 });
    // The same read in process answers the same rows.
    expect(
      await server.store.engine.online!.getOnlineFeatures(server.store.principal, {
        features: ['shop/payments:amount', 'shop/payments:seen', 'shop/payments:labels'],
        entities: [{ user_id: 7 }, { user_id: 8 }, { user_id: 999 }],
      }),
    ).toEqual(rows);
  });

  it('materializes as a job, watched until it ends', async () => {
    const { jobId } = await client.online.materialize('shop', 'payments');
    const states: string[] = [];
    for await (const job of client.jobs.watch(jobId)) states.push(job.state);
    expect(states.at(-1)).toBe('succeeded');
    expect((await client.jobs.wait(jobId)).state).toBe('succeeded');
    const [row] = await client.online.getOnlineFeatures({
      features: ['shop/payments:amount'],
      entities: [{ user_id: 2 }],
    });
    expect(row).toEqual({ user_id: 2, payments__amount: 20 });
  });

  it('reverts an ingestion as a job', async () => {
    const reverted = await client.offline.revert(
      'shop',
      'payments',
      String(first.result?.ingestionId),
      { wait: true },
    );
    expect(reverted.state).toBe('succeeded');
    const history = await client.offline.ingestions('shop', 'payments');
    expect(history[0]).toMatchObject({ state: 'reverted' });
  });

  it('infers a schema from an uploaded sample', async () => {
    const inferred = await client.schemaInference.infer(
      'shop',
      { path: join(dir, 'day1.csv') },
      { primaryKey: ['user_id'], eventTime: 'ts' },
    );
    expect(inferred.rowCount).toBe(2);
    expect(inferred.definition).toMatchObject({ primaryKey: ['user_id'], eventTime: 'ts' });
    expect(inferred.definition.features.map((feature) => feature.name)).toEqual([
      'user_id',
      'ts',
      'amount',
      'seen',
      'labels',
    ]);
  });
});
