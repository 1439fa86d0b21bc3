import { randomUUID } from 'node:crypto';
import type { Authorizer } from '../auth/authorizer.js';
import { ConflictError } from '../errors.js';
import { validateName } from '../identifiers.js';
import type { FeatureSet, Page, Project, Tags } from '../model/records.js';
import type { DeletedFeatureSetData } from '../offline/deleted-feature-set-data.js';
import type { Principal } from '../ports/identity-provider.js';
import type { MetadataStore, ProjectFilter } from '../ports/metadata-store.js';
import { authorizedProject } from './lookups.js';

export interface CreateProjectInput {
  name: string;
  description?: string;
  tags?: Tags;
}

export interface UpdateProjectInput {
  description?: string;
  tags?: Tags;
  /** The revision the caller read; a newer one in the store means `ConflictError`. */
  expectedRevision?: number;
}

export type ListProjectsInput = Omit<ProjectFilter, 'ids' | 'ownerId'> & {
  /** Name of the owning user. */
  owner?: string;
};

/** Projects: the unit of ownership and permissions. */
export class ProjectService {
  readonly #store: MetadataStore;
  readonly #authorizer: Authorizer;
  readonly #deletedData: DeletedFeatureSetData | undefined;

  /** `deletedData` removes the files and online records of the feature sets a delete takes. */
  constructor(store: MetadataStore, authorizer: Authorizer, deletedData?: DeletedFeatureSetData) {
    this.#store = store;
    this.#authorizer = authorizer;
    this.#deletedData = deletedData;
  }

  /** Creates a project; the caller becomes its owner. */
  async create(principal: Principal, input: CreateProjectInput): Promise<Project> {
    await this.#authorizer.require(principal, 'project.create');
    const name = validateName('project', input.name);
    const now = new Date();
    const project: Project = {
      id: randomUUID(),
      name,
      description: input.description ?? '',
      ownerId: principal.userId,
      tags: input.tags ?? {},
      createdAt: now,
      updatedAt: now,
      revision: 1,
    };
    return this.#store.transaction(async (tx) => {
      const created = await tx.insertProject(project);
      await tx.putPermission({
        projectId: created.id,
        userId: principal.userId,
        role: 'owner',
        grantedAt: now,
        grantedBy: principal.userId,
      });
      return created;
    });
  }

  async get(principal: Principal, name: string): Promise<Project> {
    const project = await this.#authorized(principal, 'project.get', name);
    return project;
  }

  /** Projects the caller can see (all of them for admins), filtered and paginated. */
  async list(principal: Principal, input: ListProjectsInput = {}): Promise<Page<Project>> {
    const { owner, ...filter } = input;
    const query: ProjectFilter = { ...filter };
    if (owner !== undefined) {
      const user = await this.#store.getUser({ name: validateName('owner', owner) });
      if (!user) return { items: [] };
      query.ownerId = user.id;
    }
    if (!principal.admin) {
      const memberships = await this.#store.listPermissions({ userId: principal.userId });
      query.ids = memberships.map((permission) => permission.projectId);
    }
    return this.#store.listProjects(query);
  }

  async update(principal: Principal, name: string, input: UpdateProjectInput): Promise<Project> {
    const project = await this.#authorized(principal, 'project.update', name);
    const { expectedRevision, ...patch } = input;
    return this.#store.updateProject(project.id, patch, expectedRevision ?? project.revision);
  }

  /**
   * Refused while the project holds feature sets, unless `force` deletes them too (with
   * their data files and online records).
   */
  async delete(
    principal: Principal,
    name: string,
    options: { force?: boolean } = {},
  ): Promise<void> {
    const project = await this.#authorized(principal, 'project.delete', name);
    const held = await this.#store.listFeatureSets({ projectId: project.id, pageSize: 1 });
    if (held.items.length > 0 && !options.force) {
      throw new ConflictError(
        `project "${name}" still holds feature sets (e.g. "${held.items[0]!.name}"): delete them first, or delete with force`,
        { details: { project: name } },
      );
    }
    const featureSets = await this.#allFeatureSets(project.id);
    // Recorded before the commit, so a crash right after it still leaves what to purge.
    await this.#deletedData?.record(featureSets);
    await this.#store.deleteProject(project.id);
    // The deletion stands even if purging fails now: the records stay for `featurestore gc`.
    await this.#deletedData
      ?.purge(featureSets.map((featureSet) => featureSet.id))
      .catch(() => undefined);
  }

  async #allFeatureSets(projectId: string): Promise<FeatureSet[]> {
    if (!this.#deletedData) return [];
    const all: FeatureSet[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.#store.listFeatureSets({ projectId, pageSize: 1000, pageToken });
      all.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return all;
  }

  /** Authorizes before saying what does not exist (see `authorizedProject`). */
  #authorized(
    principal: Principal,
    action: 'project.get' | 'project.update' | 'project.delete',
    name: string,
  ): Promise<Project> {
    return authorizedProject(this.#store, this.#authorizer, principal, action, name);
  }
}
