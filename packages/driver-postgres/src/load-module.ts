import { NotSupportedError } from '@featurestore/core';

/**
 * Imports an optional SDK on first use, so opening a store over `pg` never loads PGlite's
 * WebAssembly and the other way round. A missing package fails with a message naming it.
 */
export async function loadModule<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new NotSupportedError(
        `the postgres driver needs the package "${name}", which is not installed: run \`npm install ${name}\``,
        { cause: error, details: { package: name } },
      );
    }
    throw error;
  }
}
