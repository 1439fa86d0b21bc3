import {
  type FeatureStoreClient,
  isFeatureStoreError as isClientError,
  type FeatureSet as RemoteFeatureSet,
  type FeatureSetVersion as RemoteFeatureSetVersion,
} from '@featurestore/client';
import {
  type AccessService,
  AlreadyExistsError,
  CancelledError,
  ConflictError,
  type FeatureSet,
  type FeatureSetService,
  type FeatureSetVersion,
  FeatureStoreError,
  NotFoundError,
  NotSupportedError,
  PermissionDeniedError,
  type ProjectService,
  type TokenInfo,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
} from '@featurestore/core';

/*
 * The engine's services as the CLI's commands call them (`engine.projects.create(principal,
 * …)`), answered by the server through the client: the principal is the server's business
 * (the token's owner), so it is ignored here. Records come back in the engine's shapes, minus
 * the fields the wire does not carry; errors as core's error classes, so a command prints
 * them exactly as it prints an embedded store's.
 */

type CoreErrorClass = new (
  message: string,
  options?: { cause?: unknown; details?: Record<string, unknown> },
) => FeatureStoreError;

const CORE_ERRORS: Record<string, CoreErrorClass> = {
  VALIDATION: ValidationError,
  NOT_FOUND: NotFoundError,
  ALREADY_EXISTS: AlreadyExistsError,
  CONFLICT: ConflictError,
  UNAUTHENTICATED: UnauthenticatedError,
  PERMISSION_DENIED: PermissionDeniedError,
  UNAVAILABLE: UnavailableError,
  NOT_SUPPORTED: NotSupportedError,
  CANCELLED: CancelledError,
};

/** The core error of an engine code (INTERNAL, or a code core does not know, a plain one). */
export function coreError(
  code: string,
  message: string,
  options: { cause?: unknown; details?: Record<string, unknown> } = {},
): FeatureStoreError {
  const ErrorClass = CORE_ERRORS[code];
  return ErrorClass
    ? new ErrorClass(message, options)
    : new FeatureStoreError('INTERNAL', message, options);
}

/** A client error as the core error of the same code; anything else unchanged. */
export function coreErrorOf(error: unknown): unknown {
  if (!isClientError(error)) return error;
  return coreError(error.code, error.message, { cause: error, details: error.details });
}

/** Runs a client call, rethrowing its failure as a core error. */
async function remote<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw coreErrorOf(error);
  }
}

/*
 * The wire does not carry who created a version, the project id, the owner or the token's
 * user: those fields are left out (they are absent from --json output in remote mode).
 */
function featureSetVersionOf(version: RemoteFeatureSetVersion): FeatureSetVersion {
  return version as unknown as FeatureSetVersion;
}

function featureSetOf(featureSet: RemoteFeatureSet): FeatureSet {
  return featureSet as unknown as FeatureSet;
}

type Projects = Pick<ProjectService, 'create' | 'get' | 'list' | 'update' | 'delete'>;
type FeatureSets = Pick<
  FeatureSetService,
  'register' | 'get' | 'list' | 'update' | 'versions' | 'delete'
>;
type Access = Pick<
  AccessService,
  | 'createUser'
  | 'listUsers'
  | 'setAdmin'
  | 'createToken'
  | 'listTokens'
  | 'revokeToken'
  | 'grant'
  | 'revoke'
  | 'listPermissions'
>;

/** The engine services a server answers today, with the engine's signatures. */
export interface RemoteServices {
  projects: Projects;
  featureSets: FeatureSets;
  access: Access;
}

export function remoteServices(client: FeatureStoreClient): RemoteServices {
  const { projects, featureSets, access } = client;
  return {
    projects: {
      create: (_principal, input) => remote(projects.create(input)),
      get: (_principal, name) => remote(projects.get(name)),
      list: (_principal, input) => remote(projects.list(input)),
      update: (_principal, name, input) => remote(projects.update(name, input)),
      delete: (_principal, name, options) => remote(projects.delete(name, options)),
    },
    featureSets: {
      register: async (_principal, project, name, definition) =>
        featureSetOf(await remote(featureSets.register(project, name, definition))),
      get: async (_principal, project, name, version) =>
        featureSetOf(await remote(featureSets.get(project, name, version))),
      list: async (_principal, input) => {
        const page = await remote(featureSets.list(input));
        return { ...page, items: page.items.map(featureSetOf) };
      },
      update: async (_principal, project, name, input) =>
        featureSetOf(await remote(featureSets.update(project, name, input))),
      versions: async (_principal, project, name) =>
        (await remote(featureSets.versions(project, name))).map(featureSetVersionOf),
      delete: (_principal, project, name) => remote(featureSets.delete(project, name)),
    },
    access: {
      createUser: (_principal, input) => remote(access.createUser(input)),
      listUsers: (_principal, page) => remote(access.listUsers(page)),
      setAdmin: (_principal, userName, admin) => remote(access.setAdmin(userName, admin)),
      createToken: async (_principal, input) => {
        if (input.secret !== undefined) {
          throw new ValidationError(
            'a token secret chosen by the caller cannot be sent to a server: let it generate one',
            { details: { field: 'secret' } },
          );
        }
        const created = await remote(access.createToken(input));
        return { ...created, token: created.token as TokenInfo };
      },
      listTokens: async (_principal, userName) =>
        (await remote(access.listTokens(userName))) as TokenInfo[],
      revokeToken: async (_principal, tokenId) =>
        (await remote(access.revokeToken(tokenId))) as TokenInfo,
      grant: async (_principal, project, userName, role) => {
        const granted = await remote(access.grant(project, userName, role));
        return { ...granted } as unknown as Awaited<ReturnType<Access['grant']>>;
      },
      revoke: (_principal, project, userName) => remote(access.revoke(project, userName)),
      listPermissions: async (_principal, project) =>
        (await remote(access.listPermissions(project))) as unknown as Awaited<
          ReturnType<Access['listPermissions']>
        >,
    },
  };
}
