import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type {
  ColumnBatch,
  ComputeEngine,
  ComputeEngineCapabilities,
  HistoricalJobSpec,
  IngestionInput,
  IngestJobSpec,
  JobResultOf,
  JobRunContext,
  JobSpec,
  RetrieveJobSpec,
  RetrieveStreamSpec,
} from '../ports/compute-engine.js';
import { makePrivateFolder, PRIVATE_FILE_MODE } from '../storage/private-modes.js';
import { isRemoteUri, type StorageLocator } from './storage-locator.js';

/**
 * Lets a compute engine that reads and writes local files (DuckDB here: its `httpfs`
 * extension cannot be installed) work on any `ObjectStorage`: remote inputs are streamed to
 * a spill folder, the job runs on local copies, and outputs are streamed back. Memory stays
 * bounded (everything is streamed); disk holds one job's inputs and outputs at a time, and
 * the folder is removed when the job ends. Local URIs pass through untouched.
 */
export class StagingComputeEngine implements ComputeEngine {
  readonly driver: string;
  readonly capabilities: ComputeEngineCapabilities;
  readonly #inner: ComputeEngine;
  readonly #locate: StorageLocator;
  readonly #spillDir: string;
  /** Present when the inner engine streams: remote inputs are staged first, as for `run`. */
  readonly streamRetrieve?: (
    spec: RetrieveStreamSpec,
    context: JobRunContext,
  ) => AsyncIterable<ColumnBatch>;

  /** `spillDir` must belong to this instance alone: `close()` removes it. */
  constructor(inner: ComputeEngine, locate: StorageLocator, spillDir: string) {
    this.#inner = inner;
    this.#locate = locate;
    this.#spillDir = spillDir;
    this.driver = inner.driver;
    this.capabilities = inner.capabilities;
    if (inner.streamRetrieve) {
      this.streamRetrieve = (spec, context) => this.#streamRetrieve(spec, context);
    }
  }

  async run<S extends JobSpec>(spec: S, context: JobRunContext): Promise<JobResultOf[S['type']]> {
    if (!this.#needsStaging(spec)) return this.#inner.run(spec, context);
    const dir = join(this.#spillDir, randomUUID());
    // Staged copies are the store's data: private like the store itself.
    await makePrivateFolder(dir);
    const download = this.#downloader(dir);
    const inputs = async (list: IngestionInput[]) =>
      Promise.all(
        list.map(async (input) => ({ ...input, uris: await serial(input.uris, download) })),
      );
    const upload = async (local: string, uri: string) => {
      const located = this.#locate(uri);
      if (located) await located.storage.put(located.key, createReadStream(fileURLToPath(local)));
    };
    try {
      switch (spec.type) {
        case 'ingest': {
          const outputPrefix = isRemoteUri(spec.outputPrefix)
            ? pathToFileURL(join(dir, 'out')).href
            : spec.outputPrefix;
          const staged: IngestJobSpec = {
            ...spec,
            sources: await serial(spec.sources, download),
            outputPrefix,
          };
          const result = await this.#inner.run(staged, context);
          if (outputPrefix === spec.outputPrefix) return result as JobResultOf[S['type']];
          const remote: string[] = [];
          for (const file of result.files) {
            const target = `${spec.outputPrefix}${file.slice(outputPrefix.length)}`;
            await upload(file, target);
            remote.push(target);
          }
          return { ...result, files: remote } as JobResultOf[S['type']];
        }
        case 'infer-schema': {
          const staged = { ...spec, sources: await serial(spec.sources, download) };
          return (await this.#inner.run(staged, context)) as JobResultOf[S['type']];
        }
        case 'retrieve':
        case 'historical': {
          const local = isRemoteUri(spec.output.uri)
            ? pathToFileURL(join(dir, `out-${basename(spec.output.uri)}`)).href
            : spec.output.uri;
          const staged =
            spec.type === 'retrieve'
              ? {
                  ...spec,
                  inputs: await inputs(spec.inputs),
                  output: { ...spec.output, uri: local },
                }
              : {
                  ...spec,
                  entities: { ...spec.entities, uri: await download(spec.entities.uri) },
                  featureSets: await serial(spec.featureSets, async (set) => ({
                    ...set,
                    inputs: await inputs(set.inputs),
                  })),
                  output: { ...spec.output, uri: local },
                };
          const result = await this.#inner.run(
            staged as RetrieveJobSpec | HistoricalJobSpec,
            context,
          );
          if (local !== spec.output.uri) await upload(local, spec.output.uri);
          return { ...result, uri: spec.output.uri } as JobResultOf[S['type']];
        }
      }
      return this.#inner.run(spec, context);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async *#streamRetrieve(
    spec: RetrieveStreamSpec,
    context: JobRunContext,
  ): AsyncGenerator<ColumnBatch> {
    const inner = this.#inner.streamRetrieve!.bind(this.#inner);
    if (!spec.inputs.some((input) => input.uris.some(isRemoteUri))) {
      yield* inner(spec, context);
      return;
    }
    const dir = join(this.#spillDir, randomUUID());
    await makePrivateFolder(dir);
    try {
      const download = this.#downloader(dir);
      const inputs: IngestionInput[] = [];
      for (const input of spec.inputs) {
        inputs.push({ ...input, uris: await serial(input.uris, download) });
      }
      yield* inner({ ...spec, inputs }, context);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Copies a remote file into `dir` and returns its local URI; a local URI stays as it is. */
  #downloader(dir: string): (uri: string) => Promise<string> {
    let files = 0;
    return async (uri) => {
      const located = this.#locate(uri);
      if (!located) return uri;
      const path = join(dir, `in-${files++}-${basename(located.key)}`);
      await pipeline(
        await located.storage.get(located.key),
        createWriteStream(path, { mode: PRIVATE_FILE_MODE }),
      );
      return pathToFileURL(path).href;
    };
  }

  /** Closes the inner engine and removes the spill folder, which belongs to this instance. */
  async close(): Promise<void> {
    await this.#inner.close();
    await rm(this.#spillDir, { recursive: true, force: true });
  }

  #needsStaging(spec: JobSpec): boolean {
    const uris: string[] = [];
    if (spec.type === 'ingest') uris.push(...spec.sources, spec.outputPrefix);
    if (spec.type === 'infer-schema') uris.push(...spec.sources);
    if (spec.type === 'retrieve') uris.push(spec.output.uri, ...spec.inputs.flatMap((i) => i.uris));
    if (spec.type === 'historical') {
      uris.push(spec.output.uri, spec.entities.uri);
      for (const set of spec.featureSets) uris.push(...set.inputs.flatMap((i) => i.uris));
    }
    return uris.some(isRemoteUri);
  }
}

/** One at a time: a job's downloads share the disk and the network, not the memory. */
async function serial<T, R>(items: readonly T[], map: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (const item of items) results.push(await map(item));
  return results;
}
