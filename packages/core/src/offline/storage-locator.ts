import { NotSupportedError } from '../errors.js';
import type { ObjectStorage } from '../ports/object-storage.js';

/** An object named by a URI: the storage that holds it and its key there. */
export interface LocatedObject {
  storage: ObjectStorage;
  key: string;
}

/**
 * Finds the storage behind a URI (`s3://…`, `abfss://…`): the store's own storage for its
 * data files, others for ingestion sources. `undefined` for local files.
 */
export type StorageLocator = (uri: string) => LocatedObject | undefined;

/** URIs with a scheme other than `file:` (and not plain paths). */
export function isRemoteUri(uri: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file://');
}

/** The root URI of a storage: `uri(key)` is always `root + key`. */
export function storageRoot(storage: ObjectStorage): string {
  const probe = 'x';
  return storage.uri(probe).slice(0, -probe.length);
}

/**
 * A locator over known storages: a URI under one of their roots maps to it. Anything else
 * with a scheme is refused, naming the URI and the schemes that are configured.
 */
export function storagesLocator(
  storages: readonly ObjectStorage[],
  open?: (uri: string) => LocatedObject | undefined,
): StorageLocator {
  const roots = storages.map((storage) => ({ storage, root: storageRoot(storage) }));
  return (uri) => {
    if (!isRemoteUri(uri)) return undefined;
    const known = roots.find(({ root }) => uri.startsWith(root));
    if (known) return { storage: known.storage, key: uri.slice(known.root.length) };
    const opened = open?.(uri);
    if (opened) return opened;
    throw new NotSupportedError(
      `${uri}: no storage is configured for this location: use a local path, or a URL under ${roots.map(({ root }) => root).join(', ') || 'a configured storage'}`,
      { details: { field: 'uri', value: uri } },
    );
  };
}
