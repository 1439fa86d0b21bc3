import type { OnlineServiceServer } from '@featurestore/protocol/featurestore/v1/online';
import type { OnlineOperations } from '../online-operations.js';
import type { CallAuthenticator } from './call-authenticator.js';
import { unary } from './core-service.js';
import { engineRowOf, featureVectorsOf } from './online-messages.js';

/**
 * `featurestore.v1.OnlineService`: each RPC one of the `OnlineOperations` (which the HTTP/JSON
 * mapping calls too) as the authenticated caller, its values coded as typed `Value`s.
 */
export function onlineService(
  operations: OnlineOperations,
  authenticator: CallAuthenticator,
): OnlineServiceServer {
  return {
    getOnlineFeatures: unary(authenticator, async (principal, request) => {
      const { columns, rows, expired } = await operations.get(principal, {
        features: request.features,
        entities: request.entities.map((entity, index) =>
          engineRowOf(entity, `entity ${index + 1}`),
        ),
      });
      return { columns, rows: featureVectorsOf(rows, columns), expired };
    }),
    push: unary(authenticator, async (principal, request) => {
      const result = await operations.push(principal, {
        project: request.project,
        featureSet: request.featureSet,
        rows: request.rows.map((row, index) => engineRowOf(row, `row ${index + 1}`)),
        ...(request.timeoutMs > 0 ? { timeoutMs: request.timeoutMs } : {}),
        waitApplied: request.waitApplied,
        waitSynced: request.waitSynced ?? false,
      });
      return {
        pushId: result.pushId,
        rows: result.rows,
        featureSet: result.featureSet,
        positions: result.positions.map(({ partition, offset }) => ({ partition, offset })),
      };
    }),
    materialize: unary(authenticator, async (principal, request) => ({
      jobId: await operations.materialize(principal, {
        project: request.project,
        featureSet: request.featureSet,
        ...(request.version === '' ? {} : { version: request.version }),
        rebuild: request.rebuild,
      }),
    })),
  };
}
