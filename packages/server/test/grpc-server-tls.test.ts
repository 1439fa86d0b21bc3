import { join } from 'node:path';
import { credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdminToken } from '../src/first-admin-token.js';
import { FeatureStoreServer, type TlsFiles } from '../src/grpc/featurestore-server.js';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { ServingStatus, TestClient } from './grpc-client.js';
import { tempStore } from './helpers.js';
import { selfSignedCertificate, TEST_SERVER_NAME } from './self-signed-certificate.js';

describe('gRPC server over TLS', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let store: FeatureStore;
  let pem: { cert: Buffer; key: Buffer };
  let admin: string;
  beforeAll(async () => {
    folder = await tempStore();
    pem = await selfSignedCertificate(folder.dir);
    store = await openFeatureStore({ store: join(folder.dir, 'store') });
    admin = (await createFirstAdminToken(store.engine, undefined))!.secret;
  });
  afterAll(async () => {
    await store?.close();
    await folder?.remove();
  });

  // Dialled by IP, checked against the certificate's name (TLS takes no IP as server name).
  const named = { 'grpc.ssl_target_name_override': TEST_SERVER_NAME };

  async function withServer(tls: TlsFiles, run: (address: string) => Promise<void>) {
    // With TLS, an address other machines reach needs no --insecure.
    const server = await FeatureStoreServer.start(store, { listen: '0.0.0.0:0', tls });
    try {
      await run(`127.0.0.1:${server.address.split(':').at(-1)}`);
    } finally {
      await server.shutdown();
    }
  }

  it('serves TLS clients that trust its certificate, and no plaintext ones', async () => {
    await withServer(pem, async (address) => {
      const client = new TestClient(address, credentials.createSsl(pem.cert), named);
      expect(await client.health()).toBe(ServingStatus.SERVING);
      expect(await client.core('listProjects', {}, admin)).toEqual({
        projects: [],
        nextPageToken: '',
      });
      client.close();
      const plain = new TestClient(address);
      await expect(plain.health()).rejects.toMatchObject({ code: status.UNAVAILABLE });
      plain.close();
    });
  });

  it('with a client CA, requires a client certificate it signed (mutual TLS)', async () => {
    await withServer({ ...pem, clientCa: pem.cert }, async (address) => {
      const mutual = new TestClient(
        address,
        credentials.createSsl(pem.cert, pem.key, pem.cert),
        named,
      );
      expect(await mutual.health()).toBe(ServingStatus.SERVING);
      mutual.close();
      const anonymous = new TestClient(address, credentials.createSsl(pem.cert), named);
      await expect(anonymous.health()).rejects.toMatchObject({ code: status.UNAVAILABLE });
      anonymous.close();
    });
  });
});
