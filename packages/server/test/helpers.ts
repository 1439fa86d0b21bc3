import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
