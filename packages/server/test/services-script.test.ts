import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// scripts/services starts the test services; these cases run it (or source its functions)
// against a scratch state folder and scratch ports, never the services the suite uses.
const script = fileURLToPath(new URL('../../../scripts/services', import.meta.url));
const run = promisify(execFile);

function listen(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
const portOf = (server: Server) => (server.address() as { port: number }).port;
const close = (server: Server) => new Promise((resolve) => server.close(resolve));

describe('scripts/services', () => {
  it('makes Kafka cluster ids that start with a letter or digit', async () => {
    // Before, one id in 64 started with '-': 500 draws all passed with probability 0.04 %.
    const { stdout } = await run('bash', [
      '-c',
      `source "${script}"; for _ in $(seq 500); do kafka_cluster_id; done`,
    ]);
    const ids = stdout.trim().split('\n');
    expect(ids).toHaveLength(500);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
    expect(new Set(ids).size).toBe(500);
  });

  describe('up, when a port it wants is taken by another program', () => {
    let dir: string;
    let taken: Server;
    const free: Record<string, number> = {};
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'featurestore-services-'));
      // Free ports for every service, found by listening on port 0 and closing again.
      for (const name of ['POSTGRES', 'REDIS', 'KAFKA', 'KAFKA_CONTROLLER', 'AZURITE', 'S3']) {
        const server = await listen();
        free[name] = portOf(server);
        await close(server);
      }
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it.each([
      ['POSTGRES', 'postgres'],
      ['KAFKA_CONTROLLER', 'kafka'],
      ['S3', 's3'],
    ])('names the port, the service and the program, and fails (%s)', async (name, service) => {
      taken = await listen(free[name]);
      try {
        const env = { ...process.env, FEATURESTORE_SERVICES_DIR: dir };
        for (const [key, port] of Object.entries(free)) {
          env[`FEATURESTORE_SERVICES_${key}_PORT`] = String(port);
        }
        const failed = await run(script, ['up'], { env }).then(
          () => undefined,
          (error: { code: number; stderr: string }) => error,
        );
        expect(failed?.code).toBe(1);
        expect(failed?.stderr).toContain(
          // ss names the process by its thread's name: `node` on Node 20, `MainThread` on 24.
          `services: ${service} cannot start: port ${free[name]} is already taken by ${(await readFile(`/proc/${process.pid}/comm`, 'utf8')).trim()} (pid ${process.pid}); stop that program, or move ${service} with FEATURESTORE_SERVICES_${name}_PORT=<free port>`,
        );
      } finally {
        await close(taken);
      }
    });
  });
});
