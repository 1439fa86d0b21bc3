import { NotSupportedError } from '@featurestore/core';

/**
 * Imports the SDK on first use, so merely importing the driver costs nothing, and a missing
 * package fails with a message naming it instead of a bare module-resolution error.
 */
export async function loadModule<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new NotSupportedError(
        `the kafka message queue needs the package "${name}", which is not installed: run \`npm install ${name}\``,
        { cause: error, details: { package: name } },
      );
    }
    throw error;
  }
}
