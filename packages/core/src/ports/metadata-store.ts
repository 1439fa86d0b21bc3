import type { Ingestion, Job, JobState } from '../model/offline-records.js';
import type {
  AccessToken,
  FeatureSet,
  FeatureSetVersion,
  Page,
  Permission,
  Project,
  Tags,
  User,
} from '../model/records.js';

/** A tag filter: the key must be present, and equal `value` when given. */
export interface TagFilter {
  key: string;
  value?: string;
}

export interface PageRequest {
  /** At most this many items (default 100, max 1000). */
  pageSize?: number;
  /** The `nextPageToken` of the previous page. */
  pageToken?: string;
}

export interface ProjectFilter extends PageRequest {
  namePrefix?: string;
  ownerId?: string;
  tag?: TagFilter;
  /** Case-insensitive substring of the description. */
  text?: string;
  /** Only these project ids (used to hide projects a principal may not see). */
  ids?: readonly string[];
}

export interface FeatureSetFilter extends PageRequest {
  projectId?: string;
  namePrefix?: string;
  /** Matches tags of the feature set (latest version). */
  tag?: TagFilter;
  /** Feature sets whose latest schema has a feature with this name. */
  feature?: string;
  /** Case-insensitive substring of the name, the description or a feature description. */
  text?: string;
  projectIds?: readonly string[];
}

export interface ProjectPatch {
  description?: string;
  tags?: Tags;
  ownerId?: string;
}

export interface JobFilter extends PageRequest {
  state?: JobState;
  type?: string;
  createdBy?: string;
  /** Jobs of these projects (jobs without a project are excluded when set). */
  projectIds?: readonly string[];
}

export type JobPatch = Partial<
  Pick<
    Job,
    | 'state'
    | 'progress'
    | 'message'
    | 'result'
    | 'error'
    | 'cancelRequested'
    | 'startedAt'
    | 'finishedAt'
  >
>;

export interface CommitIngestionOptions {
  /**
   * Also record, in the same transaction as the commit, that the ingestion still has to be
   * applied to the online store: durable work that survives a crash between the commit and
   * the apply (`listPendingOnlineApplies`, `clearPendingOnlineApply`).
   */
  onlineApplyPending?: boolean;
}

export type ProjectRef = { id: string } | { name: string };
export type UserRef = { id: string } | { name: string } | { oidcSubject: string };

/**
 * The metadata operations, available on the store and inside a transaction. Ids are chosen
 * by the engine (UUIDs); the store enforces uniqueness of names (`AlreadyExistsError`) and
 * optimistic concurrency (`ConflictError` when `expectedRevision` is stale). Listings are
 * ordered by name.
 */
export interface MetadataOperations {
  insertProject(project: Project): Promise<Project>;
  getProject(ref: ProjectRef): Promise<Project | undefined>;
  listProjects(filter?: ProjectFilter): Promise<Page<Project>>;
  /** Applies `patch`, bumps the revision; `ConflictError` when the revision moved on. */
  updateProject(id: string, patch: ProjectPatch, expectedRevision: number): Promise<Project>;
  /** Deletes the project with its feature sets, versions and permissions. */
  deleteProject(id: string): Promise<void>;

  /** Inserts the feature set with its first version (`featureSet` describes that version). */
  insertFeatureSet(featureSet: FeatureSet): Promise<FeatureSet>;
  /**
   * The feature set at `version` (latest when omitted; the latest minor of a major when only
   * `major` is given); `undefined` when the set or that version does not exist.
   */
  getFeatureSet(
    projectId: string,
    name: string,
    version?: { major: number; minor?: number },
  ): Promise<FeatureSet | undefined>;
  getFeatureSetById(id: string): Promise<FeatureSet | undefined>;
  /** Latest versions of the matching feature sets. */
  listFeatureSets(filter?: FeatureSetFilter): Promise<Page<FeatureSet>>;
  /**
   * Appends a version (which becomes the latest) and bumps the feature set's revision;
   * `ConflictError` when `expectedRevision` is stale or the version already exists.
   */
  insertFeatureSetVersion(
    version: FeatureSetVersion,
    expectedRevision: number,
  ): Promise<FeatureSet>;
  /** All versions, oldest first. */
  listFeatureSetVersions(featureSetId: string): Promise<FeatureSetVersion[]>;
  deleteFeatureSet(id: string): Promise<void>;

  insertUser(user: User): Promise<User>;
  getUser(ref: UserRef): Promise<User | undefined>;
  listUsers(page?: PageRequest): Promise<Page<User>>;
  updateUser(id: string, patch: { admin?: boolean; email?: string }): Promise<User>;

  insertToken(token: AccessToken): Promise<AccessToken>;
  getToken(id: string): Promise<AccessToken | undefined>;
  getTokenByHash(secretHash: string): Promise<AccessToken | undefined>;
  listTokens(userId: string): Promise<AccessToken[]>;
  updateToken(id: string, patch: { revokedAt?: Date; lastUsedAt?: Date }): Promise<AccessToken>;

  /** Grants or replaces the role of a user in a project. */
  putPermission(permission: Permission): Promise<Permission>;
  /** `false` when there was nothing to revoke. */
  deletePermission(projectId: string, userId: string): Promise<boolean>;
  getPermission(projectId: string, userId: string): Promise<Permission | undefined>;
  listPermissions(filter: { projectId?: string; userId?: string }): Promise<Permission[]>;

  /**
   * Makes an ingestion visible: assigns its sequence (greater than every earlier one in the
   * store) and inserts it as `committed`. `AlreadyExistsError` when the feature set already
   * has an ingestion with the same idempotency key.
   */
  commitIngestion(
    ingestion: Omit<Ingestion, 'sequence' | 'state'>,
    options?: CommitIngestionOptions,
  ): Promise<Ingestion>;
  /**
   * Inserts an ingestion exactly as another store recorded it (`featurestore import`): its
   * sequence, state and revert fields kept, and the store's sequence moved past it so later
   * commits still get greater ones. `AlreadyExistsError` when its id, its sequence or its
   * idempotency key (in its feature set) is taken.
   */
  restoreIngestion(ingestion: Ingestion): Promise<Ingestion>;
  getIngestion(id: string): Promise<Ingestion | undefined>;
  getIngestionByIdempotencyKey(featureSetId: string, key: string): Promise<Ingestion | undefined>;
  /** Ingestions of a feature set (of one major version when given), by sequence. */
  listIngestions(featureSetId: string, major?: number): Promise<Ingestion[]>;
  /** Marks an ingestion reverted; reverting a reverted ingestion returns it unchanged. */
  revertIngestion(id: string, at: Date, by: string): Promise<Ingestion>;
  /** Storage keys of every file of every ingestion (for the garbage collector). */
  listIngestionFiles(featureSetId: string): Promise<string[]>;
  /**
   * Ingestions committed with `onlineApplyPending` whose apply to the online store nobody has
   * finished yet (of one feature set when given), by sequence; reverted ones too (whoever
   * finishes them clears them without applying). Deleting the feature set deletes its records.
   */
  listPendingOnlineApplies(filter?: { featureSetId?: string }): Promise<Ingestion[]>;
  /** Records that the ingestion's online apply is done; `false` when none was pending. */
  clearPendingOnlineApply(ingestionId: string): Promise<boolean>;

  /**
   * The positions a queue consumer stored (e.g. the online → offline sync): per partition,
   * the offset of the last message whose effects are committed, as decimal text. Empty for a
   * consumer that stored nothing yet.
   */
  getConsumerOffsets(consumer: string): Promise<Map<number, string>>;
  /**
   * Stores positions of a consumer; inside a `transaction`, they commit with the data they
   * stand for, so a redelivered message can be recognised as done. With `expected`, a
   * compare-and-set: every partition in `offsets` must still hold its `expected` offset (none
   * stored when `expected` lacks the partition), else `ConflictError` and nothing changes —
   * two consumers racing over one partition cannot both commit the same messages.
   */
  putConsumerOffsets(
    consumer: string,
    offsets: ReadonlyMap<number, string>,
    expected?: ReadonlyMap<number, string>,
  ): Promise<void>;

  insertJob(job: Job): Promise<Job>;
  getJob(id: string): Promise<Job | undefined>;
  /** Newest first. */
  listJobs(filter?: JobFilter): Promise<Page<Job>>;
  /**
   * Applies `patch`; `ConflictError` when the job already finished (succeeded, failed or
   * cancelled) and the patch would change its state.
   */
  updateJob(id: string, patch: JobPatch): Promise<Job>;
}

/**
 * Where Featurestore keeps what exists, which version, and who may do what. Every driver
 * runs `metadataStoreConformance` from `@featurestore/core/testing`.
 */
export interface MetadataStore extends MetadataOperations {
  readonly driver: string;
  /** Runs `work` in one transaction: all of its writes commit, or none. */
  transaction<T>(work: (tx: MetadataOperations) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
