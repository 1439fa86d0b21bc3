/*
 * A real Featurestore server on loopback for the client's tests: the embedded store in a
 * temporary folder, served by the packaged server. Imported from the server's sources, as a
 * test only: the client package itself depends on neither.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFirstAdminToken } from '../../server/src/first-admin-token.js';
import {
  FeatureStoreServer,
  type ServerOptions,
} from '../../server/src/grpc/featurestore-server.js';
import { type FeatureStore, openFeatureStore } from '../../server/src/open-feature-store.js';
import { createLogger } from '../../server/src/worker-log.js';

export interface RunningServer {
  address: string;
  /** The first admin's personal access token. */
  adminToken: string;
  store: FeatureStore;
  stop(): Promise<void>;
}

/** Opens a fresh embedded store and serves it on a free loopback port. */
export async function startTestServer(
  options: Omit<ServerOptions, 'listen'> = {},
): Promise<RunningServer> {
  const dir = await mkdtemp(join(tmpdir(), 'featurestore-client-'));
  const store = await openFeatureStore({ store: dir });
  const adminToken = (await createFirstAdminToken(store.engine, undefined))!.secret;
  const server = await FeatureStoreServer.start(store, {
    listen: '127.0.0.1:0',
    logger: createLogger('silent'),
    ...options,
  });
  return {
    address: server.address,
    adminToken,
    store,
    async stop() {
      await server.shutdown();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
