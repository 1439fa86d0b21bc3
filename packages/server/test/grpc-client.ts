import {
  type CoreServiceServer,
  CoreServiceService,
} from '@featurestore/protocol/featurestore/v1/core';
import {
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthService,
} from '@featurestore/protocol/grpc/health/v1/health';
import {
  type ChannelCredentials,
  Client,
  type ClientOptions,
  credentials,
  type handleUnaryCall,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';

type RequestOf<K extends keyof CoreServiceServer> =
  CoreServiceServer[K] extends handleUnaryCall<infer Request, unknown> ? Request : never;
type ResponseOf<K extends keyof CoreServiceServer> =
  CoreServiceServer[K] extends handleUnaryCall<never, infer Response> ? Response : never;

/** A plain grpc-js client of the CoreService and health service, as any client would call. */
export class TestClient {
  readonly #client: Client;

  constructor(
    address: string,
    channel: ChannelCredentials = credentials.createInsecure(),
    options: ClientOptions = {},
  ) {
    this.#client = new Client(address, channel, options);
  }

  /**
   * Calls a CoreService RPC with `authorization: Bearer <token>` (none when undefined); the
   * request's missing fields take their proto defaults (nested messages must be whole).
   */
  core<K extends keyof CoreServiceServer & keyof typeof CoreServiceService>(
    method: K,
    request: Partial<RequestOf<K>>,
    token: string | undefined,
  ): Promise<ResponseOf<K>> {
    const metadata = new Metadata();
    if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
    return this.coreWithMetadata(method, request, metadata);
  }

  /** `grpc.health.v1.Health/Check`, without a token as load balancers call it. */
  async health(service = ''): Promise<HealthCheckResponse_ServingStatus> {
    const definition = HealthService.check;
    const response = await this.#unary(
      definition.path,
      definition.requestSerialize({ service }),
      definition.responseDeserialize,
      new Metadata(),
    );
    return response.status;
  }

  /** The statuses a `Watch` of `service` receives until the server ends it. */
  watch(
    service: string,
    onStatus: (status: HealthCheckResponse_ServingStatus) => void,
  ): Promise<void> {
    const definition = HealthService.watch;
    const stream = this.#client.makeServerStreamRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      { service },
    );
    stream.on('data', (response: HealthCheckResponse) => onStatus(response.status));
    return new Promise((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('error', reject);
    });
  }

  /** Sends raw metadata (to test malformed authorization headers). */
  coreWithMetadata<K extends keyof CoreServiceServer & keyof typeof CoreServiceService>(
    method: K,
    request: Partial<RequestOf<K>>,
    metadata: Metadata,
  ): Promise<ResponseOf<K>> {
    const definition = CoreServiceService[method] as unknown as {
      path: string;
      requestSerialize(value: unknown): Buffer;
      requestDeserialize(value: Buffer): object;
      responseDeserialize(value: Buffer): ResponseOf<K>;
    };
    return this.#unary(
      definition.path,
      definition.requestSerialize({
        ...definition.requestDeserialize(Buffer.alloc(0)),
        ...request,
      }),
      definition.responseDeserialize,
      metadata,
    );
  }

  #unary<Response>(
    path: string,
    body: Buffer,
    deserialize: (value: Buffer) => Response,
    metadata: Metadata,
  ): Promise<Response> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        path,
        (value: Buffer) => value,
        deserialize,
        body,
        metadata,
        (error: ServiceError | null, response?: Response) =>
          error ? reject(error) : resolve(response!),
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}

export { HealthCheckResponse_ServingStatus as ServingStatus };
