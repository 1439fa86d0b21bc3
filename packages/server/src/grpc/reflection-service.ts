import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import type { Server } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';

/** The API as a `FileDescriptorSet`, beside the generated code (`npm run generate`). */
const DESCRIPTOR_SET = join('@featurestore', 'protocol', 'descriptor-set.binpb');

/**
 * Where `@featurestore/protocol` keeps its descriptor set: the package is found as Node finds
 * it from here (a workspace link in a clone, a folder under node_modules once installed); the
 * file is not a module, so it has no export to import it by.
 */
function descriptorSetPath(): string {
  const require = createRequire(import.meta.url);
  for (const folder of require.resolve.paths('@featurestore/protocol') ?? []) {
    const candidate = join(folder, DESCRIPTOR_SET);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(
    `${DESCRIPTOR_SET} was not found beside the installed @featurestore/protocol: reinstall it (in a clone, run npm run generate)`,
  );
}

/** The `FileDescriptorProto`s of a `FileDescriptorSet` (field 1), each as it was encoded. */
function fileDescriptors(set: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(set);
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) files.push(reader.bytes());
    else reader.skip(wireType);
  }
  return files;
}

/**
 * Adds gRPC server reflection (`grpc.reflection.v1` and `v1alpha`) listing `services` (fully
 * qualified names), answered from the API's descriptor set: grpcurl, Postman and similar
 * tools call the server without the proto files.
 */
export function addReflection(
  server: Pick<Server, 'addService'>,
  services: readonly string[],
): void {
  const files = fileDescriptors(readFileSync(descriptorSetPath()));
  // @grpc/reflection reads only the `fileDescriptorProtos` of a proto-loader package definition.
  const definition = {
    featurestore: { fileDescriptorProtos: files.map((file) => Buffer.from(file)) },
  };
  new ReflectionService(
    definition as unknown as ConstructorParameters<typeof ReflectionService>[0],
    { services: [...services] },
  ).addToServer(server);
}
