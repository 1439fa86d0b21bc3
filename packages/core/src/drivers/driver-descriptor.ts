import type { ComputeEngine } from '../ports/compute-engine.js';
import type { MessageQueue } from '../ports/message-queue.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import type { ObjectStorage } from '../ports/object-storage.js';
import type { OnlineStore } from '../ports/online-store.js';

/*
 * How a driver package tells the composition root what it offers: the port it implements, the
 * URL schemes it opens, a schema of its options and how to open it. The server's configuration
 * validates every part against the registered descriptors, and a plugin (a module exporting
 * descriptors) adds schemes without any change to the server — the way Feast users name a
 * store class in `feature_store.yaml`.
 */

/** The configurable parts of a feature store, each implemented by one port. */
export interface DriverPorts {
  metadata: MetadataStore;
  online: OnlineStore;
  storage: ObjectStorage;
  queue: MessageQueue;
  compute: ComputeEngine;
}

export type DriverPort = keyof DriverPorts;

export const DRIVER_PORTS: readonly DriverPort[] = [
  'metadata',
  'online',
  'storage',
  'queue',
  'compute',
];

/** One problem an options schema found: where (keys and indexes) and what. */
export interface OptionsIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>;
}

/**
 * A validator of a driver's options in the Standard Schema form (`~standard`), which zod,
 * valibot and arktype schemas all are: core stays free of any of them, and a driver author
 * picks one.
 */
export interface OptionsSchema<O> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    validate(
      value: unknown,
    ):
      | { readonly value: O; readonly issues?: undefined }
      | { readonly issues: readonly OptionsIssue[] }
      | Promise<
          | { readonly value: O; readonly issues?: undefined }
          | { readonly issues: readonly OptionsIssue[] }
        >;
  };
}

/** What the composition root hands a driver it opens. */
export interface DriverContext {
  /** The embedded store folder: where a driver keeps local files, if it has any. */
  readonly storeDir: string;
  /** Names this process's connections (Kafka's client id, PostgreSQL's application name). */
  readonly clientId: string;
  /** The schema (namespace) that holds the feature store's tables in SQL databases. */
  readonly metadataSchema: string;
  /**
   * What a driver that keeps a database schema does with it on open: `apply` (the default)
   * migrates it; `require` only checks it is current and fails otherwise, naming
   * `featurestore migrate` (deployments migrate as a step of their own).
   */
  readonly migrations?: 'apply' | 'require';
}

/**
 * A driver as the configuration sees it.
 *
 * @example
 * export const memcachedOnlineStore = defineDriver({
 *   name: 'memcached',
 *   port: 'online',
 *   schemes: ['memcached'],
 *   options: z.object({ poolSize: z.number().int().positive().default(4) }).strict(),
 *   open: (url, options) => MemcachedOnlineStore.fromUrl(url, options),
 * });
 */
export interface DriverDescriptor<P extends DriverPort = DriverPort, O = unknown> {
  /** Names the driver in messages and its option block (`drivers.<name>` in the config). */
  readonly name: string;
  readonly port: P;
  /** The URL schemes it opens, without the colon (`redis`, `rediss`). */
  readonly schemes: readonly string[];
  /** Validates its option block; the result is what `open` receives. */
  readonly options: OptionsSchema<O>;
  /** Opens the driver for a URL of one of its schemes (connecting may wait until first use). */
  open(url: string, options: O, context: DriverContext): DriverPorts[P] | Promise<DriverPorts[P]>;
}

/** Any descriptor, whatever its options. */
// biome-ignore lint/suspicious/noExplicitAny: options are validated by the descriptor's own schema
export type AnyDriverDescriptor = DriverDescriptor<DriverPort, any>;

/** Declares a descriptor with its types inferred (an identity function). */
export function defineDriver<P extends DriverPort, O>(
  descriptor: DriverDescriptor<P, O>,
): DriverDescriptor<P, O> {
  return descriptor;
}

/** Whether a value has a descriptor's shape: how plugins' exports are recognized. */
export function isDriverDescriptor(value: unknown): value is AnyDriverDescriptor {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<AnyDriverDescriptor>;
  return (
    typeof candidate.name === 'string' &&
    typeof candidate.port === 'string' &&
    (DRIVER_PORTS as readonly string[]).includes(candidate.port) &&
    Array.isArray(candidate.schemes) &&
    typeof candidate.open === 'function' &&
    typeof candidate.options === 'object' &&
    candidate.options !== null &&
    '~standard' in candidate.options
  );
}
