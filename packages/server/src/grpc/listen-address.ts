import { isIP } from 'node:net';
import { ValidationError } from '@featurestore/core';

/** Where the server listens, as given by `--listen HOST:PORT`. */
export interface ListenAddress {
  host: string;
  /** 0 lets the system choose a free port. */
  port: number;
  /** Only this machine can connect: plaintext is allowed there without `--insecure`. */
  loopback: boolean;
}

/** The default of `featurestore serve`: this machine only. */
export const DEFAULT_LISTEN = '127.0.0.1:50051';

/** Parses `HOST:PORT` (`[::1]:PORT` for IPv6), naming the option and value in the error. */
export function parseListenAddress(value: string, option = '--listen'): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (
    !match ||
    host === undefined ||
    port > 65_535 ||
    (match[1] !== undefined && isIP(host) !== 6)
  ) {
    throw new ValidationError(
      `${option} ${JSON.stringify(value)} is not HOST:PORT: use e.g. ${DEFAULT_LISTEN}, 0.0.0.0:50051 or [::1]:50051`,
      { details: { field: option.replace(/^--/, ''), value } },
    );
  }
  return { host, port, loopback: isLoopback(host) };
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** The address in the form grpc-js binds and clients dial. */
export function formatListenAddress(address: { host: string; port: number }): string {
  return isIP(address.host) === 6
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}
