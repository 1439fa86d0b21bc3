/**
 * Online reads through the packaged server: GetOnlineFeatures over gRPC and
 * `POST /v1/online/get` over HTTP/JSON, for 1 × 50 and 100 × 50 features (entities ×
 * features), at 1, 16 and 64 concurrent callers, beside, in the same run:
 *   - the in-process engine call (`engine.online.getOnlineFeatures`, no transport),
 *   - a bare grpc-js server returning a prebuilt response of the same size (the same
 *     generated service code, no authentication, no engine), and
 *   - a bare node:http server returning the same JSON (stringified per call).
 * Both servers run in one child process (the real one `--role online` as `featurestore serve`
 * composes it; the bare ones beside it), the callers in this one: p50/p99 latency in ms and
 * requests per second over the whole run of each case.
 *
 *   node --conditions=@featurestore/source --import tsx bench/online-grpc.bench.ts [--seconds 3]
 *
 * Reads the PostgreSQL (metadata) and Redis settings from .services/env (`scripts/services
 * up`); the store gets a metadata schema of its own, dropped at the end with its Redis keys.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { FeatureType } from '@featurestore/core';
import { RedisOnlineStore } from '@featurestore/driver-redis';
import {
  GetOnlineFeaturesRequest,
  type GetOnlineFeaturesResponse,
  type OnlineServiceServer,
  OnlineServiceService,
} from '@featurestore/protocol/featurestore/v1/online';
import { createLogger, type FeatureStore, openFeatureStore } from '@featurestore/server';
import { Client, credentials, Metadata, Server, ServerCredentials } from '@grpc/grpc-js';
import pg from 'pg';
import { createFirstAdminToken } from '../packages/server/src/first-admin-token.js';
import { FeatureStoreServer } from '../packages/server/src/grpc/featurestore-server.js';
import { featureVectorsOf } from '../packages/server/src/grpc/online-messages.js';
import { OnlineOperations } from '../packages/server/src/online-operations.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    serve: { type: 'string' },
  },
});
const SECONDS = Number(args.seconds);
const FEATURES = 50;
const KEYS = 100;
const SHAPES = [1, 100] as const;
const CALLERS = [1, 16, 64] as const;
const WARMUP_MS = 500;

function serviceUrl(name: 'REDIS' | 'POSTGRES'): string {
  const env = readFileSync(new URL('../.services/env', import.meta.url), 'utf8');
  const url = new RegExp(`^FEATURESTORE_TEST_${name}_URL=(.*)$`, 'm').exec(env)?.[1];
  if (!url) throw new Error(`FEATURESTORE_TEST_${name}_URL missing: run scripts/services up`);
  return url;
}

// A realistic mix of types under ~10-character names, as bench/online-redis.bench.ts reads.
const KINDS: FeatureType[] = [
  'float64',
  'float64',
  'int64',
  'string',
  'float64',
  'bool',
  'int64',
  'float64',
];
const names = Array.from({ length: FEATURES }, (_, i) => `feature_${String(i).padStart(2, '0')}`);
const FEATURE_REFS = ['bench/users:*'];

function row(key: number): Record<string, unknown> {
  const values: Record<string, unknown> = { id: key, ts: '2026-01-01T00:00:00.000Z' };
  names.forEach((name, i) => {
    const kind = KINDS[i % KINDS.length];
    values[name] =
      kind === 'float64'
        ? (key * 31 + i) / 7
        : kind === 'int64'
          ? (key * 17 + i) % 100_000
          : kind === 'string'
            ? `merchant_${(key + i) % 5000}`
            : (key + i) % 2 === 0;
  });
  return values;
}

const entitiesOf = (count: number) => Array.from({ length: count }, (_, i) => ({ id: i }));

interface Addresses {
  grpc: string;
  http: string;
  bareGrpc: string;
  bareHttp: string;
}

/** The child: the real server (`--role online`) and the bare ones, until stdin closes. */
async function serve(configText: string, token: string): Promise<void> {
  const store = await openFeatureStore(JSON.parse(configText));
  const server = await FeatureStoreServer.start(store, {
    listen: '127.0.0.1:0',
    httpListen: '127.0.0.1:0',
    role: 'online',
    // One log line per call would weigh on the figures: warnings only.
    logger: createLogger('warn'),
  });
  // Responses of the same sizes as the real ones, built once by the same code.
  const operations = new OnlineOperations(store.engine);
  const principal = await store.authenticate(token);
  const prebuilt = new Map<number, { message: GetOnlineFeaturesResponse; json: object }>();
  for (const count of SHAPES) {
    const output = await operations.get(principal, {
      features: FEATURE_REFS,
      entities: entitiesOf(count),
    });
    prebuilt.set(count, {
      message: { columns: output.columns, rows: featureVectorsOf(output.rows, output.columns) },
      json: output,
    });
  }
  const bare = new Server();
  bare.addService(OnlineServiceService, {
    getOnlineFeatures: (call, callback) =>
      callback(null, prebuilt.get(call.request.entities.length)!.message),
    push: (_call, callback) => callback(null, undefined),
    materialize: (_call, callback) => callback(null, undefined),
  } as OnlineServiceServer);
  const barePort = await new Promise<number>((resolve, reject) =>
    bare.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
  const bareHttp = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { entities: unknown[] };
      // Serialized on every call, as the bare gRPC server encodes its message on every call.
      const text = JSON.stringify(prebuilt.get(body.entities.length)!.json);
      response.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
      });
      response.end(text);
    });
  });
  bareHttp.listen(0, '127.0.0.1');
  await new Promise((resolve) => bareHttp.once('listening', resolve));
  const addresses: Addresses = {
    grpc: server.address,
    http: server.httpAddress!,
    bareGrpc: `127.0.0.1:${barePort}`,
    bareHttp: `127.0.0.1:${(bareHttp.address() as AddressInfo).port}`,
  };
  process.stdout.write(`${JSON.stringify(addresses)}\n`);
  await new Promise((resolve) => process.stdin.on('close', resolve).resume());
  bareHttp.close();
  bare.forceShutdown();
  await server.shutdown();
  await store.close();
}

interface Figures {
  p50: number;
  p99: number;
  perSecond: number;
}

/** `callers` loops calling `call` for SECONDS (after a warm-up): latencies and throughput. */
async function measure(callers: number, call: (caller: number) => Promise<unknown>) {
  const loop = async (caller: number, until: number, samples?: number[]) => {
    while (Date.now() < until) {
      const start = process.hrtime.bigint();
      await call(caller);
      samples?.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  };
  const warm = Date.now() + WARMUP_MS;
  await Promise.all(Array.from({ length: callers }, (_, c) => loop(c, warm)));
  const samples: number[] = [];
  const started = process.hrtime.bigint();
  const until = Date.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: callers }, (_, c) => loop(c, until, samples)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  samples.sort((a, b) => a - b);
  return {
    p50: samples[Math.floor(samples.length * 0.5)]!,
    p99: samples[Math.floor(samples.length * 0.99)]!,
    perSecond: samples.length / seconds,
  } satisfies Figures;
}

function grpcCaller(address: string, token: string | undefined, count: number) {
  const clients: Client[] = [];
  const request = GetOnlineFeaturesRequest.fromPartial({
    features: FEATURE_REFS,
    entities: entitiesOf(count).map(({ id }) => ({ values: { id: { int64Value: String(id) } } })),
  });
  const metadata = new Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  const { path, requestSerialize, responseDeserialize } = OnlineServiceService.getOnlineFeatures;
  return {
    call(caller: number): Promise<GetOnlineFeaturesResponse> {
      clients[caller] ??= new Client(address, credentials.createInsecure());
      return new Promise((resolve, reject) =>
        clients[caller]!.makeUnaryRequest(
          path,
          requestSerialize,
          responseDeserialize,
          request,
          metadata,
          (error, response) => (error ? reject(error) : resolve(response!)),
        ),
      );
    },
    close: () => {
      for (const client of clients) client?.close();
    },
  };
}

function httpCaller(address: string, token: string | undefined, count: number) {
  const [host, port] = address.split(':') as [string, string];
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const body = JSON.stringify({ features: FEATURE_REFS, entities: entitiesOf(count) });
  const headers = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
  return {
    call(): Promise<unknown> {
      return new Promise((resolve, reject) => {
        const request = httpRequest(
          { host, port: Number(port), path: '/v1/online/get', method: 'POST', agent, headers },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => {
              if (response.statusCode !== 200) {
                reject(new Error(`HTTP ${response.statusCode}: ${Buffer.concat(chunks)}`));
              } else {
                resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
              }
            });
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

async function main(): Promise<void> {
  const run = `bench_grpc_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const token = `fst_${randomBytes(32).toString('base64url')}`;
  const folders = [
    await mkdtemp(join(tmpdir(), 'featurestore-bench-')),
    await mkdtemp(join(tmpdir(), 'featurestore-bench-')),
  ];
  const config = (store: string) => ({
    store,
    metadata: serviceUrl('POSTGRES'),
    metadataSchema: run,
    online: serviceUrl('REDIS'),
    // A busy machine's slow metadata answers are no outage here.
    onlineMetadataTimeoutMs: 10_000,
  });
  let fs: FeatureStore | undefined;
  let featureSetId: string | undefined;
  const child = { process: undefined as ReturnType<typeof spawn> | undefined };
  try {
    fs = await openFeatureStore(config(folders[0]!));
    const { engine, principal } = fs;
    await createFirstAdminToken(engine, token);
    await engine.projects.create(principal, { name: 'bench' });
    featureSetId = (
      await engine.featureSets.register(principal, 'bench', 'users', {
        primaryKey: ['id'],
        eventTime: 'ts',
        features: [
          { name: 'id', type: 'int64' },
          { name: 'ts', type: 'timestamp' },
          ...names.map((name, i) => ({ name, type: KINDS[i % KINDS.length]! })),
        ],
      })
    ).id;
    const rows = Array.from({ length: KEYS }, (_, key) => row(key));
    await engine.online!.push(principal, 'bench', 'users', rows);
    await engine.online!.waitApplied(principal, 'bench', 'users', rows, { timeoutMs: 60_000 });
    const admin = (await fs.authenticate(token))!;

    child.process = spawn(
      process.execPath,
      [
        '--conditions=@featurestore/source',
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        '--serve',
        JSON.stringify(config(folders[1]!)),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BENCH_TOKEN: token } },
    );
    const addresses = await new Promise<Addresses>((resolve, reject) => {
      let text = '';
      child.process!.stdout!.on('data', (chunk) => {
        text += chunk;
        if (text.includes('\n')) resolve(JSON.parse(text.slice(0, text.indexOf('\n'))));
      });
      child.process!.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
    });

    const load = () =>
      loadavg()
        .map((value) => value.toFixed(2))
        .join(' ');
    console.log(
      `# online get through the server: ${FEATURES} features, ${SECONDS} s per case, ${cpus().length} cores, load average ${load()} at the start`,
    );
    console.log(
      '| entities × features | callers | path | p50 ms | p99 ms | requests/s | vs bare |',
    );
    console.log('|---|---|---|---|---|---|---|');
    for (const count of SHAPES) {
      for (const callers of CALLERS) {
        const entities = entitiesOf(count);
        const inProcess = await measure(callers, () =>
          engine.online!.getOnlineFeatures(admin, { features: FEATURE_REFS, entities }),
        );
        const cases: [string, Figures, Figures?][] = [['in-process engine', inProcess]];
        for (const [label, caller, bare] of [
          [
            'gRPC',
            grpcCaller(addresses.grpc, token, count),
            grpcCaller(addresses.bareGrpc, undefined, count),
          ],
          [
            'HTTP/JSON',
            httpCaller(addresses.http, token, count),
            httpCaller(addresses.bareHttp, undefined, count),
          ],
        ] as const) {
          const bareFigures = await measure(callers, (c) => bare.call(c));
          const figures = await measure(callers, (c) => caller.call(c));
          caller.close();
          bare.close();
          cases.push(
            [`bare ${label}`, bareFigures],
            [`featurestore ${label}`, figures, bareFigures],
          );
        }
        for (const [label, figures, bare] of cases) {
          console.log(
            `| ${count} × ${FEATURES} | ${callers} | ${label} | ${figures.p50.toFixed(2)} | ${figures.p99.toFixed(2)} | ${Math.round(figures.perSecond)} | ${
              bare ? `${(figures.perSecond / bare.perSecond).toFixed(2)}×` : ''
            } |`,
          );
        }
      }
    }
    console.log(`\nload average ${load()} at the end`);
  } finally {
    child.process?.stdin?.end();
    if (child.process && child.process.exitCode === null) {
      await new Promise((resolve) => child.process!.once('exit', resolve));
    }
    await fs?.close();
    if (featureSetId) {
      const online = RedisOnlineStore.fromUrl(serviceUrl('REDIS'));
      await online.drop({ featureSetId, major: 1 }).finally(() => online.close());
    }
    const metadata = new pg.Client({ connectionString: serviceUrl('POSTGRES') });
    await metadata.connect();
    await metadata.query(`DROP SCHEMA IF EXISTS "${run}" CASCADE`);
    await metadata.end();
    for (const folder of folders) await rm(folder, { recursive: true, force: true });
  }
}

if (args.serve !== undefined) {
  await serve(args.serve, process.env.BENCH_TOKEN!);
} else {
  await main();
}
