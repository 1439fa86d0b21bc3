import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP proxy to a test service (Redis, PostgreSQL…) that can be cut and restored on the same port. */
export class CuttableProxy {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  port = 0;

  /** `url`: the service's URL (`redis://host:port`); `defaultPort` when it names none. */
  constructor(url: string, defaultPort = 6379) {
    const parsed = new URL(url);
    this.#target = { host: parsed.hostname, port: Number(parsed.port || defaultPort) };
  }

  /** Listens (again, on the same port once it had one) and forwards every connection. */
  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.#target.port, this.#target.host);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Drops every connection and stops listening: the service looks gone. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => server?.close(resolve));
  }
}
