import { CoreServiceService as Core } from '@featurestore/protocol/featurestore/v1/core';
import type { CallRunner } from './call-runner.js';
import type { CallOptions } from './client-options.js';
import { dataFormatMessage } from './data-messages.js';
import { type UploadSource, uploadFormat, uploadName, uploadParts } from './file-transfer.js';
import type { DataFormat, FeatureSetDefinition, Tags } from './records.js';

export interface InferOptions {
  primaryKey: readonly string[];
  eventTime: string;
  format?: DataFormat;
  timeToLive?: string;
  description?: string;
  tags?: Tags;
}

export interface InferredSchema {
  /** What `featureSets.register` takes as it is. */
  definition: FeatureSetDefinition;
  /** What a reviewer should know about the values behind the types. */
  notes: string[];
  rowCount: number;
}

/** A feature set definition inferred from a sample uploaded from here (registers nothing). */
export class SchemaInferenceClient {
  readonly #calls: CallRunner;

  constructor(calls: CallRunner) {
    this.#calls = calls;
  }

  async infer(
    project: string,
    sample: UploadSource,
    input: InferOptions,
    options?: CallOptions,
  ): Promise<InferredSchema> {
    const header = {
      project,
      primaryKey: [...input.primaryKey],
      eventTime: input.eventTime,
      format: dataFormatMessage(uploadFormat(sample, input.format)),
      fileName: uploadName(sample),
      timeToLive: input.timeToLive ?? '',
      description: input.description ?? '',
      tags: input.tags ?? {},
    };
    const messages = async function* () {
      yield { header };
      yield* uploadParts(sample);
    };
    const answer = await this.#calls.clientStream(Core.inferSchema, messages(), options);
    const schema = answer.schema;
    return {
      definition: {
        primaryKey: schema?.primaryKey ?? [],
        eventTime: schema?.eventTime ?? '',
        features: (schema?.features ?? []).map((feature) => ({
          name: feature.name,
          type: feature.type,
          ...(feature.description === '' ? {} : { description: feature.description }),
          ...(Object.keys(feature.tags).length === 0 ? {} : { tags: feature.tags }),
          ...(feature.sensitive ? { sensitive: true } : {}),
        })),
        ...(answer.timeToLive === '' ? {} : { timeToLive: answer.timeToLive }),
        ...(answer.description === '' ? {} : { description: answer.description }),
        ...(Object.keys(answer.tags).length === 0 ? {} : { tags: answer.tags }),
      },
      notes: answer.notes,
      rowCount: answer.rowCount,
    };
  }
}
