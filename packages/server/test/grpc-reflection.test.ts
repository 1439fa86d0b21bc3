import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { Client, credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureStoreServer } from '../src/grpc/featurestore-server.js';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { createLogger } from '../src/worker-log.js';
import { tempStore } from './helpers.js';

/**
 * A raw `ServerReflectionInfo` call through grpc-js, as grpcurl makes it: the request and
 * response messages of grpc/reflection/v1/reflection.proto encoded by hand (field numbers
 * from that file), one request, one response.
 */
async function reflect(
  address: string,
  request: { listServices: string } | { fileContainingSymbol: string },
  version: 'v1' | 'v1alpha' = 'v1',
): Promise<{ services: string[]; files: Uint8Array[]; error?: string }> {
  const writer = new BinaryWriter();
  if ('listServices' in request)
    writer.tag(7, WireType.LengthDelimited).string(request.listServices);
  else writer.tag(4, WireType.LengthDelimited).string(request.fileContainingSymbol);
  const client = new Client(address, credentials.createInsecure());
  try {
    const stream = client.makeBidiStreamRequest(
      `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`,
      (value: Uint8Array) => Buffer.from(value),
      (value: Buffer) => value,
    );
    const response = new Promise<Buffer>((resolve, reject) => {
      stream.once('data', resolve);
      stream.once('error', reject);
    });
    stream.write(writer.finish());
    const bytes = await response;
    stream.end();
    return decodeResponse(bytes);
  } finally {
    client.close();
  }
}

/** `ServerReflectionResponse`: list_services_response (6), file_descriptor_response (4), error_response (7). */
function decodeResponse(bytes: Uint8Array): {
  services: string[];
  files: Uint8Array[];
  error?: string;
} {
  const result: { services: string[]; files: Uint8Array[]; error?: string } = {
    services: [],
    files: [],
  };
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 6) {
      // ListServiceResponse { repeated ServiceResponse service = 1 } / ServiceResponse { name = 1 }
      const list = new BinaryReader(reader.bytes());
      while (list.pos < list.len) {
        list.tag(); // field 1, the only one
        const service = new BinaryReader(list.bytes());
        while (service.pos < service.len) {
          const [serviceField, serviceType] = service.tag();
          if (serviceField === 1) result.services.push(service.string());
          else service.skip(serviceType);
        }
      }
    } else if (field === 4) {
      // FileDescriptorResponse { repeated bytes file_descriptor_proto = 1 }
      const files = new BinaryReader(reader.bytes());
      while (files.pos < files.len) {
        const [fileField, fileType] = files.tag();
        if (fileField === 1) result.files.push(files.bytes());
        else files.skip(fileType);
      }
    } else if (field === 7) {
      // ErrorResponse { int32 error_code = 1; string error_message = 2 }
      const error = new BinaryReader(reader.bytes());
      while (error.pos < error.len) {
        const [errorField, errorType] = error.tag();
        if (errorField === 2) result.error = error.string();
        else error.skip(errorType);
      }
    } else {
      reader.skip(wireType);
    }
  }
  return result;
}

describe('gRPC server reflection', () => {
  let folder: Awaited<ReturnType<typeof tempStore>>;
  let store: FeatureStore;
  beforeAll(async () => {
    folder = await tempStore();
    store = await openFeatureStore({ store: folder.dir });
  });
  afterAll(async () => {
    await store?.close();
    await folder?.remove();
  });

  async function withServer(role: 'all' | 'core', run: (address: string) => Promise<void>) {
    const server = await FeatureStoreServer.start(store, {
      listen: '127.0.0.1:0',
      role,
      logger: createLogger('silent'),
    });
    try {
      await run(server.address);
    } finally {
      await server.shutdown();
    }
  }

  it('lists every service served, in v1 and v1alpha, and describes them from the descriptor set', async () => {
    await withServer('all', async (address) => {
      const served = [
        'featurestore.v1.CoreService',
        'featurestore.v1.OnlineService',
        'grpc.health.v1.Health',
      ];
      expect((await reflect(address, { listServices: '*' })).services.sort()).toEqual(served);
      expect((await reflect(address, { listServices: '*' }, 'v1alpha')).services.sort()).toEqual(
        served,
      );

      const { files } = await reflect(address, {
        fileContainingSymbol: 'featurestore.v1.CoreService',
      });
      const descriptors = files.map((file) => fromBinary(FileDescriptorProtoSchema, file));
      const core = descriptors.find((file) => file.name === 'featurestore/v1/core.proto');
      expect(core?.package).toBe('featurestore.v1');
      const methods = core?.service
        .find((service) => service.name === 'CoreService')
        ?.method.map((method) => method.name);
      expect(methods).toEqual(
        expect.arrayContaining(['CreateProject', 'IngestUpload', 'WatchJob']),
      );
      // The files it imports come along, so a tool can decode every message.
      expect(descriptors.map((file) => file.name)).toEqual(
        expect.arrayContaining(core!.dependency),
      );
      // With the comments of the proto files (source info), for `grpcurl describe`.
      expect(core?.sourceCodeInfo?.location.some((location) => location.leadingComments)).toBe(
        true,
      );
    });
  });

  it('lists only what the role serves', async () => {
    await withServer('core', async (address) => {
      expect((await reflect(address, { listServices: '*' })).services.sort()).toEqual([
        'featurestore.v1.CoreService',
        'grpc.health.v1.Health',
      ]);
    });
  });
});
