import { ValidationError } from '@featurestore/core';

const UNITS: Record<string, number> = { '': 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };
/** grpc-js and HTTP/2 keep limits in signed 32-bit integers. */
const MAX_LIMIT = 2 ** 31 - 1;

/**
 * The parser of a `--max-…-message-size <bytes>` option: bytes, or a number of KiB, MiB or
 * GiB (`16MiB`), above zero and below 2 GiB.
 */
export function byteSize(option: string): (value: string) => number {
  return (value) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(kib|mib|gib)?\s*$/i.exec(value);
    const bytes = match
      ? Math.floor(Number(match[1]) * UNITS[(match[2] ?? '').toLowerCase()]!)
      : NaN;
    if (!(bytes >= 1 && bytes <= MAX_LIMIT)) {
      throw new ValidationError(
        `${option} ${JSON.stringify(value)} is not a size from 1 byte to 2GiB: give bytes or KiB, MiB, GiB (e.g. 16MiB)`,
        { details: { field: option, value } },
      );
    }
    return bytes;
  };
}

/** The parser of a count option (`--max-concurrent-streams 100`): a whole number above zero. */
export function positiveCount(option: string): (value: string) => number {
  return (value) => {
    const count = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!(count >= 1 && count <= MAX_LIMIT)) {
      throw new ValidationError(
        `${option} ${JSON.stringify(value)} is not a whole number above zero (e.g. 100)`,
        { details: { field: option, value } },
      );
    }
    return count;
  };
}
