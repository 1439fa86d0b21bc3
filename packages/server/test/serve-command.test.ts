import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ServingStatus, TestClient } from './grpc-client.js';
import { cli, tempStore, until } from './helpers.js';

const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

interface Served {
  child: ChildProcess;
  address: string;
  output: { stdout: string; stderr: string };
}

/** `featurestore serve` in a child process, once it says where it listens. */
async function serve(store: string, env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@featurestore/source',
      '--import',
      'tsx',
      main,
      '--store',
      store,
      'serve',
      '--listen',
      '127.0.0.1:0',
      // Not the default 8080: test files run side by side.
      '--http-listen',
      '127.0.0.1:0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk) => {
    output.stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output.stderr += chunk;
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const listening = /serving (?:CoreService|OnlineService)[ a-zA-Z]* on (\S+) /;
  await until(
    () => {
      if (exited) throw new Error(`featurestore serve exited: ${output.stderr}`);
      return listening.test(output.stdout);
    },
    'featurestore serve to listen',
    60_000,
  );
  return { child, address: listening.exec(output.stdout)![1]!, output };
}

/** SIGTERM, then the exit code once the server drained and closed the store. */
async function stop(served: Served): Promise<number | null> {
  const exited = once(served.child, 'exit');
  served.child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  return code;
}

describe('featurestore serve (a child process)', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  const running: Served[] = [];
  beforeAll(async () => {
    folder = await tempStore();
  });
  afterEach(() => {
    for (const served of running.splice(0)) served.child.kill('SIGKILL');
  });
  afterAll(async () => folder?.remove());

  it('prints an admin token on the first start only, serves it, and stops cleanly on SIGTERM', async () => {
    const first = await serve(folder.dir);
    running.push(first);
    const token = /^(fst_\S+)$/m.exec(first.output.stdout)?.[1];
    expect(token, first.output.stdout).toBeDefined();
    const client = new TestClient(first.address);
    expect(await client.health()).toBe(ServingStatus.SERVING);
    await client.core('createProject', { name: 'served' }, token);
    client.close();
    expect(await stop(first)).toBe(0);
    expect(first.output.stdout).toContain('SIGTERM: draining calls in flight');

    // The store was closed (its lock released): a second server opens it. The store has an
    // admin token, so none is printed and FEATURESTORE_ADMIN_TOKEN is reported unused.
    const second = await serve(folder.dir, {
      FEATURESTORE_ADMIN_TOKEN: `fst_${'a'.repeat(43)}`,
    });
    running.push(second);
    expect(second.output.stdout).not.toMatch(/fst_/);
    expect(second.output.stderr).toContain('FEATURESTORE_ADMIN_TOKEN is not used');
    const again = new TestClient(second.address);
    const { projects } = await again.core('listProjects', {}, token);
    expect(projects.map((project) => project.name)).toEqual(['served']);
    again.close();
    expect(await stop(second)).toBe(0);
    // Two child processes from the sources (tsx), each opening the embedded store.
  }, 180_000);

  it('has --help naming its options', async () => {
    const help = await cli(folder.dir, 'serve', '--help');
    expect(help.code).toBe(0);
    for (const option of [
      '--role',
      '--listen',
      '--tls-cert',
      '--tls-client-ca',
      '--insecure',
      '--oidc-issuer',
      '--drain-timeout',
    ]) {
      expect(help.stdout).toContain(option);
    }
  });

  it('takes OIDC from an issuer and an audience alone (the keys from its discovery document), and refuses an issuer without an audience', async () => {
    const other = await tempStore();
    try {
      const refused = await cli(other.dir, 'serve', '--oidc-issuer', 'https://idp.example.com');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('OIDC needs --oidc-issuer and --oidc-audience');
      // The discovery document is read at the first OIDC token, not at the start.
      const served = await serve(other.dir, {
        FEATURESTORE_OIDC_ISSUER: 'https://idp.example.com',
        FEATURESTORE_OIDC_AUDIENCE: 'featurestore',
      });
      running.push(served);
      expect(await stop(served)).toBe(0);
    } finally {
      await other.remove();
    }
  }, 120_000);

  it('refuses plaintext off loopback before any token is made or printed', async () => {
    const other = await tempStore();
    try {
      const refused = await cli(other.dir, 'serve', '--listen', '0.0.0.0:0');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('--insecure');
      expect(refused.stdout).not.toMatch(/fst_/);
    } finally {
      await other.remove();
    }
  }, 60_000);
});
