import type { IncomingMessage } from 'node:http';
import { type Principal, ValidationError } from '@featurestore/core';
import { Metadata } from '@grpc/grpc-js';
import type { CallAuthenticator } from '../grpc/call-authenticator.js';
import type { OnlineOperations } from '../online-operations.js';
import { type HttpRoute, sendJson } from './http-server.js';

/** The largest JSON body accepted: gRPC's default message limit. */
export const MAX_JSON_BODY_BYTES = 4 * 1024 * 1024;

/**
 * The HTTP/JSON mapping of the online service, for callers without gRPC (curl, a Java or Go
 * inference service): `POST /v1/online/get` and `POST /v1/online/push`, authenticated like
 * gRPC calls (`Authorization: Bearer <token>`), running the same `OnlineOperations`. Values
 * are the engine's JSON forms (int64 beyond 2^53 as a decimal string, times ISO 8601, dates
 * YYYY-MM-DD, bytes base64); errors are `{ code, message, details }` with the engine code.
 */
export function onlineJsonRoutes(
  operations: OnlineOperations,
  authenticator: CallAuthenticator,
  options: { maxBodyBytes?: number } = {},
): HttpRoute[] {
  const maxBodyBytes = options.maxBodyBytes ?? MAX_JSON_BODY_BYTES;
  const principalOf = (request: IncomingMessage): Promise<Principal> => {
    // The gRPC authenticator reads metadata: the header is the same value.
    const metadata = new Metadata();
    const header = request.headers.authorization;
    if (header !== undefined) metadata.set('authorization', header);
    return authenticator.authenticate(metadata);
  };
  return [
    {
      method: 'POST',
      path: '/v1/online/get',
      async handle(request, response) {
        const principal = await principalOf(request);
        const body = await readJsonObject(request, maxBodyBytes);
        const output = await operations.get(principal, {
          features: featuresOf(body.features),
          entities: objectsOf(body.entities, 'entities', 'entity'),
        });
        sendJson(response, 200, output);
      },
    },
    {
      method: 'POST',
      path: '/v1/online/push',
      async handle(request, response) {
        const principal = await principalOf(request);
        const body = await readJsonObject(request, maxBodyBytes);
        const result = await operations.push(principal, {
          project: stringOf(body.project, 'project'),
          featureSet: stringOf(body.featureSet, 'featureSet'),
          rows: arrayOf(body.rows, 'rows'),
          ...(body.timeoutMs === undefined ? {} : { timeoutMs: timeoutOf(body.timeoutMs) }),
          ...(body.waitApplied === undefined
            ? {}
            : { waitApplied: booleanOf(body.waitApplied, 'waitApplied') }),
          ...(body.waitSynced === undefined
            ? {}
            : { waitSynced: booleanOf(body.waitSynced, 'waitSynced') }),
        });
        sendJson(response, 200, result);
      },
    },
  ];
}

/** The request body as a JSON object, at most `limit` bytes. */
async function readJsonObject(
  request: IncomingMessage,
  limit: number,
): Promise<Record<string, unknown>> {
  const type = request.headers['content-type'];
  if (type !== undefined && !/^application\/json\b/i.test(type)) {
    throw new ValidationError(
      `the body is ${type}: send JSON with content-type: application/json`,
      { details: { field: 'content-type', value: type } },
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      throw new ValidationError(
        `the body is over ${limit} bytes: send fewer entities or rows per request`,
        { details: { field: 'body', limit } },
      );
    }
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new ValidationError(`the body is not JSON: ${(error as Error).message}`, {
      details: { field: 'body' },
    });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('the body must be a JSON object', { details: { field: 'body' } });
  }
  return body as Record<string, unknown>;
}

function featuresOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  throw new ValidationError(
    'features must be a list of "project/featureset[@version]:feature" strings',
    { details: { field: 'features', value } },
  );
}

function arrayOf(value: unknown, field: string): unknown[] {
  if (Array.isArray(value)) return value;
  throw new ValidationError(`${field} must be a JSON array`, { details: { field } });
}

function objectsOf(value: unknown, field: string, item: string): Record<string, unknown>[] {
  return arrayOf(value, field).map((entry, index) => {
    if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
      return entry as Record<string, unknown>;
    }
    throw new ValidationError(
      `${item} ${index + 1} must be a JSON object of its primary-key columns`,
      { details: { field, row: index + 1 } },
    );
  });
}

function stringOf(value: unknown, field: string): string {
  if (typeof value === 'string' && value !== '') return value;
  throw new ValidationError(`${field} must be a non-empty string`, {
    details: { field, value },
  });
}

function booleanOf(value: unknown, field: string): boolean {
  if (typeof value === 'boolean') return value;
  throw new ValidationError(`${field} must be true or false`, { details: { field, value } });
}

function timeoutOf(value: unknown): number {
  if (Number.isInteger(value) && (value as number) > 0) return value as number;
  throw new ValidationError('timeoutMs must be a positive integer of milliseconds', {
    details: { field: 'timeoutMs', value },
  });
}
