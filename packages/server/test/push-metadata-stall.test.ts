import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { serviceEnv } from '@featurestore/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { openFeatureStore } from '../src/index.js';
import { dropMetadataSchema } from './fixtures/kafka-namespace.js';
import { tempStore, until } from './helpers.js';

/**
 * A TCP proxy to PostgreSQL that can stall it as a frozen server does: open connections are
 * dropped and new ones accepted but never answered, until it thaws.
 */
class StallingProxy {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #frozen = false;
  /** Connections accepted while frozen that the client gave up on (its connect timeout). */
  abandoned = 0;
  port = 0;

  constructor(url: string) {
    const parsed = new URL(url);
    this.#target = { host: parsed.hostname, port: Number(parsed.port || 5432) };
  }

  async open(): Promise<void> {
    this.#server = createServer((client) => {
      this.#sockets.add(client);
      client.on('error', () => client.destroy());
      if (this.#frozen) {
        client.on('close', () => {
          this.#sockets.delete(client);
          if (this.#frozen) this.abandoned++;
        });
        client.resume(); // reads and drops
        return;
      }
      const upstream = connect(this.#target.port, this.#target.host);
      this.#sockets.add(upstream);
      upstream.on('error', () => upstream.destroy());
      for (const socket of [client, upstream]) {
        socket.on('close', () => {
          this.#sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server!.address() as { port: number }).port;
  }

  freeze(): void {
    this.#frozen = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  thaw(): void {
    this.#frozen = false;
    for (const socket of this.#sockets) socket.destroy();
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server?.close(resolve));
  }
}

describe('a push while PostgreSQL stalls longer than a connection timeout', () => {
  const schema = `stall_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('retries its metadata lookups within its own time limit and succeeds once the database answers', async () => {
    const direct = serviceEnv('FEATURESTORE_TEST_POSTGRES_URL');
    const proxy = new StallingProxy(direct);
    await proxy.open();
    cleanups.push(() => proxy.close());
    cleanups.push(() => dropMetadataSchema(schema));
    const viaProxy = new URL(direct);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const store = await tempStore();
    cleanups.push(store.remove);
    const fs = await openFeatureStore({
      store: store.dir,
      metadata: viaProxy.toString(),
      metadataSchema: schema,
      onlineMetadataCacheMs: 0,
    });
    cleanups.push(() => fs.close());
    await fs.engine.projects.create(fs.principal, { name: 'stall' });
    await fs.engine.featureSets.register(fs.principal, 'stall', 'customers', {
      primaryKey: ['customer_id'],
      eventTime: 'ts',
      features: [
        { name: 'customer_id', type: 'string' },
        { name: 'ts', type: 'timestamp' },
        { name: 'age', type: 'int32' },
      ],
    });

    proxy.freeze();
    const pushing = fs.engine.online!.push(
      fs.principal,
      'stall',
      'customers',
      [{ customer_id: 'c1', ts: new Date().toISOString(), age: 3 }],
      { timeoutMs: 60_000 },
    );
    let settled = false;
    const outcome = pushing.then(
      (result) => result,
      (error: unknown) => error,
    );
    void outcome.then(() => {
      settled = true;
    });
    // The stall outlasts a connection timeout (10 s): a lookup gave up on its connection.
    // Without retries the push has failed by then (UNAVAILABLE) and the case fails below.
    await until(() => proxy.abandoned > 0 || settled, 'a lookup that timed out', 40_000);
    proxy.thaw();
    const result = await outcome;
    expect(result).toMatchObject({ rows: 1, featureSet: 'stall/customers' });
  }, 90_000);
});
