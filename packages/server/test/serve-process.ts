import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { until } from './helpers.js';

const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/** `featurestore serve` running in a child process, from the sources (tsx). */
export interface ServeProcess {
  child: ChildProcess;
  /** The gRPC address it listens on. */
  address: string;
  /** The HTTP port's address. */
  httpAddress: string;
  output: { stdout: string; stderr: string };
}

/**
 * Starts `featurestore <args…> serve --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 <serveArgs…>`
 * and resolves once it says where it listens (both ports).
 */
export async function startServe(
  args: readonly string[],
  serveArgs: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@featurestore/source',
      '--import',
      'tsx',
      main,
      ...args,
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--http-listen',
      '127.0.0.1:0',
      ...serveArgs,
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
  const grpc = /serving [A-Za-z ]+ on (\S+) /;
  const http = /featurestore HTTP \([^)]*\) on (\S+) /;
  await until(
    () => {
      if (exited) throw new Error(`featurestore serve exited: ${output.stderr}`);
      return grpc.test(output.stdout) && http.test(output.stdout);
    },
    'featurestore serve to listen',
    90_000,
  );
  return {
    child,
    address: grpc.exec(output.stdout)![1]!,
    httpAddress: http.exec(output.stdout)![1]!,
    output,
  };
}

/** SIGTERM, then the exit code once the server drained, stopped its workers and closed. */
export async function stopServe(served: ServeProcess): Promise<number | null> {
  if (served.child.exitCode !== null) return served.child.exitCode;
  const exited = once(served.child, 'exit');
  served.child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  return code;
}

/** The resident set size of a process, in bytes (Linux `/proc`). */
export async function residentBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kib) * 1024;
}
