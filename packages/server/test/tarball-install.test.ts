/**
 * What a user gets from the registry: the packages packed as npm publishes them (`npm pack`),
 * installed into an empty project, give a working `featurestore` command (`npx featurestore`)
 * and an importable engine — on the embedded default, with nothing from this repository.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** The server and what it needs on the embedded default (the other drivers are optional peers). */
const PACKAGES = [
  '@featurestore/core',
  '@featurestore/protocol',
  '@featurestore/client',
  '@featurestore/driver-postgres',
  '@featurestore/driver-duckdb',
  '@featurestore/server',
];
const MINUTES = 60_000;

describe('the packed packages, installed into an empty project', () => {
  let work: string;
  let project: string;
  // No FEATURESTORE_* settings of this machine: the embedded default, as a new user has it.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('FEATURESTORE_')),
  );
  const inProject = (command: string, args: string[]) => run(command, args, { cwd: project, env });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'featurestore-tarballs-'));
    project = join(work, 'project');
    // npm packs what the build wrote: build first (incremental, quick when up to date).
    await run('npx', ['tsc', '--build', 'tsconfig.build.json'], { cwd: repositoryRoot });
    await run(
      'npm',
      ['pack', '--silent', '--pack-destination', work, ...PACKAGES.flatMap((name) => ['-w', name])],
      { cwd: repositoryRoot },
    );
    const tarballs = (await readdir(work)).filter((file) => file.endsWith('.tgz'));
    expect(tarballs).toHaveLength(PACKAGES.length);
    await run('mkdir', [project]);
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'trying-featurestore', private: true, type: 'module' }),
    );
    await inProject('npm', [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      ...tarballs.map((file) => join(work, file)),
    ]);
  }, 10 * MINUTES);
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it(
    'npx featurestore runs the CLI on the embedded default',
    async () => {
      const version = await inProject('npx', ['--no-install', 'featurestore', '--version']);
      expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
      await inProject('npx', ['--no-install', 'featurestore', 'project', 'create', 'tried']);
      const listed = await inProject('npx', [
        '--no-install',
        'featurestore',
        '--json',
        'project',
        'list',
      ]);
      expect(JSON.parse(listed.stdout).items.map((p: { name: string }) => p.name)).toEqual([
        'tried',
      ]);
    },
    2 * MINUTES,
  );

  it(
    'the engine imports and opens from the installed packages',
    async () => {
      const script = `
      import { openFeatureStore } from '@featurestore/server';
      const store = await openFeatureStore({ store: './in-process' });
      const project = await store.engine.projects.create(store.principal, { name: 'embedded' });
      console.log(project.name);
      await store.close();
    `;
      const { stdout } = await inProject('node', ['--input-type=module', '-e', script]);
      expect(stdout.trim()).toBe('embedded');
    },
    2 * MINUTES,
  );
});
