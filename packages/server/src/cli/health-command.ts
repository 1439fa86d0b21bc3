import { readFile } from 'node:fs/promises';
import { UnavailableError, ValidationError } from '@featurestore/core';
import {
  HealthClient,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from '@featurestore/protocol/grpc/health/v1/health';
import { type ChannelCredentials, type ClientOptions, credentials, Metadata } from '@grpc/grpc-js';
import type { Command } from 'commander';
import type { CliIo } from './io.js';
import { seconds } from './options.js';

interface HealthOptions {
  address: string;
  service: string;
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
  timeout: number;
}

async function readPem(option: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new ValidationError(`${option} ${path} cannot be read: ${(error as Error).message}`, {
      details: { field: option, value: path },
    });
  }
}

async function channelOf(options: HealthOptions): Promise<ChannelCredentials> {
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new ValidationError('--cert and --key go together: give both PEM files', {
      details: { field: options.cert === undefined ? '--cert' : '--key' },
    });
  }
  if (options.ca === undefined && options.cert === undefined) return credentials.createInsecure();
  return credentials.createSsl(
    options.ca === undefined ? null : await readPem('--ca', options.ca),
    options.key === undefined ? null : await readPem('--key', options.key),
    options.cert === undefined ? null : await readPem('--cert', options.cert),
  );
}

/**
 * Asks a server's gRPC health service (`grpc.health.v1.Health/Check`) whether `service` ("":
 * the server as a whole) is serving. Resolves with the status; rejects with an
 * `UnavailableError` when the server does not answer within `timeoutMs`.
 */
export async function checkHealth(
  address: string,
  service: string,
  channel: ChannelCredentials,
  timeoutMs: number,
  clientOptions: ClientOptions = {},
): Promise<ServingStatus> {
  const client = new HealthClient(address, channel, clientOptions);
  try {
    return await new Promise<ServingStatus>((resolve, reject) => {
      client.check(
        { service },
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          if (error) {
            reject(
              new UnavailableError(`the health check of ${address} failed: ${error.details}`, {
                details: { address, service, grpcCode: error.code },
              }),
            );
          } else resolve(response.status);
        },
      );
    });
  } finally {
    client.close();
  }
}

/**
 * `featurestore health`: the probe of containers and Kubernetes pods (the kubelet's own gRPC
 * probe has no TLS). Exits 0 when the server says SERVING, 1 otherwise.
 */
export function registerHealthCommand(program: Command, io: CliIo): void {
  program
    .command('health')
    .description(
      "ask a featurestore server's gRPC health service whether it serves; exit 0 if SERVING (container and Kubernetes probes)",
    )
    .option('--address <host:port>', 'the server', '127.0.0.1:50051')
    .option('--service <name>', 'one service (e.g. featurestore.v1.CoreService); "" the server', '')
    .option('--ca <file>', 'TLS: trust the server certificate this PEM CA (or certificate) signed')
    .option('--cert <file>', 'mutual TLS: the client certificate (PEM)')
    .option('--key <file>', 'mutual TLS: the private key of --cert (PEM)')
    .option('--server-name <name>', 'TLS: the name the server certificate must carry')
    .option('--timeout <seconds>', 'how long to wait for the answer', seconds('--timeout'), 5)
    .action(async (options: HealthOptions) => {
      const channel = await channelOf(options);
      const status = await checkHealth(
        options.address,
        options.service,
        channel,
        options.timeout * 1000,
        options.serverName === undefined
          ? {}
          : { 'grpc.ssl_target_name_override': options.serverName },
      );
      const name = ServingStatus[status] ?? String(status);
      if (status !== ServingStatus.SERVING) {
        throw new UnavailableError(
          `${options.address}${options.service ? ` ${options.service}` : ''} is ${name}`,
          { details: { address: options.address, service: options.service, status: name } },
        );
      }
      io.stdout(`${name}\n`);
    });
}
