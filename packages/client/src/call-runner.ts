import { Client, Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  type CallOptions,
  channelCredentialsOf,
  DEFAULT_DEADLINE_MS,
  endpointOf,
  type FeatureStoreClientOptions,
} from './client-options.js';
import {
  CancelledError,
  DeadlineExceededError,
  errorFromStatus,
  type FeatureStoreError,
  ValidationError,
} from './errors.js';
import { OidcTokenSource } from './oidc-client-credentials.js';
import { backoffMs, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry-policy.js';

/** A unary method as ts-proto describes it in a service definition. */
export interface UnaryMethod<Request, Response> {
  path: string;
  requestSerialize(value: Request): Buffer;
  responseDeserialize(value: Buffer): Response;
}

/** Whether a call may be sent again after UNAVAILABLE: reads, and writes with an idempotency key. */
export type Idempotency = 'idempotent' | 'once';

/**
 * Makes the calls of every service client: one channel, the bearer token on each call, a
 * deadline over all attempts, retries with backoff of idempotent calls on UNAVAILABLE, and
 * failures as the typed errors of their engine codes.
 */
export class CallRunner {
  readonly #client: Client;
  readonly #token: () => Promise<string | undefined>;
  readonly #deadlineMs: number;
  readonly #retry: Required<RetryPolicy>;

  constructor(options: FeatureStoreClientOptions) {
    const endpoint = endpointOf(options);
    if (options.token !== undefined && options.oidc !== undefined) {
      throw new ValidationError('token and oidc are both given: authenticate with one of them', {
        details: { field: 'oidc' },
      });
    }
    this.#client = new Client(
      endpoint,
      channelCredentialsOf(endpoint, options.tls),
      options.channelOptions ?? {},
    );
    if (options.oidc !== undefined) {
      const source = new OidcTokenSource(options.oidc);
      this.#token = () => source.token();
    } else {
      const token = options.token ?? process.env.FEATURESTORE_TOKEN;
      this.#token = () => Promise.resolve(token === '' ? undefined : token);
    }
    this.#deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.#retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  }

  /** One logical call: attempts until success, a final error, or the deadline. */
  async unary<Request, Response>(
    method: UnaryMethod<Request, Response>,
    request: Request,
    idempotency: Idempotency,
    options: CallOptions = {},
  ): Promise<Response> {
    const deadline = Date.now() + (options.deadlineMs ?? this.#deadlineMs);
    const attempts = idempotency === 'idempotent' ? this.#retry.maxAttempts : 1;
    for (let attempt = 1; ; attempt++) {
      if (options.signal?.aborted) throw new CancelledError('the call was cancelled');
      try {
        return await this.#attempt(method, request, deadline, options.signal);
      } catch (error) {
        const failure = error as FeatureStoreError;
        if (failure.code !== 'UNAVAILABLE' || failure instanceof DeadlineExceededError) throw error;
        if (attempt >= attempts) throw error;
        const wait = backoffMs(this.#retry, attempt);
        // A retry that could not start before the deadline would only fail later.
        if (Date.now() + wait >= deadline) throw error;
        await sleep(wait, options.signal);
      }
    }
  }

  async #attempt<Request, Response>(
    method: UnaryMethod<Request, Response>,
    request: Request,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const metadata = new Metadata();
    const token = await this.#token();
    if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
    const name = method.path.slice(method.path.lastIndexOf('/') + 1);
    return new Promise<Response>((resolve, reject) => {
      const call = this.#client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline: new Date(deadline) },
        (error: ServiceError | null, response?: Response) => {
          signal?.removeEventListener('abort', cancel);
          if (error) reject(errorFromStatus(error, name));
          else resolve(response as Response);
        },
      );
      const cancel = () => call.cancel();
      // Aborted while the token was fetched: the listener would never fire.
      if (signal?.aborted) cancel();
      else signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  /** Closes the channel; calls made afterwards fail. */
  close(): void {
    this.#client.close();
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(new CancelledError('the call was cancelled while waiting to retry'));
    };
    signal?.addEventListener('abort', abort, { once: true });
  });
}
