import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HealthService } from '@featurestore/protocol/grpc/health/v1/health';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthStatus } from '../src/grpc/health-service.js';
import { type CliIo, runCli } from '../src/index.js';
import { tempStore } from './helpers.js';

/**
 * `featurestore health`, the probe of the container image and of the Helm chart under TLS,
 * against the server's own health service (HealthStatus) on a grpc-js server, plaintext and
 * TLS with a client certificate.
 */
async function health(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  };
  const code = await runCli(['health', ...argv], io);
  return { code, stdout, stderr };
}

async function serve(
  status: HealthStatus,
  credentials: ServerCredentials,
): Promise<{ address: string; server: Server }> {
  const server = new Server();
  server.addService(HealthService, status.service());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { address: `127.0.0.1:${port}`, server };
}

let folder: Awaited<ReturnType<typeof tempStore>>;
let certFile: string;
let keyFile: string;

beforeAll(async () => {
  folder = await tempStore();
  certFile = join(folder.dir, 'cert.pem');
  keyFile = join(folder.dir, 'key.pem');
  // Self-signed, so it is its own CA: what the probe trusts, and the client's certificate.
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=featurestore.test',
    '-addext',
    'subjectAltName=DNS:featurestore.test',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
});

afterAll(async () => {
  await folder.remove();
});

describe('featurestore health', () => {
  it('exits 0 on SERVING, 1 naming the status once the server drains', async () => {
    const status = new HealthStatus(['featurestore.v1.CoreService']);
    const { address, server } = await serve(status, ServerCredentials.createInsecure());
    try {
      expect(await health('--address', address)).toMatchObject({ code: 0, stdout: 'SERVING\n' });
      const core = await health('--address', address, '--service', 'featurestore.v1.CoreService');
      expect(core.code).toBe(0);
      status.drain();
      const drained = await health('--address', address);
      expect(drained.code).toBe(1);
      expect(drained.stderr).toContain(`${address} is NOT_SERVING`);
      const unknown = await health('--address', address, '--service', 'nope.Service');
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('service "nope.Service" is not served here');
    } finally {
      server.forceShutdown();
    }
  });

  it('exits 1 within its timeout when nothing listens', async () => {
    const { address, server } = await serve(
      new HealthStatus([]),
      ServerCredentials.createInsecure(),
    );
    server.forceShutdown();
    const result = await health('--address', address, '--timeout', '2');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the health check of ${address} failed`);
  });

  it('over mutual TLS: trusts --ca, presents --cert/--key, checks --server-name', async () => {
    const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
    const credentials = ServerCredentials.createSsl(
      cert,
      [{ cert_chain: cert, private_key: key }],
      true,
    );
    const { address, server } = await serve(new HealthStatus([]), credentials);
    try {
      const tls = ['--ca', certFile, '--server-name', 'featurestore.test'];
      const ok = await health('--address', address, ...tls, '--cert', certFile, '--key', keyFile);
      expect(ok).toMatchObject({ code: 0, stdout: 'SERVING\n' });
      // Without a client certificate the server refuses the handshake.
      const anonymous = await health('--address', address, ...tls, '--timeout', '3');
      expect(anonymous.code).toBe(1);
      const halfPair = await health('--address', address, ...tls, '--cert', certFile);
      expect(halfPair.stderr).toContain('--cert and --key go together');
    } finally {
      server.forceShutdown();
    }
  });
});
