import type { MetadataOperations, MetadataStore } from '../ports/metadata-store.js';

/**
 * The writes that can change who may read what, or which feature set version a name
 * resolves to. Ingestions, jobs and consumer offsets (written all the time by workers) don't.
 */
const ACCESS_WRITES = new Set<string>([
  'insertProject',
  'updateProject',
  'deleteProject',
  'insertFeatureSet',
  'insertFeatureSetVersion',
  'deleteFeatureSet',
  'insertUser',
  'updateUser',
  'putPermission',
  'deletePermission',
]);

/**
 * Writes that change access with some arguments only: a token update that revokes it (the
 * last known token lookups must not outlive it), not the "last used" time every use writes.
 */
const ACCESS_WRITES_IF: Record<string, (args: unknown[]) => boolean> = {
  updateToken: (args) => (args[1] as { revokedAt?: unknown } | undefined)?.revokedAt !== undefined,
};

/**
 * Counts the access-changing writes made through one metadata store in this process, so that
 * caches of lookups (`ReadThroughCache`) drop at once whatever such a write may have made
 * stale; writes by other processes reach them when their entries expire.
 */
export class MetadataChanges {
  #generation = 0;

  get generation(): number {
    return this.#generation;
  }

  /**
   * The same store, counting the writes in `ACCESS_WRITES` and `ACCESS_WRITES_IF` (also inside
   * transactions).
   */
  track<S extends MetadataStore>(store: S): S {
    const count = <O extends object>(operations: O): O =>
      new Proxy(operations, {
        get: (target, property, receiver) => {
          const member = Reflect.get(target, property, receiver);
          if (typeof member !== 'function') return member;
          if (property === 'transaction') {
            return <T>(work: (tx: MetadataOperations) => Promise<T>) =>
              member.call(target, (tx: MetadataOperations) => work(count(tx)));
          }
          const when = ACCESS_WRITES_IF[String(property)];
          if (!ACCESS_WRITES.has(String(property)) && !when) return member.bind(target);
          return async (...args: unknown[]) => {
            if (when && !when(args)) return member.apply(target, args);
            try {
              return await member.apply(target, args);
            } finally {
              // Also after a failure: the write may have happened before its reply was lost.
              this.#generation += 1;
            }
          };
        },
      });
    return count(store);
  }
}
