import { once } from 'node:events';
import { Client, Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  type CallOptions,
  channelCredentialsOf,
  DEFAULT_DEADLINE_MS,
  endpointOf,
  type FeatureStoreClientOptions,
  tlsChannelOptions,
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
    this.#client = new Client(endpoint, channelCredentialsOf(endpoint, options.tls), {
      ...tlsChannelOptions(options.tls),
      ...options.channelOptions,
    });
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
    const metadata = await this.#metadata();
    const name = methodName(method);
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

  /**
   * A client stream (an upload): `messages` written in order with backpressure, the answer
   * once the server has them all. Sent once, never retried; no deadline unless given (an
   * upload takes as long as the file is big). A failing source cancels the call.
   */
  async clientStream<Request, Response>(
    method: UnaryMethod<Request, Response>,
    messages: AsyncIterable<Request>,
    options: CallOptions = {},
  ): Promise<Response> {
    const metadata = await this.#metadata();
    const name = methodName(method);
    const ended = new AbortController();
    return new Promise<Response>((resolve, reject) => {
      const call = this.#client.makeClientStreamRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        metadata,
        options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs },
        (error: ServiceError | null, response?: Response) => {
          ended.abort();
          options.signal?.removeEventListener('abort', cancel);
          if (error) reject(errorFromStatus(error, name));
          else resolve(response as Response);
        },
      );
      const cancel = () => call.cancel();
      if (options.signal?.aborted) cancel();
      else options.signal?.addEventListener('abort', cancel, { once: true });
      (async () => {
        for await (const message of messages) {
          if (ended.signal.aborted) return;
          // Backpressure: wait for the channel to take more, or for the call to end.
          if (!call.write(message)) await once(call, 'drain', { signal: ended.signal });
        }
        call.end();
      })().catch((error: unknown) => {
        if (ended.signal.aborted) return;
        call.cancel();
        reject(error);
      });
    });
  }

  /**
   * A server stream (a download, a job's progress): its messages as they arrive. No deadline
   * unless given; a failure ends the iteration with the typed error.
   */
  async *serverStream<Request, Response>(
    method: UnaryMethod<Request, Response>,
    request: Request,
    options: CallOptions = {},
  ): AsyncGenerator<Response> {
    const metadata = await this.#metadata();
    const call = this.#client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      metadata,
      options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs },
    );
    const cancel = () => call.cancel();
    if (options.signal?.aborted) cancel();
    else options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      for await (const message of call) yield message as Response;
    } catch (error) {
      const failure = error as ServiceError;
      throw typeof failure?.code === 'number'
        ? errorFromStatus(failure, methodName(method))
        : error;
    } finally {
      options.signal?.removeEventListener('abort', cancel);
      // A consumer that stops early cancels the rest.
      call.cancel();
    }
  }

  async #metadata(): Promise<Metadata> {
    const metadata = new Metadata();
    const token = await this.#token();
    if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
    return metadata;
  }

  /** Closes the channel; calls made afterwards fail. */
  close(): void {
    this.#client.close();
  }
}

/** `GetProject` of `/featurestore.v1.CoreService/GetProject`, for messages. */
function methodName(method: { path: string }): string {
  return method.path.slice(method.path.lastIndexOf('/') + 1);
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
