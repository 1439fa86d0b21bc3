import { type FeatureStoreEngine, ValidationError } from '@featurestore/core';

/** The admin token a first start made. */
export interface FirstAdminToken {
  /** The secret, to print once when it was generated. */
  secret: string;
  /** False when it came from `FEATURESTORE_ADMIN_TOKEN` (the caller already knows it). */
  generated: boolean;
}

/**
 * A remote caller needs a token before anyone can grant anything: on a store whose only user
 * is the local admin and whose admin has no live token, gives the admin one. Its secret is
 * `fromEnvironment` (`FEATURESTORE_ADMIN_TOKEN`, for scripted set-ups) when given, otherwise
 * generated. Returns undefined when the store was already set up.
 */
export async function createFirstAdminToken(
  engine: FeatureStoreEngine,
  fromEnvironment: string | undefined,
  now: Date = new Date(),
): Promise<FirstAdminToken | undefined> {
  const admin = await engine.access.localAdmin();
  const users = await engine.access.listUsers(admin, { pageSize: 2 });
  if (users.items.some((user) => user.id !== admin.userId)) return undefined;
  const live = (await engine.access.listTokens(admin)).filter(
    (token) => !token.revokedAt && !(token.expiresAt && token.expiresAt <= now),
  );
  if (live.length > 0) return undefined;
  const created = await engine.access
    .createToken(admin, {
      name:
        fromEnvironment === undefined ? 'admin (first start)' : 'admin (FEATURESTORE_ADMIN_TOKEN)',
      ...(fromEnvironment === undefined ? {} : { secret: fromEnvironment }),
    })
    .catch((error: unknown) => {
      // Name the variable the secret came from, not the engine's parameter.
      if (error instanceof ValidationError && fromEnvironment !== undefined) {
        throw new ValidationError(`FEATURESTORE_ADMIN_TOKEN: ${error.message}`, {
          cause: error,
          details: { field: 'FEATURESTORE_ADMIN_TOKEN' },
        });
      }
      throw error;
    });
  return { secret: created.secret, generated: fromEnvironment === undefined };
}
