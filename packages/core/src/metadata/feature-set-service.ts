import { randomUUID } from 'node:crypto';
import type { Authorizer } from '../auth/authorizer.js';
import { ValidationError } from '../errors.js';
import { validateName } from '../identifiers.js';
import { checkFeatureSetSettings } from '../model/feature-set-settings.js';
import type { FeatureSet, FeatureSetVersion, Page, Tags } from '../model/records.js';
import { parseVersion } from '../model/version.js';
import type { DeletedFeatureSetData } from '../offline/deleted-feature-set-data.js';
import type { Principal } from '../ports/identity-provider.js';
import type { FeatureSetFilter, MetadataStore } from '../ports/metadata-store.js';
import {
  type FeatureSetDefinition,
  parseFeatureSetDefinition,
  parseTimeToLive,
  schemaOf,
} from './feature-set-definition.js';
import { authorizedProject, requireFeatureSet } from './lookups.js';
import { compareVersions, type VersionedState } from './version-changes.js';

export interface UpdateFeatureSetInput {
  description?: string;
  /** Replaces all tags. */
  tags?: Tags;
  /** An ISO 8601 duration, or `null` to remove the time to live. */
  timeToLive?: string | null;
  /**
   * A new definition (the schema file format). A changed schema makes a new major version;
   * its description, tags and TTL apply unless given above.
   */
  schema?: unknown;
  /** The revision the caller read; a newer one in the store means `ConflictError`. */
  expectedRevision?: number;
}

export type ListFeatureSetsInput = Omit<FeatureSetFilter, 'projectId' | 'projectIds'> & {
  project?: string;
};

/** Feature sets: registration, versioning (minor for metadata, major for schema), search. */
export class FeatureSetService {
  readonly #store: MetadataStore;
  readonly #authorizer: Authorizer;
  readonly #deletedData: DeletedFeatureSetData | undefined;

  /** `deletedData` removes a deleted feature set's files and online records. */
  constructor(store: MetadataStore, authorizer: Authorizer, deletedData?: DeletedFeatureSetData) {
    this.#store = store;
    this.#authorizer = authorizer;
    this.#deletedData = deletedData;
  }

  /**
   * Registers version 1.0 from a typed definition, checked again here whatever its source
   * (names, types, key and event time). A definition read from a file or a request is
   * `unknown` until `parseFeatureSetDefinition` has checked it.
   *
   * @example
   * await fs.engine.featureSets.register(fs.principal, 'fraud', 'transactions', {
   *   primaryKey: ['transaction_id'],
   *   eventTime: 'ts',
   *   features: [
   *     { name: 'transaction_id', type: 'string' },
   *     { name: 'ts', type: 'timestamp' },
   *     { name: 'amount', type: 'float64' },
   *   ],
   * });
   * // From a schema file:
   * const json: unknown = JSON.parse(await readFile('transactions.schema.json', 'utf8'));
   * await fs.engine.featureSets.register(fs.principal, 'fraud', 'transactions',
   *   parseFeatureSetDefinition(json));
   */
  async register(
    principal: Principal,
    projectName: string,
    name: string,
    definition: FeatureSetDefinition,
  ): Promise<FeatureSet> {
    const project = await authorizedProject(
      this.#store,
      this.#authorizer,
      principal,
      'featureset.register',
      projectName,
    );
    validateName('feature set', name);
    const parsed = parseFeatureSetDefinition(definition);
    const now = new Date();
    const id = randomUUID();
    const featureSet: FeatureSet = {
      id,
      projectId: project.id,
      projectName: project.name,
      name,
      ownerId: principal.userId,
      featureSetId: id,
      version: { major: 1, minor: 0 },
      latestVersion: { major: 1, minor: 0 },
      schema: schemaOf(parsed),
      description: parsed.description ?? '',
      tags: parsed.tags ?? {},
      ...(parsed.timeToLive === undefined ? {} : { timeToLive: parsed.timeToLive }),
      createdAt: now,
      createdBy: principal.userId,
      changes: ['registered'],
      updatedAt: now,
      revision: 1,
    };
    return this.#store.insertFeatureSet(featureSet);
  }

  /** The latest version, or the one named (`"2"` = latest 2.x, `"2.1"` exactly). */
  async get(
    principal: Principal,
    projectName: string,
    name: string,
    version?: string,
  ): Promise<FeatureSet> {
    const project = await authorizedProject(
      this.#store,
      this.#authorizer,
      principal,
      'featureset.get',
      projectName,
    );
    return requireFeatureSet(
      this.#store,
      project,
      name,
      version === undefined ? undefined : parseVersion(version),
    );
  }

  /** Feature sets (latest versions) in the projects the caller can see. */
  async list(principal: Principal, input: ListFeatureSetsInput = {}): Promise<Page<FeatureSet>> {
    const { project: projectName, ...filter } = input;
    const query: FeatureSetFilter = { ...filter };
    if (projectName !== undefined) {
      const project = await authorizedProject(
        this.#store,
        this.#authorizer,
        principal,
        'featureset.get',
        projectName,
      );
      query.projectId = project.id;
    } else if (!principal.admin) {
      const memberships = await this.#store.listPermissions({ userId: principal.userId });
      query.projectIds = memberships.map((permission) => permission.projectId);
    }
    return this.#store.listFeatureSets(query);
  }

  /**
   * Metadata changes make a minor version, schema changes a major one; an update that
   * changes nothing returns the feature set as it is.
   */
  async update(
    principal: Principal,
    projectName: string,
    name: string,
    input: UpdateFeatureSetInput,
  ): Promise<FeatureSet> {
    const project = await authorizedProject(
      this.#store,
      this.#authorizer,
      principal,
      'featureset.update',
      projectName,
    );
    const current = await requireFeatureSet(this.#store, project, name);
    const next = nextState(current, input);
    const { major, changes } = compareVersions(current, next);
    if (changes.length === 0) return current;
    const version: FeatureSetVersion = {
      featureSetId: current.id,
      version: major
        ? { major: current.latestVersion.major + 1, minor: 0 }
        : { major: current.latestVersion.major, minor: current.latestVersion.minor + 1 },
      ...next,
      createdAt: new Date(),
      createdBy: principal.userId,
      changes,
    };
    return this.#store.insertFeatureSetVersion(version, input.expectedRevision ?? current.revision);
  }

  async versions(
    principal: Principal,
    projectName: string,
    name: string,
  ): Promise<FeatureSetVersion[]> {
    const project = await authorizedProject(
      this.#store,
      this.#authorizer,
      principal,
      'featureset.get',
      projectName,
    );
    const featureSet = await requireFeatureSet(this.#store, project, name);
    return this.#store.listFeatureSetVersions(featureSet.id);
  }

  /** Deletes the feature set with every version, then its data files and online records. */
  async delete(principal: Principal, projectName: string, name: string): Promise<void> {
    const project = await authorizedProject(
      this.#store,
      this.#authorizer,
      principal,
      'featureset.delete',
      projectName,
    );
    const featureSet = await requireFeatureSet(this.#store, project, name);
    // Recorded before the commit, so a crash right after it still leaves what to purge.
    await this.#deletedData?.record([featureSet]);
    await this.#store.deleteFeatureSet(featureSet.id);
    // The deletion stands even if purging fails now: the record stays for `featurestore gc`.
    await this.#deletedData?.purge([featureSet.id]).catch(() => undefined);
  }
}

function nextState(current: FeatureSet, input: UpdateFeatureSetInput): VersionedState {
  let definition: FeatureSetDefinition | undefined;
  if (input.schema !== undefined) definition = parseFeatureSetDefinition(input.schema);
  if (input.description !== undefined && typeof input.description !== 'string') {
    throw new ValidationError('description must be a string', {
      details: { field: 'description', value: input.description },
    });
  }
  // Whatever neither the input nor the new definition names keeps its current value.
  const timeToLive =
    input.timeToLive === null
      ? undefined
      : input.timeToLive !== undefined
        ? parseTimeToLive(input.timeToLive)
        : (definition?.timeToLive ?? current.timeToLive);
  const definitionTags =
    definition?.tags && Object.keys(definition.tags).length > 0 ? definition.tags : undefined;
  if (input.tags !== undefined) checkFeatureSetSettings('tags', input.tags);
  return {
    schema: definition ? schemaOf(definition) : current.schema,
    description: input.description ?? definition?.description ?? current.description,
    tags: input.tags ?? definitionTags ?? current.tags,
    ...(timeToLive === undefined ? {} : { timeToLive }),
  };
}
