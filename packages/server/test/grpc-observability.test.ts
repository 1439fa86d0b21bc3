import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { ONLINE_INGEST_TOPIC } from '@featurestore/core';
import { IngestRequest } from '@featurestore/protocol/featurestore/v1/data';
import { HealthService } from '@featurestore/protocol/grpc/health/v1/health';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byteSize } from '../src/cli/limit-options.js';
import { createFirstAdminToken } from '../src/first-admin-token.js';
import { FeatureStoreServer } from '../src/grpc/featurestore-server.js';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { MAX_COUNTED_LAG, ServerMetrics } from '../src/observability/server-metrics.js';
import { createLogger, workerReports } from '../src/worker-log.js';
import { ServingStatus, TestClient } from './grpc-client.js';
import { bearer, DataClient } from './grpc-data-client.js';
import { cli, tempStore } from './helpers.js';
import { httpCall } from './http-test-client.js';

const CREATE_PROJECT = '/featurestore.v1.CoreService/CreateProject';
const GET_PROJECT = '/featurestore.v1.CoreService/GetProject';
const LIST_PROJECTS = '/featurestore.v1.CoreService/ListProjects';
const INGEST = '/featurestore.v1.CoreService/Ingest';

/** A logger whose JSON lines land in `lines`. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  return { logger, lines };
}

/** The status a call failed with. */
async function failure(call: Promise<unknown>): Promise<ServiceError> {
  return (await call.then(
    () => expect.fail('the call succeeded'),
    (rejected: unknown) => rejected,
  )) as ServiceError;
}

/** The value of one sample line of the Prometheus text (`name{labels} value`). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the server’s call log, metrics and limits', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let store: FeatureStore;
  let admin: string;
  let adminName: string;
  const log = capturedLogger();
  const metrics = new ServerMetrics();
  let server: FeatureStoreServer;
  let client: TestClient;

  beforeAll(async () => {
    folder = await tempStore();
    store = await openFeatureStore({
      store: join(folder.dir, 'store'),
      sources: { roots: [join(folder.dir, 'landing')] },
    });
    admin = (await createFirstAdminToken(store.engine, undefined))!.secret;
    adminName = (await store.authenticate(admin)).name;
    server = await FeatureStoreServer.start(store, {
      listen: '127.0.0.1:0',
      httpListen: '127.0.0.1:0',
      logger: log.logger,
      metrics,
      limits: { maxReceiveMessageBytes: 4096, maxSendMessageBytes: 64 * 1024 },
    });
    client = new TestClient(server.address);
  });
  afterAll(async () => {
    client?.close();
    await server?.shutdown();
    await store?.close();
    await folder?.remove();
  });

  const callLines = (method: string) => log.lines.filter((line) => line.method === method);

  it('logs one line per call: method, principal, code, duration in ms and peer', async () => {
    await client.core('createProject', { name: 'logged' }, admin);
    const missing = await failure(client.core('getProject', { name: 'nowhere' }, admin));
    expect(missing.code).toBe(status.NOT_FOUND);
    await failure(client.core('listProjects', {}, undefined));

    const [created] = callLines(CREATE_PROJECT);
    expect(created).toMatchObject({
      level: 30,
      msg: 'call',
      method: CREATE_PROJECT,
      principal: adminName,
      code: 'OK',
      peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
    expect(created!.durationMs).toBeTypeOf('number');
    expect(created!.durationMs).toBeGreaterThan(0);
    expect(created).not.toHaveProperty('message');
    expect(callLines(GET_PROJECT)).toEqual([
      expect.objectContaining({
        principal: adminName,
        code: 'NOT_FOUND',
        message: expect.stringContaining('nowhere'),
      }),
    ]);
    // No token: nobody to name.
    const [anonymous] = callLines(LIST_PROJECTS);
    expect(anonymous).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(anonymous).not.toHaveProperty('principal');
  });

  it('serves Prometheus metrics: calls by method and code, latency, jobs, backends, lag, worker errors, process', async () => {
    await client.core('createProject', { name: 'metered' }, admin);
    for (let call = 0; call < 3; call++) {
      await client.core('getProject', { name: 'metered' }, admin);
    }
    await failure(client.core('getProject', { name: 'unmetered' }, admin));
    // A job still running (as another process would have it) and a pushed row nobody synced.
    await store.engine.drivers.metadata.insertJob({
      id: randomUUID(),
      type: 'materialize',
      state: 'running',
      progress: 0,
      request: {},
      cancelRequested: false,
      createdBy: (await store.authenticate(admin)).userId,
      createdAt: new Date(),
    });
    await store.engine.drivers.online!.queue.publish([
      { topic: ONLINE_INGEST_TOPIC, key: 'k', value: new TextEncoder().encode('{}') },
    ]);
    const reports = metrics.countingReports(workerReports(createLogger('silent')));
    reports.onError(new Error('the online store refused a batch'));

    // HTTP requests: counted all, logged but for the probes.
    expect((await httpCall(`http://${server.httpAddress}/healthz`)).status).toBe(200);
    expect((await httpCall(`http://${server.httpAddress}/wp-login.php`)).status).toBe(404);
    await expect
      .poll(() => log.lines.filter((line) => line.msg === 'request'))
      .toEqual([
        expect.objectContaining({
          method: 'GET',
          path: 'unknown',
          status: 404,
          peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        }),
      ]);
    const answer = await httpCall(`http://${server.httpAddress}/metrics`);
    expect(answer.status).toBe(200);
    const text = answer.body;
    expect(
      sample(text, `featurestore_grpc_calls_total{method="${GET_PROJECT}",code="OK"}`),
    ).toBeGreaterThanOrEqual(3);
    expect(
      sample(text, `featurestore_grpc_calls_total{method="${GET_PROJECT}",code="NOT_FOUND"}`),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, `featurestore_grpc_call_duration_seconds_count{method="${CREATE_PROJECT}"}`),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(
        text,
        `featurestore_grpc_call_duration_seconds_bucket{le="+Inf",method="${GET_PROJECT}"}`,
      ),
    ).toBeGreaterThanOrEqual(4);
    expect(
      sample(text, 'featurestore_http_requests_total{method="GET",path="/healthz",status="200"}'),
    ).toBe(1);
    expect(
      sample(text, 'featurestore_http_requests_total{method="GET",path="unknown",status="404"}'),
    ).toBe(1);
    expect(sample(text, 'featurestore_http_request_duration_seconds_count{path="/healthz"}')).toBe(
      1,
    );
    expect(sample(text, 'featurestore_jobs{type="materialize",state="running"}')).toBe(1);
    expect(sample(text, 'featurestore_backend_up{backend="metadata"}')).toBe(1);
    expect(sample(text, 'featurestore_backend_up{backend="online store"}')).toBe(1);
    expect(sample(text, 'featurestore_backend_outages_total{backend="metadata"}')).toBe(0);
    expect(sample(text, 'featurestore_offline_sync_lag_messages')).toBe(1);
    expect(sample(text, 'featurestore_offline_sync_lag_messages')).toBeLessThan(MAX_COUNTED_LAG);
    expect(sample(text, 'featurestore_online_worker_errors_total{kind="batch"}')).toBe(1);
    expect(sample(text, 'featurestore_metadata_degraded')).toBe(0);
    expect(sample(text, 'featurestore_metadata_stale_served_total')).toBe(0);
    expect(text).toMatch(/^featurestore_process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^featurestore_nodejs_heap_size_used_bytes \d/m);
    // Everything is named featurestore_…
    const names = text
      .split('\n')
      .filter((line) => line.startsWith('# TYPE '))
      .map((line) => line.split(' ')[2]!);
    expect(names.filter((name) => !name.startsWith('featurestore_'))).toEqual([]);
  });

  it('answers a request over the receive limit with RESOURCE_EXHAUSTED naming the limit and its flag', async () => {
    const tooBig = await failure(
      client.core('createProject', { name: 'big', description: 'x'.repeat(10_000) }, admin),
    );
    expect(tooBig.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(tooBig.details).toMatch(
      /^the request message is \d+ bytes, over this server's limit of 4096 bytes \(featurestore serve --max-receive-message-size\)/,
    );
    const { projects } = await client.core('listProjects', {}, admin);
    expect(projects.map((project) => project.name)).not.toContain('big');
    expect(callLines(CREATE_PROJECT).at(-1)).toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
      message: tooBig.details,
    });
  });

  it('answers a response over the send limit with RESOURCE_EXHAUSTED naming the limit and its flag', async () => {
    for (let project = 0; project < 40; project++) {
      await client.core(
        'createProject',
        { name: `wide_${project}`, description: 'd'.repeat(2000) },
        admin,
      );
    }
    const tooBig = await failure(client.core('listProjects', { pageSize: 100 }, admin));
    expect(tooBig.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(tooBig.details).toMatch(
      /^the response message would be \d+ bytes, over this server's limit of 65536 bytes \(featurestore serve --max-send-message-size\): ask for less per call/,
    );
    expect(await client.core('listProjects', { pageSize: 5 }, admin)).toMatchObject({
      projects: expect.any(Array),
    });
  });

  it('stops an ingestion whose call’s deadline passes: DEADLINE_EXCEEDED, the job is cancelled, nothing is ingested', async () => {
    await store.engine.projects.create(store.principal, { name: 'deadlines' });
    await store.engine.featureSets.register(store.principal, 'deadlines', 'visits', {
      primaryKey: ['user_id'],
      eventTime: 'ts',
      features: [
        { name: 'user_id', type: 'int64' },
        { name: 'ts', type: 'timestamp' },
        { name: 'page', type: 'string' },
      ],
    });
    // Big enough that its ingestion is still running when a 500 ms deadline passes.
    const rows = 2_000_000;
    const source = join(folder.dir, 'landing', 'visits.csv');
    await mkdir(dirname(source), { recursive: true });
    const line = (row: number) => `${row},2026-01-01T00:00:00Z,/pages/${row % 977}\n`;
    await writeFile(
      source,
      `user_id,ts,page\n${Array.from({ length: rows }, (_, row) => line(row)).join('')}`,
    );
    const data = new DataClient(server.address);
    try {
      const started = Date.now();
      const error = await failure(
        new Promise((resolve, reject) =>
          data.raw.ingest(
            IngestRequest.fromPartial({
              project: 'deadlines',
              featureSet: 'visits',
              source,
              options: { wait: true },
            }),
            bearer(admin),
            { deadline: new Date(started + 500) },
            (failed, response) => (failed ? reject(failed) : resolve(response)),
          ),
        ),
      );
      expect(error.code, error.details).toBe(status.DEADLINE_EXCEEDED);
      // The call's abort reached the engine: the job it waited on was cancelled.
      const job = async () =>
        (await store.engine.jobs.list(store.principal, { type: 'ingest' })).items.find(
          (candidate) => candidate.request.project === 'deadlines',
        );
      await expect.poll(async () => (await job())?.state, { timeout: 60_000 }).toBe('cancelled');
      expect(await store.engine.offline.ingestions(store.principal, 'deadlines', 'visits')).toEqual(
        [],
      );
      expect(log.lines.filter((entry) => entry.method === INGEST).at(-1)).toMatchObject({
        code: 'DEADLINE_EXCEEDED',
        principal: adminName,
      });
    } finally {
      data.raw.close();
    }
  }, 120_000);
});

describe('concurrent calls per connection', () => {
  it('holds a connection to --max-concurrent-streams calls at once; another connection is not held', async () => {
    const folder = await tempStore();
    const store = await openFeatureStore({ store: folder.dir });
    const server = await FeatureStoreServer.start(store, {
      listen: '127.0.0.1:0',
      logger: createLogger('silent'),
      limits: { maxConcurrentStreams: 1 },
    });
    // grpc-js shares one connection between clients of a target unless told otherwise.
    const ownConnection = { 'grpc.use_local_subchannel_pool': 1 };
    const busy = new Client(server.address, credentials.createInsecure(), ownConnection);
    const other = new TestClient(server.address, credentials.createInsecure(), ownConnection);
    try {
      // A health Watch stays open: the connection's one stream.
      const watch = busy.makeServerStreamRequest(
        HealthService.watch.path,
        HealthService.watch.requestSerialize,
        HealthService.watch.responseDeserialize,
        { service: '' },
      );
      watch.on('error', () => undefined); // cancelled below
      await new Promise((resolve) => watch.once('data', resolve));
      const check = new Promise<ServiceError | null>((resolve) => {
        busy.makeUnaryRequest(
          HealthService.check.path,
          HealthService.check.requestSerialize,
          HealthService.check.responseDeserialize,
          { service: '' },
          new Metadata(),
          { deadline: new Date(Date.now() + 1000) },
          (error) => resolve(error),
        );
      });
      expect((await check)?.code).toBe(status.DEADLINE_EXCEEDED);
      // The limit is per connection: another client is served.
      expect(await other.health()).toBe(ServingStatus.SERVING);
      watch.cancel();
    } finally {
      busy.close();
      other.close();
      await server.shutdown();
      await store.close();
      await folder.remove();
    }
  });
});

describe('featurestore serve limit options', () => {
  it('takes sizes in bytes, KiB, MiB or GiB and refuses anything else, naming the option', async () => {
    const folder = await tempStore();
    try {
      const help = await cli(folder.dir, 'serve', '--help');
      for (const option of [
        '--max-receive-message-size',
        '--max-send-message-size',
        '--max-concurrent-streams',
        '--http-listen',
        '--log-level',
      ]) {
        expect(help.stdout).toContain(option);
      }
      const size = await cli(folder.dir, 'serve', '--max-receive-message-size', '16 elephants');
      expect(size.code).toBe(1);
      expect(size.stderr).toContain(
        '--max-receive-message-size "16 elephants" is not a size from 1 byte to 2GiB',
      );
      const streams = await cli(folder.dir, 'serve', '--max-concurrent-streams', '0');
      expect(streams.code).toBe(1);
      expect(streams.stderr).toContain(
        '--max-concurrent-streams "0" is not a whole number above zero',
      );
      expect(byteSize('--max-send-message-size')('16MiB')).toBe(16 * 1024 * 1024);
      expect(byteSize('--max-send-message-size')('512KiB')).toBe(512 * 1024);
      expect(byteSize('--max-send-message-size')('1000')).toBe(1000);
    } finally {
      await folder.remove();
    }
  });
});
