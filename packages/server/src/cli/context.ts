import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type OnlineEngine, ValidationError } from '@featurestore/core';
import type { Command } from 'commander';
import { type FeatureStoreConfig, loadConfig } from '../config.js';
import { type FeatureStore, type OpenOptions, openFeatureStore } from '../open-feature-store.js';
import type { CliIo } from './io.js';
import { formatRecord, formatTable } from './io.js';
import { checkRemoteOptions, openRemoteStore } from './remote-store.js';

export interface GlobalOptions {
  store?: string;
  config?: string;
  metadata?: string;
  storage?: string;
  compute?: string;
  online?: string;
  queue?: string;
  plugin?: string[];
  token?: string;
  tokenFile?: string;
  /** A server (`HOST:PORT`) to send the command to instead of opening a store. */
  endpoint?: string;
  tlsCa?: string;
  rebind?: boolean;
  json?: boolean;
  verbose?: boolean;
}

/** What every command action gets: the open store and the output helpers. */
export interface CommandContext {
  store: FeatureStore;
  options: GlobalOptions;
  /** Prints a record (or JSON with --json). */
  record(value: object, human?: Record<string, unknown>): void;
  /** Prints a listing (or JSON with --json). */
  table(rows: object[], columns: string[], extra?: Record<string, unknown>): void;
  /** Prints a plain message (nothing with --json, where `json` is printed instead). */
  message(text: string, json?: unknown): void;
}

export type Action<A extends unknown[]> = (context: CommandContext, ...args: A) => Promise<void>;

/**
 * Wraps a command action: loads the config (file < environment < flags), opens the store,
 * runs, and always closes it (releasing the embedded store's lock).
 */
export function withStore<A extends unknown[]>(
  io: CliIo,
  action: Action<A>,
  /** How to open the store, from the command's options (with the global ones). */
  openOptions?: (options: Record<string, unknown>) => OpenOptions,
) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args.at(-1) as Command;
    const options = command.optsWithGlobals<GlobalOptions>();
    const store = options.endpoint
      ? await openRemote(options, io)
      : await openLocal(options, io, openOptions);
    const json = (value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`);
    const context: CommandContext = {
      store,
      options,
      record: (value, human) =>
        options.json
          ? json(value)
          : io.stdout(`${formatRecord(human ?? (value as Record<string, unknown>))}\n`),
      table: (rows, columns, extra) =>
        options.json
          ? json({ items: rows, ...extra })
          : io.stdout(
              `${formatTable(rows as Record<string, unknown>[], columns)}${
                extra?.nextPageToken ? `\nnext page: --page-token ${extra.nextPageToken}` : ''
              }\n`,
            ),
      message: (text, value) =>
        options.json ? json(value ?? { message: text }) : io.stdout(`${text}\n`),
    };
    try {
      // commander passes the positional arguments, the command's options, then the command.
      await action(context, ...(args.slice(0, -1) as A));
    } finally {
      await store.close();
    }
  };
}

/**
 * The configuration of the command's options: the config file, then the environment, then
 * the flags (paths of `--plugin` relative to where the command runs).
 */
export function configOf(options: GlobalOptions): Promise<FeatureStoreConfig> {
  return loadConfig({
    ...(options.config === undefined ? {} : { file: options.config }),
    overrides: {
      store: options.store,
      metadata: options.metadata,
      storage: options.storage,
      compute: options.compute,
      online: options.online,
      queue: options.queue,
      plugins: options.plugin?.map((plugin) =>
        /^\.{1,2}[\\/]/.test(plugin) ? resolve(plugin) : plugin,
      ),
    },
  });
}

/** The store of the command's options: embedded or self-hosted, opened in this process. */
async function openLocal(
  options: GlobalOptions,
  io: CliIo,
  openOptions: ((options: Record<string, unknown>) => OpenOptions) | undefined,
): Promise<FeatureStore> {
  const config = await configOf(options);
  const token = await tokenOf(options, io);
  return openFeatureStore(config, {
    ...openOptions?.(options as Record<string, unknown>),
    ...(token === undefined ? {} : { token }),
    ...(options.rebind ? { rebind: true } : {}),
  });
}

/** `--endpoint`: a server answers the command through the client (see remote-store.ts). */
async function openRemote(options: GlobalOptions, io: CliIo): Promise<FeatureStore> {
  checkRemoteOptions(options);
  const token = await tokenOf(options, io);
  return openRemoteStore({
    endpoint: options.endpoint!,
    // Where the local store folder is: downloads may not be written into it.
    config: await loadConfig({ overrides: { store: options.store } }),
    ...(token === undefined ? {} : { token }),
    ...(options.tlsCa === undefined ? {} : { tlsCa: options.tlsCa }),
  });
}

/**
 * The access token to act with: `--token` (with a warning: other users of the machine see
 * command lines in `ps` and /proc/PID/cmdline), else the first line of `--token-file`, else
 * `FEATURESTORE_TOKEN`.
 */
async function tokenOf(options: GlobalOptions, io: CliIo): Promise<string | undefined> {
  if (options.token !== undefined && options.tokenFile !== undefined) {
    throw new ValidationError('--token and --token-file are both given: use one of them', {
      details: { field: '--token-file', value: options.tokenFile },
    });
  }
  if (options.token !== undefined) {
    io.stderr(
      'warning: --token shows the token to every user of this machine (process listings); use --token-file FILE or FEATURESTORE_TOKEN instead\n',
    );
    return options.token;
  }
  if (options.tokenFile !== undefined) return readTokenFile(options.tokenFile);
  return process.env.FEATURESTORE_TOKEN;
}

/** The first line of a token file, trimmed; a `ValidationError` naming the file otherwise. */
async function readTokenFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ValidationError(`--token-file ${path} cannot be read: ${(error as Error).message}`, {
      details: { field: '--token-file', value: path },
    });
  }
  const token = text.split(/\r?\n/, 1)[0]!.trim();
  if (token === '') {
    throw new ValidationError(
      `--token-file ${path} has no token on its first line: write the token (fst_…) there`,
      { details: { field: '--token-file', value: path } },
    );
  }
  return token;
}

/** The store's online engine, or a `ValidationError` saying how to configure one. */
export function onlineOf(ctx: CommandContext): OnlineEngine {
  const online = ctx.store.engine.online;
  if (!online) throw new ValidationError('no online store is configured: pass --online URL');
  return online;
}
