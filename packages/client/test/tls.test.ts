import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  selfSignedCertificate,
  TEST_SERVER_NAME,
} from '../../server/test/self-signed-certificate.js';
import { FeatureStoreClient, UnavailableError } from '../src/index.js';
import { type RunningServer, startTestServer } from './test-server.js';

describe('FeatureStoreClient over TLS (mutual)', () => {
  let dir: string;
  let pem: { cert: Buffer; key: Buffer };
  let server: RunningServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'featurestore-client-tls-'));
    pem = await selfSignedCertificate(dir);
    // The same self-signed certificate is the server's, its client CA, and the client's.
    server = await startTestServer({ tls: { ...pem, clientCa: pem.cert } });
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('calls with the CA, a client certificate and the name the certificate carries', async () => {
    const client = new FeatureStoreClient({
      endpoint: server.address,
      token: server.adminToken,
      tls: { ca: pem.cert, cert: pem.cert, key: pem.key, serverName: TEST_SERVER_NAME },
    });
    try {
      expect((await client.projects.list()).items).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('plaintext to a TLS server fails UNAVAILABLE, after the retries of a read', async () => {
    const client = new FeatureStoreClient({
      endpoint: server.address,
      token: server.adminToken,
      tls: false,
      retry: { maxAttempts: 2, initialBackoffMs: 1 },
    });
    try {
      await expect(client.projects.list()).rejects.toBeInstanceOf(UnavailableError);
    } finally {
      client.close();
    }
  });

  it('refuses a client certificate without its key', () => {
    expect(
      () =>
        new FeatureStoreClient({
          endpoint: server.address,
          token: 't',
          tls: { ca: pem.cert, cert: pem.cert },
        }),
    ).toThrow(/tls\.cert and tls\.key go together/);
  });
});
