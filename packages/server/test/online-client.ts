import {
  type OnlineServiceServer,
  OnlineServiceService,
} from '@featurestore/protocol/featurestore/v1/online';
import {
  type ChannelCredentials,
  Client,
  credentials,
  type handleUnaryCall,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';

type RequestOf<K extends keyof OnlineServiceServer> =
  OnlineServiceServer[K] extends handleUnaryCall<infer Request, unknown> ? Request : never;
type ResponseOf<K extends keyof OnlineServiceServer> =
  OnlineServiceServer[K] extends handleUnaryCall<never, infer Response> ? Response : never;

/** A plain grpc-js client of the OnlineService, as any client would call it. */
export class OnlineTestClient {
  readonly #client: Client;

  constructor(address: string, channel: ChannelCredentials = credentials.createInsecure()) {
    this.#client = new Client(address, channel);
  }

  /**
   * Calls an OnlineService RPC with `authorization: Bearer <token>` (none when undefined);
   * missing request fields take their proto defaults.
   */
  call<K extends keyof OnlineServiceServer & keyof typeof OnlineServiceService>(
    method: K,
    request: Partial<RequestOf<K>>,
    token: string | undefined,
  ): Promise<ResponseOf<K>> {
    const definition = OnlineServiceService[method] as unknown as {
      path: string;
      requestSerialize(value: unknown): Buffer;
      requestDeserialize(value: Buffer): object;
      responseDeserialize(value: Buffer): ResponseOf<K>;
    };
    const metadata = new Metadata();
    if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
    const body = definition.requestSerialize({
      ...definition.requestDeserialize(Buffer.alloc(0)),
      ...request,
    });
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        definition.path,
        (value: Buffer) => value,
        definition.responseDeserialize,
        body,
        metadata,
        (error: ServiceError | null, response?: ResponseOf<K>) =>
          error ? reject(error) : resolve(response!),
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}
