import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  CreateProjectRequest,
  RegisterFeatureSetRequest,
} from '@featurestore/protocol/featurestore/v1/core';
import { DataFormat, type IngestUploadHeader } from '@featurestore/protocol/featurestore/v1/data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdminToken } from '../src/first-admin-token.js';
import { FeatureStoreServer } from '../src/grpc/featurestore-server.js';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { DataClient } from './grpc-data-client.js';
import { tempStore } from './helpers.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

/** V8 collects garbage buffers late: collecting before each sample measures what is held. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

// Its own file, so its own worker: the other suites' buffers do not blur the measurement.
describe('IngestUpload memory', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let store: FeatureStore;
  let server: FeatureStoreServer;
  let client: DataClient;
  let admin: string;

  beforeAll(async () => {
    folder = await tempStore();
    store = await openFeatureStore({ store: folder.dir });
    admin = (await createFirstAdminToken(store.engine, undefined))!.secret;
    server = await FeatureStoreServer.start(store, { listen: '127.0.0.1:0' });
    client = new DataClient(server.address);
    await client.unary('createProject', CreateProjectRequest.fromPartial({ name: 'mem' }), admin);
    await client.unary(
      'registerFeatureSet',
      RegisterFeatureSetRequest.fromPartial({
        project: 'mem',
        name: 'fs',
        schema: {
          primaryKey: ['id'],
          eventTime: 'ts',
          features: [
            { name: 'id', type: 'int64' },
            { name: 'ts', type: 'timestamp' },
          ],
        },
      }),
      admin,
    );
  }, 60_000);
  afterAll(async () => {
    client?.close();
    await server?.shutdown();
    await store?.close();
    await folder?.remove();
  });

  /**
   * Uploads `size` bytes of CSV in 256 KiB messages, as a client that respects flow control
   * sends them. The idempotency key of an earlier ingestion makes the server stage every byte
   * and then return that ingestion: the measurement sees the upload, not an ingest job.
   */
  async function upload(size: number): Promise<void> {
    const header: Partial<IngestUploadHeader> = {
      project: 'mem',
      featureSet: 'fs',
      format: DataFormat.DATA_FORMAT_CSV,
      options: { idempotencyKey: 'first', ignoreExtraColumns: false, wait: false },
    };
    const { stream, response } = client.openIngestUpload(header, admin);
    const row = '1,2026-01-01T00:00:00Z\n';
    const block = Buffer.from(row.repeat(Math.floor((256 * 1024) / row.length)));
    stream.write({ chunk: Buffer.from('id,ts\n') });
    let totalBytes = 'id,ts\n'.length;
    for (let sent = 0; sent < size; sent += block.length) {
      // A fresh buffer per message, as a file read delivers them.
      totalBytes += block.length;
      if (!stream.write({ chunk: Buffer.from(block) })) {
        await Promise.race([once(stream, 'drain'), response]);
      }
    }
    stream.end({ end: { totalBytes } });
    await response;
  }

  it(`stays bounded while a ${SIZE / MiB} MiB file is uploaded and staged`, async () => {
    await client.ingestUpload(
      {
        project: 'mem',
        featureSet: 'fs',
        format: DataFormat.DATA_FORMAT_CSV,
        options: { idempotencyKey: 'first', ignoreExtraColumns: false, wait: true },
      },
      Buffer.from('id,ts\n1,2026-01-01T00:00:00Z\n'),
      admin,
    );
    const gc = collector();
    // Fill the allocator and the HTTP/2 windows once, so the measurement sees the streaming.
    await upload(11 * MiB);
    gc();
    const before = process.memoryUsage().rss;
    let peak = 0;
    const sample = () => {
      gc();
      peak = Math.max(peak, process.memoryUsage().rss);
    };
    // A collection takes some 300 ms with the embedded store's heap: sample once a second.
    const timer = setInterval(sample, 1000);
    try {
      await upload(SIZE);
    } finally {
      clearInterval(timer);
    }
    sample();
    const growth = peak - before;
    console.log(`rss growth ${(growth / MiB).toFixed(1)} MiB uploading ${SIZE / MiB} MiB`);
    // Client and server each hold a few messages and the HTTP/2 windows; holding the upload
    // would take 64 MiB or more. The runner's own allocations add noise up to ~20 MiB.
    expect(growth).toBeLessThan(SIZE * 0.75);
    const { items } = await store.engine.jobs.list(store.principal, { type: 'ingest' });
    expect(items).toHaveLength(1);
  }, 120_000);
});
