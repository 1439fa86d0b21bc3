import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSource } from './helpers.js';

/*
 * A custom driver from outside the monorepo: a temporary package that depends on the
 * published `@featurestore/core` entry point only (resolved through its package.json exports,
 * as an installed copy would be), plugged into the CLI with --plugin and a config's `plugins`,
 * with no change to the server. Each command is its own process, as a user runs them.
 */

const CORE = fileURLToPath(new URL('../../core', import.meta.url));
const CLI = new URL('../src/cli/main.ts', import.meta.url);

/** An OnlineStore kept in a JSON file: core's memory store, loaded on open and saved on close. */
const PLUGIN_SOURCE = `
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { defineDriver, MemoryOnlineStore } from '@featurestore/core';

class JsonFileOnlineStore {
  driver = 'jsonfile';
  #memory = new MemoryOnlineStore();
  #path;
  #versions = new Map();

  constructor(path) {
    this.#path = path;
  }

  async load() {
    const saved = JSON.parse(await readFile(this.#path, 'utf8').catch(() => '[]'));
    for (const { ref, records } of saved) await this.write(ref, records);
    return this;
  }

  #track(ref) {
    this.#versions.set(ref.featureSetId + ':' + ref.major, ref);
  }

  write(ref, records) { this.#track(ref); return this.#memory.write(ref, records); }
  replace(ref, changes) { this.#track(ref); return this.#memory.replace(ref, changes); }
  read(request) { return this.#memory.read(request); }
  readMany(requests) { return this.#memory.readMany(requests); }
  delete(ref, keys) { return this.#memory.delete(ref, keys); }
  drop(ref) { return this.#memory.drop(ref); }
  scan(ref) { return this.#memory.scan(ref); }

  async close() {
    const saved = [];
    for (const ref of this.#versions.values()) {
      const records = [];
      for await (const record of this.#memory.scan(ref)) records.push(record);
      saved.push({ ref, records });
    }
    await writeFile(this.#path, JSON.stringify(saved));
    await this.#memory.close();
  }
}

/** Options as a Standard Schema by hand: a driver needs no particular validation library. */
const noOptions = {
  '~standard': {
    version: 1,
    vendor: 'featurestore-json-online',
    validate: (value) =>
      value === undefined || (typeof value === 'object' && Object.keys(value).length === 0)
        ? { value: {} }
        : { issues: [{ message: 'takes no options' }] },
  },
};

export const jsonFileOnlineStore = defineDriver({
  name: 'jsonfile',
  port: 'online',
  schemes: ['jsonfile'],
  options: noOptions,
  open: (url) => new JsonFileOnlineStore(fileURLToPath(url.replace(/^jsonfile:/, 'file:'))).load(),
});
`;

describe('a driver plugged in from outside the monorepo', () => {
  let dir = '';
  let store = '';
  let plugin = '';
  let onlineFile = '';

  /** Runs the CLI from the sources in a child process, as `featurestore …`. */
  function featurestore(
    ...args: string[]
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const child = spawnSource(CLI, ['--store', store, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    return new Promise((resolve) =>
      child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr })),
    );
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'featurestore-plugin-'));
    store = join(dir, 'store');
    plugin = join(dir, 'json-online');
    onlineFile = join(dir, 'online.json');
    await mkdir(join(plugin, 'node_modules', '@featurestore'), { recursive: true });
    await writeFile(
      join(plugin, 'package.json'),
      JSON.stringify({
        name: 'featurestore-json-online',
        type: 'module',
        exports: './index.js',
        peerDependencies: { '@featurestore/core': '^0.1.0' },
      }),
    );
    await writeFile(join(plugin, 'index.js'), PLUGIN_SOURCE);
    // As `npm install` would place the peer: the package, resolved through its exports map.
    await symlink(CORE, join(plugin, 'node_modules', '@featurestore', 'core'), 'dir');
    await writeFile(
      join(dir, 'customers.schema.json'),
      JSON.stringify({
        primaryKey: ['id'],
        eventTime: 'ts',
        features: [
          { name: 'id', type: 'string' },
          { name: 'ts', type: 'timestamp' },
          { name: 'score', type: 'float64' },
        ],
      }),
    );
    await writeFile(
      join(dir, 'rows.jsonl'),
      '{"id":"a","ts":"2026-01-01T00:00:00Z","score":0.5}\n{"id":"b","ts":"2026-01-01T00:00:00Z","score":0.25}\n',
    );
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('without the plugin, its scheme is refused with a message naming the key and how to add it', async () => {
    const result = await featurestore('--online', `jsonfile://${onlineFile}`, 'project', 'list');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(
      /online: no online driver opens jsonfile:\/\/ URLs: use .*redis:\/\/.*--plugin/,
    );
  }, 120_000);

  it('with --plugin, pushes land in the custom store and online get reads them back', async () => {
    const online = ['--plugin', plugin, '--online', `jsonfile://${onlineFile}`];
    const steps: string[][] = [
      ['project', 'create', 'shop'],
      [
        'featureset',
        'register',
        'shop',
        'customers',
        '--schema',
        join(dir, 'customers.schema.json'),
      ],
      ['online', 'push', 'shop', 'customers', join(dir, 'rows.jsonl')],
    ];
    for (const step of steps) {
      const result = await featurestore(...online, ...step);
      expect(result.code, `${step.join(' ')}: ${result.stderr}`).toBe(0);
    }
    expect((await stat(onlineFile)).size).toBeGreaterThan(0);
    const get = await featurestore(
      ...online,
      '--json',
      'online',
      'get',
      'shop',
      'customers',
      '--key',
      'id=a',
      '--key',
      'id=b',
      '--features',
      'score',
    );
    expect(get.code, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout).items).toEqual([
      { id: 'a', customers__score: 0.5 },
      { id: 'b', customers__score: 0.25 },
    ]);
  }, 240_000);

  it('a config file names the plugin by a path relative to itself', async () => {
    const config = join(dir, 'conf', 'featurestore.json');
    await mkdir(join(dir, 'conf'), { recursive: true });
    await writeFile(
      config,
      JSON.stringify({ plugins: ['../json-online'], online: `jsonfile://${onlineFile}` }),
    );
    const get = await featurestore(
      '--config',
      config,
      '--json',
      'online',
      'get',
      'shop',
      'customers',
      '--key',
      'id=a',
      '--features',
      'score',
    );
    expect(get.code, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout).items).toEqual([{ id: 'a', customers__score: 0.5 }]);
  }, 120_000);
});
