import {
  type FeatureStoreEngine,
  type Principal,
  parseFeatureSetDefinition,
} from '@featurestore/core';
import type { CoreServiceServer } from '@featurestore/protocol/featurestore/v1/core';
import type { CallAuthenticator } from './call-authenticator.js';
import { unary } from './call-handlers.js';
import {
  accessTokenMessage,
  featureSetMessage,
  featureSetVersionMessage,
  given,
  permissionMessage,
  projectMessage,
  schemaDefinitionOf,
  tagFilterOf,
  updatedTags,
  userMessage,
} from './core-messages.js';
import { dataService } from './data-service.js';

/** The unary handler shape (authenticate, run as the caller, map errors), for other services. */
export { unary } from './call-handlers.js';

/**
 * `featurestore.v1.CoreService`: projects, feature sets and their versions, users, tokens and
 * permissions, each RPC one call of the engine as the authenticated caller, and the data RPCs
 * (`dataService`). The engine decides what the caller may do; nothing here checks permissions.
 */
export function coreService(
  engine: FeatureStoreEngine,
  authenticator: CallAuthenticator,
): CoreServiceServer {
  const { projects, featureSets, access } = engine;
  const handle = <Request, Response>(
    method: (principal: Principal, request: Request) => Promise<Response>,
  ) => unary(authenticator, method);
  return {
    ...dataService(engine, authenticator),
    createProject: handle(async (principal, request) =>
      projectMessage(
        await projects.create(principal, {
          name: request.name,
          description: request.description,
          tags: request.tags,
        }),
      ),
    ),
    getProject: handle(async (principal, request) =>
      projectMessage(await projects.get(principal, request.name)),
    ),
    listProjects: handle(async (principal, request) => {
      const tag = tagFilterOf(request.tag);
      const page = await projects.list(principal, {
        namePrefix: given(request.namePrefix),
        owner: given(request.owner),
        text: given(request.text),
        pageSize: given(request.pageSize),
        pageToken: given(request.pageToken),
        ...(tag === undefined ? {} : { tag }),
      });
      return {
        projects: page.items.map(projectMessage),
        nextPageToken: page.nextPageToken ?? '',
      };
    }),
    updateProject: handle(async (principal, request) => {
      // Merging tags reads the project first; its revision keeps the merge from losing a
      // concurrent change (a newer revision is a CONFLICT).
      const current = await projects.get(principal, request.name);
      const tags = updatedTags(current.tags, request.tags, request.replaceTags);
      return projectMessage(
        await projects.update(principal, request.name, {
          ...(request.description === undefined ? {} : { description: request.description }),
          ...(tags === undefined ? {} : { tags }),
          expectedRevision: request.expectedRevision ?? current.revision,
        }),
      );
    }),
    deleteProject: handle(async (principal, request) => {
      await projects.delete(principal, request.name, { force: request.force });
      return {};
    }),

    registerFeatureSet: handle(async (principal, request) =>
      featureSetMessage(
        await featureSets.register(
          principal,
          request.project,
          request.name,
          // A request is untrusted input: checked like a schema file.
          parseFeatureSetDefinition({
            ...(request.schema === undefined ? {} : schemaDefinitionOf(request.schema)),
            ...(request.description === '' ? {} : { description: request.description }),
            ...(Object.keys(request.tags).length === 0 ? {} : { tags: request.tags }),
            ...(request.timeToLive === '' ? {} : { timeToLive: request.timeToLive }),
          }),
        ),
      ),
    ),
    getFeatureSet: handle(async (principal, request) =>
      featureSetMessage(
        await featureSets.get(principal, request.project, request.name, given(request.version)),
      ),
    ),
    listFeatureSets: handle(async (principal, request) => {
      const tag = tagFilterOf(request.tag);
      const page = await featureSets.list(principal, {
        project: given(request.project),
        namePrefix: given(request.namePrefix),
        feature: given(request.feature),
        text: given(request.text),
        pageSize: given(request.pageSize),
        pageToken: given(request.pageToken),
        ...(tag === undefined ? {} : { tag }),
      });
      return {
        featureSets: page.items.map(featureSetMessage),
        nextPageToken: page.nextPageToken ?? '',
      };
    }),
    updateFeatureSet: handle(async (principal, request) => {
      const current = await featureSets.get(principal, request.project, request.name);
      const tags = updatedTags(current.tags, request.tags, request.replaceTags);
      return featureSetMessage(
        await featureSets.update(principal, request.project, request.name, {
          ...(request.description === undefined ? {} : { description: request.description }),
          ...(tags === undefined ? {} : { tags }),
          ...(request.timeToLive === undefined
            ? {}
            : { timeToLive: request.timeToLive === 'none' ? null : request.timeToLive }),
          ...(request.schema === undefined ? {} : { schema: schemaDefinitionOf(request.schema) }),
          expectedRevision: request.expectedRevision ?? current.revision,
        }),
      );
    }),
    listFeatureSetVersions: handle(async (principal, request) => ({
      versions: (await featureSets.versions(principal, request.project, request.name)).map(
        featureSetVersionMessage,
      ),
    })),
    deleteFeatureSet: handle(async (principal, request) => {
      await featureSets.delete(principal, request.project, request.name);
      return {};
    }),

    grantPermission: handle(async (principal, request) =>
      permissionMessage(
        await access.grant(principal, request.project, request.user, request.role),
        request.project,
        request.user,
      ),
    ),
    revokePermission: handle(async (principal, request) => ({
      revoked: await access.revoke(principal, request.project, request.user),
    })),
    listPermissions: handle(async (principal, request) => ({
      permissions: (await access.listPermissions(principal, request.project)).map((permission) =>
        permissionMessage(permission, request.project, permission.userName),
      ),
    })),

    createAccessToken: handle(async (principal, request) => {
      const created = await access.createToken(principal, {
        name: request.name,
        expiresIn: given(request.expiresIn),
        user: given(request.user),
      });
      return { token: accessTokenMessage(created.token), secret: created.secret };
    }),
    listAccessTokens: handle(async (principal, request) => ({
      tokens: (await access.listTokens(principal, given(request.user))).map(accessTokenMessage),
    })),
    revokeAccessToken: handle(async (principal, request) =>
      accessTokenMessage(await access.revokeToken(principal, request.id)),
    ),

    createUser: handle(async (principal, request) =>
      userMessage(
        await access.createUser(principal, {
          name: request.name,
          admin: request.admin,
          ...(request.email === '' ? {} : { email: request.email }),
        }),
      ),
    ),
    listUsers: handle(async (principal, request) => {
      const page = await access.listUsers(principal, {
        pageSize: given(request.pageSize),
        pageToken: given(request.pageToken),
      });
      return { users: page.items.map(userMessage), nextPageToken: page.nextPageToken ?? '' };
    }),
    setUserAdmin: handle(async (principal, request) =>
      userMessage(await access.setAdmin(principal, request.name, request.admin)),
    ),
  };
}
