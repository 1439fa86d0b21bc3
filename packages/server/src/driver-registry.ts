import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type AnyDriverDescriptor,
  type DriverContext,
  type DriverPort,
  type DriverPorts,
  isDriverDescriptor,
  loadModule,
  NotSupportedError,
  type OptionsIssue,
  ValidationError,
} from '@featurestore/core';
import { localStorageDriver } from './local-storage-driver.js';

/**
 * A driver of the project's own packages, known by its schemes before its package is loaded:
 * production drivers are optional dependencies, so a configuration that never names `redis://`
 * never needs ioredis installed.
 */
interface BuiltInDriver {
  /** The descriptor's name: its option block is `drivers.<name>`. */
  name: string;
  port: DriverPort;
  schemes: readonly string[];
  package: string;
  /** The package's export that holds the descriptor. */
  exportName: string;
  load: () => Promise<Record<string, unknown>>;
}

const BUILT_IN: readonly BuiltInDriver[] = [
  {
    name: 'postgres',
    port: 'metadata',
    schemes: ['postgres', 'postgresql'],
    package: '@featurestore/driver-postgres',
    exportName: 'postgresMetadataDriver',
    load: () => import('@featurestore/driver-postgres'),
  },
  {
    name: 'postgres-online',
    port: 'online',
    schemes: ['postgres', 'postgresql'],
    package: '@featurestore/driver-postgres',
    exportName: 'postgresOnlineDriver',
    load: () => import('@featurestore/driver-postgres'),
  },
  {
    name: 'redis',
    port: 'online',
    schemes: ['redis', 'rediss', 'redis-cluster', 'rediss-cluster'],
    package: '@featurestore/driver-redis',
    exportName: 'redisDriver',
    load: () => import('@featurestore/driver-redis'),
  },
  {
    name: 'kafka',
    port: 'queue',
    schemes: ['kafka', 'kafkas'],
    package: '@featurestore/driver-kafka',
    exportName: 'kafkaDriver',
    load: () => import('@featurestore/driver-kafka'),
  },
  {
    name: 's3',
    port: 'storage',
    schemes: ['s3'],
    package: '@featurestore/driver-s3',
    exportName: 's3Driver',
    load: () => import('@featurestore/driver-s3'),
  },
  {
    name: 'adls',
    port: 'storage',
    schemes: ['abfss'],
    package: '@featurestore/driver-adls',
    exportName: 'adlsDriver',
    load: () => import('@featurestore/driver-adls'),
  },
  {
    name: 'duckdb',
    port: 'compute',
    schemes: ['duckdb'],
    package: '@featurestore/driver-duckdb',
    exportName: 'duckDbDriver',
    load: () => import('@featurestore/driver-duckdb'),
  },
  {
    name: 'spark',
    port: 'compute',
    schemes: ['spark'],
    package: '@featurestore/spark-runner',
    exportName: 'sparkDriver',
    load: () => import('@featurestore/spark-runner'),
  },
];

type Entry =
  | { kind: 'loaded'; descriptor: AnyDriverDescriptor; origin: string }
  | { kind: 'built-in'; source: BuiltInDriver };

/** The scheme of a URL, lower-cased, without the colon; `undefined` when it has none. */
export function schemeOf(url: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
}

/**
 * Every driver the composition root can open, by port and URL scheme: the built-in ones (loaded
 * on first use) and those registered by plugins or code. One place answers "which driver opens
 * this URL" and validates its options, with errors that name the configuration key.
 *
 * @example
 * const registry = new DriverRegistry();
 * await registry.loadPlugin('./memcached-driver.js', process.cwd());
 * const online = await registry.open('online', 'memcached://cache:11211', options, context, 'online');
 */
export class DriverRegistry {
  readonly #entries = new Map<DriverPort, Map<string, Entry>>();

  constructor(options: { builtIn?: boolean } = {}) {
    if (options.builtIn === false) return;
    this.register(localStorageDriver, '@featurestore/server');
    for (const source of BUILT_IN) {
      for (const scheme of source.schemes)
        this.#table(source.port).set(scheme, { kind: 'built-in', source });
    }
  }

  /**
   * Adds a driver; its schemes then work in the configuration key of its port. A scheme that
   * another loaded driver already opens for the port is refused; a built-in one is replaced
   * (a plugin may bring its own Redis driver).
   */
  register(descriptor: AnyDriverDescriptor, origin = 'code'): void {
    if (!isDriverDescriptor(descriptor)) {
      throw new ValidationError(
        `${origin} registers something that is not a driver descriptor: make it with defineDriver({ name, port, schemes, options, open })`,
        { details: { origin } },
      );
    }
    const table = this.#table(descriptor.port);
    for (const scheme of descriptor.schemes) {
      const existing = table.get(scheme.toLowerCase());
      if (existing?.kind === 'loaded' && existing.descriptor !== descriptor) {
        throw new ValidationError(
          `${origin}: the ${descriptor.port} scheme ${scheme}:// is already opened by the driver "${existing.descriptor.name}" from ${existing.origin}`,
          { details: { port: descriptor.port, scheme } },
        );
      }
    }
    for (const scheme of descriptor.schemes) {
      table.set(scheme.toLowerCase(), { kind: 'loaded', descriptor, origin });
    }
  }

  /**
   * Loads a plugin: a module (a package name, or a path relative to `baseDir`) whose exports
   * include driver descriptors (named exports, or a default export of one or a list).
   */
  async loadPlugin(specifier: string, baseDir: string): Promise<AnyDriverDescriptor[]> {
    const path = /^\.{1,2}[\\/]/.test(specifier) || isAbsolute(specifier);
    let url: string;
    try {
      url = path
        ? pathToFileURL(resolve(baseDir, specifier)).href
        : pathToFileURL(createRequire(join(baseDir, 'noop.js')).resolve(specifier)).href;
    } catch (error) {
      throw new ValidationError(
        `plugin ${JSON.stringify(specifier)} cannot be found from ${baseDir}: install the package or fix the path`,
        { cause: error, details: { field: 'plugins', value: specifier } },
      );
    }
    const module = (await loadModule(
      `plugin ${specifier}`,
      specifier,
      () => import(url),
    )) as Record<string, unknown>;
    const candidates = Object.values(module).flatMap((value) =>
      Array.isArray(value) ? value : [value],
    );
    const descriptors = [...new Set(candidates.filter(isDriverDescriptor))];
    if (descriptors.length === 0) {
      throw new ValidationError(
        `plugin ${JSON.stringify(specifier)} exports no driver descriptor: export values made with defineDriver from @featurestore/core/driver`,
        { details: { field: 'plugins', value: specifier } },
      );
    }
    for (const descriptor of descriptors) this.register(descriptor, `plugin ${specifier}`);
    return descriptors;
  }

  /** The schemes a port's configuration key accepts. */
  schemes(port: DriverPort): string[] {
    return [...this.#table(port).keys()].sort();
  }

  /**
   * Checks that some driver opens `url` for `port`, without loading it: the configuration's
   * first check. `key` names the setting in the error (`online`, `sources.roots`).
   */
  check(port: DriverPort, url: string, key: string): void {
    this.#entry(port, url, key);
  }

  /** The descriptor that opens `url` for `port`, loading a built-in driver's package if needed. */
  async descriptor(port: DriverPort, url: string, key: string): Promise<AnyDriverDescriptor> {
    const entry = this.#entry(port, url, key);
    if (entry.kind === 'loaded') return entry.descriptor;
    const { source } = entry;
    const module = await loadModule(`${source.schemes[0]} driver`, source.package, source.load);
    const descriptor = module[source.exportName];
    if (
      !isDriverDescriptor(descriptor) ||
      descriptor.port !== port ||
      descriptor.name !== source.name
    ) {
      throw new NotSupportedError(
        `${source.package} does not export the ${port} driver ${source.exportName}: install a version that matches @featurestore/server`,
        { details: { package: source.package } },
      );
    }
    // Once loaded, its schemes resolve without the package lookup.
    for (const scheme of source.schemes) {
      this.#table(port).set(scheme, { kind: 'loaded', descriptor, origin: source.package });
    }
    return descriptor;
  }

  /**
   * Validates a driver's option block (`drivers.<name>` of the configuration) and opens the
   * driver for `url`. Errors name the configuration key of each bad option.
   */
  async open<P extends DriverPort>(
    port: P,
    url: string,
    drivers: Readonly<Record<string, unknown>>,
    context: DriverContext,
    key: string,
  ): Promise<DriverPorts[P]> {
    const descriptor = await this.descriptor(port, url, key);
    const options = await validateOptions(descriptor, drivers[descriptor.name]);
    return (await descriptor.open(url, options, context)) as DriverPorts[P];
  }

  /**
   * Validates the option blocks of every driver the configuration names under `drivers`: an
   * unknown driver name is an error listing the known ones.
   */
  async validateDriverBlocks(drivers: Readonly<Record<string, unknown>>): Promise<void> {
    for (const [name, block] of Object.entries(drivers)) {
      await validateOptions(await this.#named(name), block);
    }
  }

  async #named(name: string): Promise<AnyDriverDescriptor> {
    const loaded = [...this.#loaded()].find((descriptor) => descriptor.name === name);
    if (loaded) return loaded;
    const source = BUILT_IN.find((candidate) => candidate.name === name);
    if (source) return this.descriptor(source.port, `${source.schemes[0]}://`, `drivers.${name}`);
    const known = new Set([...this.#loaded()].map((descriptor) => descriptor.name));
    for (const candidate of BUILT_IN) known.add(candidate.name);
    throw new ValidationError(
      `drivers.${name}: no driver named "${name}" is registered: the known drivers are ${[...known].sort().join(', ')}`,
      { details: { field: `drivers.${name}` } },
    );
  }

  *#loaded(): Iterable<AnyDriverDescriptor> {
    for (const table of this.#entries.values()) {
      for (const entry of table.values()) if (entry.kind === 'loaded') yield entry.descriptor;
    }
  }

  #entry(port: DriverPort, url: string, key: string): Entry {
    const scheme = schemeOf(url);
    const entry = scheme === undefined ? undefined : this.#table(port).get(scheme);
    if (entry) return entry;
    throw new ValidationError(
      `${key}: ${scheme === undefined ? `${JSON.stringify(url)} is not a URL` : `no ${port} driver opens ${scheme}:// URLs`}: use ${this.schemes(
        port,
      )
        .map((known) => `${known}://`)
        .join(
          ', ',
        )}, or load a plugin that provides it (\`plugins\` in the config, --plugin on the command line)`,
      { details: { field: key, value: scheme ?? url } },
    );
  }

  #table(port: DriverPort): Map<string, Entry> {
    let table = this.#entries.get(port);
    if (!table) {
      table = new Map();
      this.#entries.set(port, table);
    }
    return table;
  }
}

/** Runs a descriptor's options schema, turning its issues into one `ValidationError`. */
async function validateOptions(descriptor: AnyDriverDescriptor, block: unknown): Promise<unknown> {
  const result = await descriptor.options['~standard'].validate(block ?? undefined);
  if (result.issues === undefined) return result.value;
  const problems = result.issues.map(
    (issue) => `${[`drivers.${descriptor.name}`, ...pathOf(issue)].join('.')}: ${issue.message}`,
  );
  throw new ValidationError(`invalid driver options: ${problems.join('; ')}`, {
    details: { field: `drivers.${descriptor.name}`, issues: problems },
  });
}

function pathOf(issue: OptionsIssue): string[] {
  return (issue.path ?? []).map((segment) =>
    String(typeof segment === 'object' && segment !== null ? segment.key : segment),
  );
}
