/**
 * The README's CLI walk-through runs as written. Its shell blocks marked
 * `<!-- walk-through: runs in a copy of examples/ -->` are taken from README.md itself (not a
 * copy of them) and run by bash, one script, stopping at the first failing command, in a
 * temporary copy of examples/ with `featurestore` resolved to the CLI's sources and no
 * FEATURESTORE_* variables: the embedded default, as a newcomer runs it.
 */
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const CLI_SOURCE = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const MARKER = '<!-- walk-through: runs in a copy of examples/ -->';

/** The marked shell blocks of the README, in order. */
function walkThroughBlocks(readme: string): string[] {
  const blocks: string[] = [];
  const pattern = new RegExp(`${MARKER}\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\n`, 'g');
  for (const match of readme.matchAll(pattern)) blocks.push(match[1]!);
  return blocks;
}

/** What the walk-through must show (issue 17): each a command of the marked blocks. */
const COVERED = [
  /featurestore project create /,
  /featurestore featureset register \S+ \S+ --schema /,
  /featurestore featureset register .*--schema-from /,
  /featurestore featureset update .*--tag /,
  /featurestore featureset update .*--schema /,
  /featurestore featureset versions /,
  /featurestore permission grant /,
  /token create /,
  /featurestore --token-file /,
  /featurestore ingest /,
  /featurestore ingestions /,
  /featurestore revert /,
  /featurestore retrieve .*--as-of /,
  /featurestore historical /,
  /featurestore online push /,
  /featurestore online get /,
  /featurestore materialize /,
  /featurestore jobs list/,
];

describe('the README walk-through', () => {
  let work: string;
  let examples: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'featurestore-readme-'));
    examples = join(work, 'examples');
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('marks its blocks, and they cover the whole path', async () => {
    const blocks = walkThroughBlocks(await readFile(join(repositoryRoot, 'README.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const script = blocks.join('\n');
    for (const command of COVERED) expect(script).toMatch(command);
  });

  it('runs as written, in a copy of examples/, on the embedded default', async () => {
    await run('bash', ['-c', 'command -v jq']).catch(() => {
      throw new Error('the README walk-through uses jq: install it (apt-get install jq)');
    });
    const blocks = walkThroughBlocks(await readFile(join(repositoryRoot, 'README.md'), 'utf8'));
    // The files of examples/ git knows: what a run of the walk-through there wrote
    // (examples/.gitignore) stays out of the copy.
    const { stdout: listed } = await run(
      'git',
      ['ls-files', '-z', '--cached', '--others', '--exclude-standard', 'examples'],
      { cwd: repositoryRoot },
    );
    const files = [...new Set(listed.split('\0').filter(Boolean))];
    expect(files).toContain('examples/transactions.schema.json');
    for (const file of files) {
      await mkdir(dirname(join(work, file)), { recursive: true });
      await cp(join(repositoryRoot, file), join(work, file));
    }
    const bin = join(work, 'bin');
    await mkdir(bin);
    const tsx = import.meta.resolve('tsx');
    await writeFile(
      join(bin, 'featurestore'),
      `#!/bin/sh\nexec "${process.execPath}" --conditions=@featurestore/source --import "${tsx}" "${CLI_SOURCE}" "$@"\n`,
    );
    await chmod(join(bin, 'featurestore'), 0o755);
    const script = join(work, 'walk-through.sh');
    await writeFile(script, `set -euo pipefail\nset -x\n${blocks.join('\n')}\n`);

    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('FEATURESTORE_')),
    );
    let output: { stdout: string; stderr: string };
    try {
      output = await run('bash', [script], {
        cwd: examples,
        env: { ...env, PATH: `${bin}:${process.env.PATH}` },
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      throw new Error(
        `the walk-through stopped (exit ${failed.code}):\n${(failed.stderr ?? '').slice(-6000)}\n--- stdout ---\n${(failed.stdout ?? '').slice(-3000)}`,
      );
    }
    const { stdout } = output;

    // What each part of the walk-through is meant to show, from what it wrote.
    expect((await readFile(join(examples, 'alice.token'), 'utf8')).trim()).toMatch(/^fst_/);
    expect(stdout).toMatch(/2\.0\s+\S+\s+feature card_present added \(bool\)/);
    expect(stdout).toMatch(/already committed with this idempotency key/);
    expect((await stat(join(examples, 'latest.parquet'))).size).toBeGreaterThan(0);
    const beforeRevert = await readFile(join(examples, 'before-revert.csv'), 'utf8');
    expect(beforeRevert, 'as of day2, its rows are there').toContain('999.0');
    const training = (await readFile(join(examples, 'training.csv'), 'utf8')).trimEnd().split('\n');
    const labels = (await readFile(join(examples, 'labels.csv'), 'utf8')).trimEnd().split('\n');
    expect(training).toHaveLength(labels.length);
    expect(training[0]).toBe(
      'customer_id,at,is_fraud,transactions__amount,customers__age,customers__country,customers__income',
    );
    expect(training[1]).toMatch(/^c1,2026-03-01T12:00:00Z,0,12\.5,35,DE,/);
    // day2 (999.0 at 09:10) was reverted: on March 2 at 10:00, c1 still has day1's amount.
    expect(training[3]).toMatch(/^c1,2026-03-02T10:00:00Z,0,12\.5,35,DE,/);
    expect(stdout).toMatch(/c1\s+17\.3\s+\["cafe"\]/);
    expect(stdout).toMatch(/Main St, 4\s+12\s+1840/);
  }, 1_200_000);
});
