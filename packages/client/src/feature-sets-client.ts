import { CoreServiceService as Core } from '@featurestore/protocol/featurestore/v1/core';
import type { CallRunner } from './call-runner.js';
import type { CallOptions } from './client-options.js';
import {
  definitionMessage,
  featureSetOf,
  featureSetVersionOf,
  tagFilterMessage,
} from './messages.js';
import type {
  FeatureSet,
  FeatureSetVersion,
  ListFeatureSetsInput,
  Page,
  UpdateFeatureSetInput,
} from './records.js';

/** Feature sets and their versions, as the engine's `featureSets` service. */
export class FeatureSetsClient {
  readonly #calls: CallRunner;

  constructor(calls: CallRunner) {
    this.#calls = calls;
  }

  /**
   * Registers version 1.0 from a definition in the schema file format (a `FeatureSetDefinition`,
   * or JSON read from a schema file: the server validates it and names the field of a problem).
   */
  async register(
    project: string,
    name: string,
    definition: unknown,
    options?: CallOptions,
  ): Promise<FeatureSet> {
    const request = { project, name, ...definitionMessage(definition) };
    return featureSetOf(await this.#calls.unary(Core.registerFeatureSet, request, 'once', options));
  }

  /** One version: the latest, or `version` as `MAJOR` (its latest minor) or `MAJOR.MINOR`. */
  async get(
    project: string,
    name: string,
    version?: string,
    options?: CallOptions,
  ): Promise<FeatureSet> {
    const request = { project, name, version: version ?? '' };
    return featureSetOf(
      await this.#calls.unary(Core.getFeatureSet, request, 'idempotent', options),
    );
  }

  async list(input: ListFeatureSetsInput = {}, options?: CallOptions): Promise<Page<FeatureSet>> {
    const request = {
      project: input.project ?? '',
      namePrefix: input.namePrefix ?? '',
      tag: tagFilterMessage(input.tag),
      feature: input.feature ?? '',
      text: input.text ?? '',
      pageSize: input.pageSize ?? 0,
      pageToken: input.pageToken ?? '',
    };
    const page = await this.#calls.unary(Core.listFeatureSets, request, 'idempotent', options);
    return {
      items: page.featureSets.map(featureSetOf),
      ...(page.nextPageToken === '' ? {} : { nextPageToken: page.nextPageToken }),
    };
  }

  /** Metadata changes make a new minor version, a changed schema a new major one. */
  async update(
    project: string,
    name: string,
    input: UpdateFeatureSetInput,
    options?: CallOptions,
  ): Promise<FeatureSet> {
    // A new definition brings its own description, tags and time to live, unless given.
    const definition = input.schema === undefined ? undefined : definitionMessage(input.schema);
    // As the engine: a definition's tags apply only when it has some.
    const definitionTags =
      definition && Object.keys(definition.tags).length > 0 ? definition.tags : undefined;
    const tags = input.tags ?? definitionTags;
    const timeToLive =
      input.timeToLive === undefined
        ? definition?.timeToLive || undefined
        : (input.timeToLive ?? 'none');
    const request = {
      project,
      name,
      description: input.description ?? (definition?.description || undefined),
      tags: tags ?? {},
      replaceTags: tags !== undefined,
      timeToLive,
      schema: definition?.schema,
      expectedRevision: input.expectedRevision,
    };
    return featureSetOf(await this.#calls.unary(Core.updateFeatureSet, request, 'once', options));
  }

  /** Every version, oldest first, with what changed in each. */
  async versions(
    project: string,
    name: string,
    options?: CallOptions,
  ): Promise<FeatureSetVersion[]> {
    const { versions } = await this.#calls.unary(
      Core.listFeatureSetVersions,
      { project, name },
      'idempotent',
      options,
    );
    return versions.map(featureSetVersionOf);
  }

  /** Deletes the feature set with all its versions and data. */
  async delete(project: string, name: string, options?: CallOptions): Promise<void> {
    await this.#calls.unary(Core.deleteFeatureSet, { project, name }, 'once', options);
  }
}
