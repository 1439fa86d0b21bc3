import { ACTION_REQUIREMENTS, type Action } from '../auth/actions.js';
import type { Authorizer } from '../auth/authorizer.js';
import { NotFoundError } from '../errors.js';
import { validateName } from '../identifiers.js';
import type { FeatureSet, Project, User } from '../model/records.js';
import { parseVersion } from '../model/version.js';
import type { Principal } from '../ports/identity-provider.js';
import type { MetadataOperations } from '../ports/metadata-store.js';

/**
 * Lookups that turn a missing name into a `NotFoundError` saying what to do. Calls made for a
 * principal go through `authorizedProject`, `authorizedFeatureSet` and `authorizedUser`,
 * which authorize before they say what does not exist.
 */
export async function requireProject(store: MetadataOperations, name: string): Promise<Project> {
  validateName('project', name);
  const project = await store.getProject({ name });
  if (!project) throw projectNotFound(name);
  return project;
}

function projectNotFound(name: string): NotFoundError {
  return new NotFoundError(`project "${name}" does not exist: list projects to see the names`, {
    details: { field: 'project', value: name },
  });
}

/**
 * The project `name`, once `principal` may do `action` in it. Only admins (who see every
 * project) learn that a project does not exist: anyone else gets the refusal they would get
 * for an existing project they have no role in, so project names cannot be probed.
 */
export async function authorizedProject(
  store: MetadataOperations,
  authorizer: Authorizer,
  principal: Principal,
  action: Action,
  name: string,
): Promise<Project> {
  validateName('project', name);
  const project = await store.getProject({ name });
  if (!project) {
    if (principal.admin || ACTION_REQUIREMENTS[action] === 'authenticated') {
      throw projectNotFound(name);
    }
    throw authorizer.denied(principal, action, { projectName: name });
  }
  await authorizer.require(principal, action, { projectId: project.id, projectName: project.name });
  return project;
}

export async function requireFeatureSet(
  store: MetadataOperations,
  project: Project,
  name: string,
  version?: { major: number; minor?: number },
): Promise<FeatureSet> {
  validateName('feature set', name);
  const featureSet = await store.getFeatureSet(project.id, name, version);
  if (featureSet) return featureSet;
  if (version && (await store.getFeatureSet(project.id, name))) {
    const shown =
      version.minor === undefined ? `${version.major}` : `${version.major}.${version.minor}`;
    throw new NotFoundError(
      `feature set "${project.name}/${name}" has no version ${shown}: list its versions to see them`,
      { details: { field: 'version', value: shown } },
    );
  }
  throw new NotFoundError(
    `feature set "${name}" does not exist in project "${project.name}": list feature sets to see the names`,
    { details: { field: 'featureSet', value: name } },
  );
}

export async function requireUser(store: MetadataOperations, name: string): Promise<User> {
  validateName('user', name);
  const user = await store.getUser({ name });
  if (!user) {
    throw new NotFoundError(`user "${name}" does not exist: create it first (user create)`, {
      details: { field: 'user', value: name },
    });
  }
  return user;
}

/**
 * The user `name`, for an action on that user's account (a `self` action such as listing its
 * tokens). A caller other than an admin who names another user is refused whether or not
 * that user exists, so user names cannot be probed.
 */
export async function authorizedUser(
  store: MetadataOperations,
  authorizer: Authorizer,
  principal: Principal,
  action: Action,
  name: string,
): Promise<User> {
  validateName('user', name);
  if (!principal.admin && name !== principal.name) throw authorizer.denied(principal, action);
  const user = await requireUser(store, name);
  await authorizer.require(principal, action, { userId: user.id });
  return user;
}

/**
 * The project (checking the caller may do `action` in it) and the feature set at `version`
 * (`MAJOR` or `MAJOR.MINOR`; latest when omitted): the first step of every data call.
 */
export async function authorizedFeatureSet(
  store: MetadataOperations,
  authorizer: Authorizer,
  principal: Principal,
  action: Action,
  ref: { project: string; featureSet: string; version?: string | undefined },
): Promise<{ project: Project; featureSet: FeatureSet }> {
  const project = await authorizedProject(store, authorizer, principal, action, ref.project);
  const featureSet = await requireFeatureSet(
    store,
    project,
    ref.featureSet,
    ref.version === undefined ? undefined : parseVersion(ref.version),
  );
  return { project, featureSet };
}
