import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { UnavailableError, ValidationError } from '@featurestore/core';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureStoreServer } from '../src/grpc/featurestore-server.js';
import { HealthStatus, ServingStatus } from '../src/grpc/health-service.js';
import { type HttpRoute, sendJson, startHttpServer } from '../src/http/http-server.js';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { serverReadiness } from '../src/observability/readiness.js';
import { createLogger } from '../src/worker-log.js';
import { CuttableProxy } from './cuttable-proxy.js';
import { cli, spawnSource, tempStore, until } from './helpers.js';
import { httpCall } from './http-test-client.js';
import { selfSignedCertificate, TEST_SERVER_NAME } from './self-signed-certificate.js';

const silent = createLogger('silent');

describe('the HTTP port of the server', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let store: FeatureStore;
  beforeAll(async () => {
    folder = await tempStore();
    store = await openFeatureStore({ store: join(folder.dir, 'store') });
  });
  afterAll(async () => {
    await store?.close();
    await folder?.remove();
  });

  it('serves /healthz, /readyz and /metrics beside gRPC, 404 and 405 as JSON errors, and the given routes', async () => {
    const echo: HttpRoute = {
      method: 'POST',
      path: '/v1/echo',
      async handle(request, response) {
        let body = '';
        for await (const chunk of request) body += chunk;
        sendJson(response, 200, { echoed: JSON.parse(body) });
      },
    };
    const refuses: HttpRoute = {
      method: 'GET',
      path: '/v1/refuses',
      async handle() {
        throw new ValidationError('the field "keys" is missing: send at least one key', {
          details: { field: 'keys' },
        });
      },
    };
    const quotes: HttpRoute = {
      method: 'GET',
      path: '/v1/quotes',
      async handle() {
        throw new UnavailableError(
          'redis://:hunter2@cache:6379 does not answer: is Redis running?',
          { details: { key: 9_007_199_254_740_993n } },
        );
      },
    };
    const server = await FeatureStoreServer.start(store, {
      listen: '127.0.0.1:0',
      httpListen: '127.0.0.1:0',
      httpRoutes: [echo, refuses, quotes],
      logger: silent,
    });
    try {
      const base = `http://${server.httpAddress}`;
      const healthz = await httpCall(`${base}/healthz`);
      expect(healthz.status).toBe(200);
      expect(healthz.json()).toEqual({ status: 'ok' });

      const readyz = await httpCall(`${base}/readyz`);
      expect(readyz.status).toBe(200);
      expect(readyz.json()).toEqual({
        status: 'ready',
        checks: { grpc: 'ok', metadata: 'ok', 'online store': 'ok' },
      });

      const metrics = await httpCall(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers['content-type']).toContain('text/plain');

      const missing = await httpCall(`${base}/nothing?x=1`);
      expect(missing.status).toBe(404);
      expect(missing.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(missing.json()).toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringContaining('no endpoint /nothing here'),
        details: { path: '/nothing' },
      });

      const wrongMethod = await httpCall(`${base}/metrics`, { method: 'POST', body: '{}' });
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.allow).toBe('GET');
      expect(wrongMethod.json()).toMatchObject({
        code: 'METHOD_NOT_ALLOWED',
        message: '/metrics takes GET, not POST',
      });

      const echoed = await httpCall(`${base}/v1/echo`, {
        method: 'POST',
        body: JSON.stringify({ keys: [1] }),
      });
      expect(echoed.status).toBe(200);
      expect(echoed.json()).toEqual({ echoed: { keys: [1] } });

      const refused = await httpCall(`${base}/v1/refuses`);
      expect(refused.status).toBe(400);
      expect(refused.json()).toEqual({
        code: 'VALIDATION',
        message: 'the field "keys" is missing: send at least one key',
        details: { field: 'keys' },
      });
      // An int64 in the details, a password in the message: a string, and blanked.
      const quoted = await httpCall(`${base}/v1/quotes`);
      expect(quoted.status).toBe(503);
      expect(quoted.json()).toEqual({
        code: 'UNAVAILABLE',
        message: 'redis://:***@cache:6379 does not answer: is Redis running?',
        details: { key: '9007199254740993' },
      });
    } finally {
      await server.shutdown();
    }
    await expect(httpCall(`http://${server.httpAddress}/healthz`)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });

  it('refuses plaintext off loopback without --insecure, and stops the gRPC server it came with', async () => {
    await expect(
      FeatureStoreServer.start(store, {
        listen: '127.0.0.1:0',
        httpListen: '0.0.0.0:0',
        logger: silent,
      }),
    ).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining('--http-listen 0.0.0.0:0 is reachable from other machines'),
      details: { field: 'http-listen', value: '0.0.0.0:0' },
    });
    await expect(startHttpServer({ listen: 'localhost' })).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining('--http-listen "localhost" is not HOST:PORT'),
    });
    const insecure = await startHttpServer({ listen: '0.0.0.0:0', insecure: true });
    try {
      const port = insecure.address.split(':').at(-1);
      expect((await httpCall(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      await insecure.close();
    }
  });

  it('serves HTTPS with the gRPC server’s certificate, off loopback without --insecure', async () => {
    const pem = await selfSignedCertificate(folder.dir);
    const server = await FeatureStoreServer.start(store, {
      listen: '0.0.0.0:0',
      httpListen: '0.0.0.0:0',
      tls: pem,
      logger: silent,
    });
    try {
      const port = server.httpAddress!.split(':').at(-1);
      const answer = await httpCall(`https://127.0.0.1:${port}/readyz`, {
        ca: pem.cert,
        servername: TEST_SERVER_NAME,
      });
      expect(answer.status).toBe(200);
      // No plaintext on the TLS port: the server answers a TLS alert or hangs up.
      await expect(httpCall(`http://127.0.0.1:${port}/readyz`)).rejects.toThrow();
    } finally {
      await server.shutdown();
    }
  });

  it('lets a request in flight finish when the server shuts down', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inFlight = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const slow: HttpRoute = {
      method: 'GET',
      path: '/v1/slow',
      async handle(_request, response) {
        entered();
        await released;
        sendJson(response, 200, { finished: true });
      },
    };
    const server = await FeatureStoreServer.start(store, {
      listen: '127.0.0.1:0',
      httpListen: '127.0.0.1:0',
      httpRoutes: [slow],
      logger: silent,
    });
    const answer = httpCall(`http://${server.httpAddress}/v1/slow`);
    await inFlight;
    let stopped = false;
    const shutdown = server.shutdown().then(() => {
      stopped = true;
    });
    // Refused while draining: no new connection is accepted.
    await expect(httpCall(`http://${server.httpAddress}/healthz`)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    expect(stopped).toBe(false);
    release();
    expect((await answer).json()).toEqual({ finished: true });
    await shutdown;
  });

  it('reports not ready while draining', () => {
    const health = new HealthStatus(['featurestore.v1.CoreService']);
    const readiness = serverReadiness(() => health.get('') === ServingStatus.SERVING, {
      down: [],
      outages: {},
    });
    expect(readiness()).toEqual({ ready: true, checks: { grpc: 'ok' } });
    health.drain();
    expect(readiness()).toEqual({
      ready: false,
      checks: { grpc: 'not serving: the server is draining' },
    });
  });
});

describe('/readyz and the backends', () => {
  it('is 503 naming the online store while Redis is unreachable, and ready again once it is back', async () => {
    const proxy = new CuttableProxy(serviceEnv('FEATURESTORE_TEST_REDIS_URL'));
    await proxy.open();
    const folder = await tempStore();
    const store = await openFeatureStore({
      store: folder.dir,
      online: `redis://127.0.0.1:${proxy.port}`,
    });
    const server = await FeatureStoreServer.start(store, {
      listen: '127.0.0.1:0',
      httpListen: '127.0.0.1:0',
      logger: silent,
      backendProbeIntervalMs: 50,
    });
    try {
      const readyz = () => httpCall(`http://${server.httpAddress}/readyz`);
      expect((await readyz()).status).toBe(200);
      await proxy.cut();
      await until(async () => (await readyz()).status === 503, '/readyz to turn 503', 20_000);
      expect((await readyz()).json()).toEqual({
        status: 'not ready',
        checks: { grpc: 'ok', metadata: 'ok', 'online store': 'unreachable at the last probe' },
      });
      // Liveness is the process's alone: restarting it would not bring Redis back.
      expect((await httpCall(`http://${server.httpAddress}/healthz`)).status).toBe(200);
      await proxy.open();
      await until(async () => (await readyz()).status === 200, '/readyz to turn 200', 30_000);
    } finally {
      await server.shutdown();
      await store.close();
      await proxy.cut();
      await folder.remove();
    }
  }, 90_000);
});

describe('featurestore serve --http-listen (a child process)', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    folder = await tempStore();
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await folder?.remove();
  });

  /** `featurestore serve` with `httpListen`, once it printed where gRPC listens. */
  async function serve(httpListen: string): Promise<{ child: ChildProcess; stdout: () => string }> {
    const child = spawnSource(new URL('../src/cli/main.ts', import.meta.url), [
      '--store',
      folder.dir,
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--http-listen',
      httpListen,
    ]);
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    await until(
      () => {
        if (child.exitCode !== null) throw new Error(`featurestore serve exited: ${stderr}`);
        return /^featurestore serving .* on \S+ \(/m.test(stdout);
      },
      'featurestore serve to listen',
      60_000,
    );
    return { child, stdout: () => stdout };
  }

  it('serves the HTTP port with the gRPC server and closes it on SIGTERM; off serves none', async () => {
    const served = await serve('127.0.0.1:0');
    const address = /^featurestore HTTP \(.*\) on (\S+) \(plaintext\)$/m.exec(served.stdout())?.[1];
    expect(address, served.stdout()).toBeDefined();
    expect((await httpCall(`http://${address}/healthz`)).status).toBe(200);
    expect((await httpCall(`http://${address}/readyz`)).status).toBe(200);
    const exited = once(served.child, 'exit');
    served.child.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
    await expect(httpCall(`http://${address}/healthz`)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });

    const off = await serve('off');
    expect(off.stdout()).not.toContain('featurestore HTTP');
    const stopped = once(off.child, 'exit');
    off.child.kill('SIGTERM');
    expect(await stopped).toEqual([0, null]);
  }, 120_000);

  it('refuses a plaintext HTTP port off loopback before any token is printed', async () => {
    const other = await tempStore();
    try {
      const refused = await cli(
        other.dir,
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--http-listen',
        '0.0.0.0:0',
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('--http-listen 0.0.0.0:0 is reachable from other machines');
      expect(refused.stdout).not.toMatch(/fst_/);
    } finally {
      await other.remove();
    }
  }, 60_000);
});
