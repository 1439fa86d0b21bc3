import { NotSupportedError, ValidationError } from '../errors.js';

/**
 * Imports a driver's SDK on first use, so merely importing the driver costs nothing, and a
 * missing package fails with a message naming it instead of a bare module-resolution error.
 *
 * @example
 * const { S3Client } = await loadModule('s3 object storage', '@aws-sdk/client-s3', () => import('@aws-sdk/client-s3'));
 */
export async function loadModule<T>(
  driver: string,
  name: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new NotSupportedError(
        `the ${driver} needs the package "${name}", which is not installed: run \`npm install ${name}\``,
        { cause: error, details: { package: name } },
      );
    }
    throw error;
  }
}

/** A setting that must be a positive integer (batch sizes, part sizes, partitions…). */
export function positiveInteger(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ValidationError(`${field} must be a positive integer, not ${value}`, {
      details: { field, value },
    });
  }
  return value;
}
