import {
  type CoreServiceServer,
  CoreServiceService,
  type Project,
} from '@featurestore/protocol/featurestore/v1/core';
import { type Job, JobState } from '@featurestore/protocol/featurestore/v1/data';
import { Server, ServerCredentials, type sendUnaryData, status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DeadlineExceededError,
  FeatureStoreClient,
  type FeatureStoreClientOptions,
  UnavailableError,
} from '../src/index.js';

const project: Project = {
  id: 'p1',
  name: 'fraud',
  description: '',
  ownerId: 'u1',
  tags: {},
  createdAt: new Date('2026-01-01T00:00:00Z'),
  updatedAt: new Date('2026-01-01T00:00:00Z'),
  revision: 1,
};

const job: Job = {
  id: 'j1',
  type: 'ingest',
  state: JobState.JOB_STATE_PENDING,
  progress: 0,
  message: '',
  requestJson: '{}',
  resultJson: '',
  error: undefined,
  cancelRequested: false,
  createdBy: 'u1',
  projectId: 'p1',
  createdAt: new Date('2026-01-01T00:00:00Z'),
  startedAt: undefined,
  finishedAt: undefined,
};

/**
 * A bare grpc-js server standing in for a Featurestore server whose backends are down: each
 * RPC answers UNAVAILABLE `failures` times, then succeeds; every attempt is counted.
 */
class FlakyServer {
  readonly attempts = new Map<string, number>();
  /** When each attempt arrived (ms since the epoch), by RPC. */
  readonly arrivals = new Map<string, number[]>();
  failures = 0;
  /** Calls this RPC never answers (until the client gives up). */
  hang = new Set<string>();
  readonly #server = new Server();
  address = '';

  async start(): Promise<void> {
    const answer =
      (name: string, response: () => unknown) =>
      (_call: unknown, callback: sendUnaryData<unknown>) => {
        const attempt = (this.attempts.get(name) ?? 0) + 1;
        this.attempts.set(name, attempt);
        this.arrivals.set(name, [...(this.arrivals.get(name) ?? []), Date.now()]);
        if (this.hang.has(name)) return;
        if (attempt <= this.failures) {
          callback({
            code: status.UNAVAILABLE,
            details: `the metadata store is down (${attempt})`,
          });
          return;
        }
        callback(null, response());
      };
    const handlers: Partial<CoreServiceServer> = {
      getProject: answer('getProject', () => project),
      createProject: answer('createProject', () => project),
      listProjects: answer('listProjects', () => ({ projects: [project], nextPageToken: '' })),
      ingest: answer('ingest', () => ({ job })),
    };
    this.#server.addService(CoreServiceService, handlers as CoreServiceServer);
    const port = await new Promise<number>((resolve, reject) =>
      this.#server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    this.address = `127.0.0.1:${port}`;
  }

  reset(failures: number): void {
    this.failures = failures;
    this.attempts.clear();
    this.arrivals.clear();
    this.hang.clear();
  }

  stop(): void {
    this.#server.forceShutdown();
  }
}

describe('retries of idempotent calls and deadlines', () => {
  const server = new FlakyServer();
  const clients: FeatureStoreClient[] = [];
  const clientOf = (options: Partial<FeatureStoreClientOptions> = {}) => {
    const client = new FeatureStoreClient({
      endpoint: server.address,
      token: 'fst_test',
      retry: { initialBackoffMs: 5, maxBackoffMs: 20 },
      ...options,
    });
    clients.push(client);
    return client;
  };

  beforeAll(() => server.start());
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  afterAll(() => server.stop());

  it('retries a read on UNAVAILABLE until it succeeds', async () => {
    server.reset(3);
    const client = clientOf();
    expect(await client.projects.get('fraud')).toMatchObject({ name: 'fraud' });
    expect(server.attempts.get('getProject')).toBe(4);
    expect((await client.projects.list()).items).toHaveLength(1);
    expect(server.attempts.get('listProjects')).toBe(4);
  });

  it('sends a write once: it may have been applied before the answer was lost', async () => {
    server.reset(3);
    const error = await clientOf()
      .projects.create({ name: 'fraud' })
      .catch((rejected: unknown) => rejected);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', message: 'the metadata store is down (1)' });
    expect(server.attempts.get('createProject')).toBe(1);
  });

  it('retries an ingestion by URI only when it carries an idempotency key', async () => {
    server.reset(2);
    const client = clientOf();
    const keyed = await client.offline.ingest('fraud', 'payments', 's3://landing/day1.csv', {
      idempotencyKey: 'day1',
    });
    expect(keyed).toMatchObject({ id: 'j1', state: 'pending' });
    expect(server.attempts.get('ingest')).toBe(3);

    server.reset(2);
    await expect(
      client.offline.ingest('fraud', 'payments', 's3://landing/day1.csv'),
    ).rejects.toBeInstanceOf(UnavailableError);
    expect(server.attempts.get('ingest')).toBe(1);
  });

  it('gives up after maxAttempts with the last error', async () => {
    server.reset(10);
    const error = await clientOf({ retry: { maxAttempts: 3, initialBackoffMs: 5 } })
      .projects.get('fraud')
      .catch((rejected: unknown) => rejected);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', message: 'the metadata store is down (3)' });
    expect(server.attempts.get('getProject')).toBe(3);
  });

  it('ends a call that outlives its deadline with DeadlineExceededError, without retrying it', async () => {
    server.reset(0);
    server.hang.add('getProject');
    const client = clientOf({ deadlineMs: 60_000 });
    const started = Date.now();
    const error = await client.projects
      .get('fraud', { deadlineMs: 200 })
      .catch((rejected: unknown) => rejected);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', grpcCode: status.DEADLINE_EXCEEDED });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(server.attempts.get('getProject')).toBe(1);
  });

  it('the deadline covers the retries: no attempt starts after it', async () => {
    server.reset(1_000);
    const client = clientOf({
      deadlineMs: 300,
      retry: { maxAttempts: 1_000, initialBackoffMs: 50, maxBackoffMs: 50 },
    });
    const started = Date.now();
    const error = await client.projects.get('fraud').catch((rejected: unknown) => rejected);
    expect(error).toBeInstanceOf(UnavailableError);
    const arrivals = server.arrivals.get('getProject') ?? [];
    expect(arrivals.length).toBeGreaterThan(1);
    // Every attempt started within the deadline, none after it however many were allowed
    // (an attempt reaches the server a little after it starts: 100 ms of slack for a busy CI).
    for (const arrival of arrivals) expect(arrival - started).toBeLessThan(300 + 100);
    expect(arrivals.length).toBeLessThan(1_000);
  });

  it('an aborted call ends with CancelledError', async () => {
    server.reset(0);
    server.hang.add('getProject');
    const controller = new AbortController();
    const call = clientOf().projects.get('fraud', { signal: controller.signal });
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});
