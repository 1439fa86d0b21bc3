import { createHash, randomUUID } from 'node:crypto';
import { type FeatureStoreEngine, ValidationError } from '@featurestore/core';

/** The admin token a first start made. */
export interface FirstAdminToken {
  /** The secret, to print once when it was generated. */
  secret: string;
  /** False when it came from `FEATURESTORE_ADMIN_TOKEN` (the caller already knows it). */
  generated: boolean;
}

/** The engine's personal access tokens start so (and carry 256 random bits after it). */
const TOKEN_PREFIX = 'fst_';
const MIN_SECRET_LENGTH = TOKEN_PREFIX.length + 32;

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
  if (fromEnvironment !== undefined) checkAdminSecret(fromEnvironment);
  const admin = await engine.access.localAdmin();
  const users = await engine.access.listUsers(admin, { pageSize: 2 });
  if (users.items.some((user) => user.id !== admin.userId)) return undefined;
  const live = (await engine.access.listTokens(admin)).filter(
    (token) => !token.revokedAt && !(token.expiresAt && token.expiresAt <= now),
  );
  if (live.length > 0) return undefined;
  if (fromEnvironment === undefined) {
    const created = await engine.access.createToken(admin, { name: 'admin (first start)' });
    return { secret: created.secret, generated: true };
  }
  // The secret is chosen outside, so it is stored as the engine stores its own: by its
  // SHA-256 only (the token provider finds a token by that hash).
  await engine.drivers.metadata.insertToken({
    id: randomUUID(),
    userId: admin.userId,
    name: 'admin (FEATURESTORE_ADMIN_TOKEN)',
    secretHash: createHash('sha256').update(fromEnvironment).digest('hex'),
    createdAt: now,
  });
  return { secret: fromEnvironment, generated: false };
}

function checkAdminSecret(secret: string): void {
  if (!secret.startsWith(TOKEN_PREFIX) || secret.length < MIN_SECRET_LENGTH) {
    throw new ValidationError(
      `FEATURESTORE_ADMIN_TOKEN must be "${TOKEN_PREFIX}" followed by at least 32 random characters, e.g. ${TOKEN_PREFIX}$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')`,
      { details: { field: 'FEATURESTORE_ADMIN_TOKEN' } },
    );
  }
}
