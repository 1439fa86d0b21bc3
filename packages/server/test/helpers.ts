import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type CliIo, runCli } from '../src/index.js';

/** A fresh store folder per test file, removed afterwards. */
export async function tempStore(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'featurestore-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process against `store`, capturing its output. */
export async function cli(store: string, ...argv: string[]): Promise<CliResult> {
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
  const code = await runCli(['--store', store, ...argv], io);
  return { code, stdout, stderr };
}

/** Like `cli` with --json, parsing the output; fails the test on a non-zero exit. */
export async function cliJson<T = Record<string, unknown>>(
  store: string,
  ...argv: string[]
): Promise<T> {
  const result = await cli(store, '--json', ...argv);
  if (result.code !== 0) throw new Error(`featurestore ${argv.join(' ')} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** Runs a TypeScript file in a child Node process from the sources, as the tests do (tsx). */
export function spawnSource(
  file: URL,
  args: readonly string[] = [],
  stdio: StdioOptions = ['ignore', 'pipe', 'pipe'],
): ChildProcess {
  return spawn(
    process.execPath,
    ['--conditions=@featurestore/source', '--import', 'tsx', fileURLToPath(file), ...args],
    { stdio },
  );
}

/**
 * Resolves with `child` once a chunk of its stdout matches `ready`; rejects, with its stderr,
 * if it exits first.
 */
export function whenReady(child: ChildProcess, ready: RegExp): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout!.on('data', (chunk) => {
      if (ready.test(String(chunk))) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`the child exited with ${code}: ${stderr}`)));
  });
}

/** Polls `predicate` every 100 ms until it holds, failing after `ms`. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
