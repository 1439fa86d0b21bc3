import {
  Client,
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callSignal } from '../src/grpc/call-signal.js';

/** A service of one unary method taking and returning raw bytes. */
const slowService = {
  wait: {
    path: '/featurestore.test.Slow/Wait',
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (value: Buffer) => value,
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (value: Buffer) => value,
  },
} as const;

/**
 * `callSignal` on a bare grpc-js server (no `FeatureStoreServer` interceptor): the handler
 * waits on the signal, as an engine call given it would.
 */
describe('callSignal on a bare grpc-js server', () => {
  let server: Server;
  let client: Client;
  const aborted: { reason: unknown }[] = [];
  let handlerEntered: (() => void) | undefined;

  beforeAll(async () => {
    server = new Server();
    server.addService(slowService, {
      wait: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        const signal = callSignal(call);
        expect(callSignal(call)).toBe(signal);
        handlerEntered?.();
        signal.addEventListener('abort', () => {
          aborted.push({ reason: signal.reason });
          callback({ code: status.CANCELLED, details: 'stopped' });
        });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  });
  afterAll(() => {
    client?.close();
    server?.forceShutdown();
  });

  function call(deadline?: Date) {
    const entered = new Promise<void>((resolve) => {
      handlerEntered = resolve;
    });
    let cancel!: () => void;
    const result = new Promise<ServiceError>((resolve) => {
      const request = client.makeUnaryRequest(
        slowService.wait.path,
        slowService.wait.requestSerialize,
        slowService.wait.responseDeserialize,
        Buffer.alloc(0),
        new Metadata(),
        deadline ? { deadline } : {},
        (error) => resolve(error!),
      );
      cancel = () => request.cancel();
    });
    return { entered, result, cancel: () => cancel() };
  }

  it('aborts with a CancelledError saying the client cancelled', async () => {
    const waiting = call();
    await waiting.entered;
    const count = aborted.length;
    waiting.cancel();
    expect((await waiting.result).code).toBe(status.CANCELLED);
    await expect.poll(() => aborted.length).toBe(count + 1);
    expect(aborted.at(-1)!.reason).toMatchObject({
      code: 'CANCELLED',
      message: expect.stringContaining('the client cancelled the call'),
      details: { reason: 'cancelled' },
    });
  });

  it('aborts with a CancelledError naming the deadline once it passed', async () => {
    const count = aborted.length;
    const waiting = call(new Date(Date.now() + 300));
    expect((await waiting.result).code).toBe(status.DEADLINE_EXCEEDED);
    await expect.poll(() => aborted.length).toBe(count + 1);
    expect(aborted.at(-1)!.reason).toMatchObject({
      code: 'CANCELLED',
      message: expect.stringContaining('deadline passed'),
      details: { reason: 'deadline' },
    });
  });
});
