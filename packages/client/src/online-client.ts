import { OnlineServiceService as Online } from '@featurestore/protocol/featurestore/v1/online';
import type { CallRunner } from './call-runner.js';
import type { CallOptions } from './client-options.js';
import { resultRow, rowMessage } from './online-values.js';
import type {
  OnlineFeaturesRequest,
  OnlineFeaturesResult,
  PushOptions,
  PushResult,
} from './records.js';

/** Online reads, pushes and materializations, as the engine's `online` service. */
export class OnlineClient {
  readonly #calls: CallRunner;

  constructor(calls: CallRunner) {
    this.#calls = calls;
  }

  /**
   * The latest values of features of one or more feature sets for many entities, in one
   * round trip: one row per entity, in order, holding its keys then `<featureset>__<feature>`
   * columns (null where there is no value, or it is past the time to live).
   */
  async getOnlineFeatures(
    request: OnlineFeaturesRequest,
    options?: CallOptions,
  ): Promise<Record<string, unknown>[]> {
    return (await this.readOnlineFeatures(request, options)).rows;
  }

  /**
   * `getOnlineFeatures`, saying also which null values are past their feature set's time to
   * live (an expired value) rather than never written.
   */
  async readOnlineFeatures(
    request: OnlineFeaturesRequest,
    options?: CallOptions,
  ): Promise<OnlineFeaturesResult> {
    const entities = request.entities.map((entity) => ({ ...entity }));
    const answer = await this.#calls.unary(
      Online.getOnlineFeatures,
      {
        features: [...request.features],
        entities: entities.map((entity, index) => rowMessage(entity, `entity ${index + 1}`)),
      },
      'idempotent',
      options,
    );
    return {
      rows: answer.rows.map((vector, index) =>
        resultRow(entities[index] ?? {}, answer.columns, vector.values),
      ),
      expired: answer.expired.map(({ row, columns }) => ({ row, columns })),
    };
  }

  /**
   * Pushes rows of one feature set, validated whole (a bad row fails the call and nothing is
   * pushed); with `waitApplied`, answers once they are readable online, with `waitSynced` once
   * they are committed offline too. Sent once: a push whose answer was lost may have been
   * applied.
   */
  async push(
    project: string,
    featureSet: string,
    rows: readonly Record<string, unknown>[],
    pushOptions: PushOptions = {},
    options?: CallOptions,
  ): Promise<PushResult> {
    const answer = await this.#calls.unary(
      Online.push,
      {
        project,
        featureSet,
        rows: rows.map((row, index) => rowMessage(row, `row ${index + 1}`)),
        timeoutMs: pushOptions.timeoutMs ?? 0,
        waitApplied: pushOptions.waitApplied === true,
        ...(pushOptions.waitSynced ? { waitSynced: true } : {}),
      },
      'once',
      options,
    );
    return {
      pushId: answer.pushId,
      rows: answer.rows,
      featureSet: answer.featureSet,
      positions: answer.positions.map(({ partition, offset }) => ({ partition, offset })),
    };
  }

  /**
   * Starts a materialization (offline data to the online store) and returns its job id:
   * follow it with `jobs.wait` or `jobs.watch`.
   */
  async materialize(
    project: string,
    featureSet: string,
    input: { version?: string; rebuild?: boolean } = {},
    options?: CallOptions,
  ): Promise<{ jobId: string }> {
    const { jobId } = await this.#calls.unary(
      Online.materialize,
      { project, featureSet, version: input.version ?? '', rebuild: input.rebuild === true },
      'once',
      options,
    );
    return { jobId };
  }
}
