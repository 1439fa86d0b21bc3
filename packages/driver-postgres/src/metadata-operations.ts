import type {
  AccessToken,
  CommitIngestionOptions,
  FeatureSet,
  FeatureSetFilter,
  FeatureSetVersion,
  Ingestion,
  Job,
  JobFilter,
  JobPatch,
  JobState,
  MetadataOperations,
  Page,
  PageRequest,
  Permission,
  Project,
  ProjectFilter,
  ProjectPatch,
  ProjectRef,
  TagFilter,
  User,
  UserRef,
} from '@featurestore/core/driver';
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  TERMINAL_JOB_STATES,
  ValidationError,
} from '@featurestore/core/driver';
import { decodePageToken, pageSizeOf, toPage } from './pagination.js';
import {
  FEATURE_SET_COLUMNS,
  toFeatureSet,
  toFeatureSetVersion,
  toIngestion,
  toJob,
  toPermission,
  toProject,
  toToken,
  toUser,
} from './rows.js';
import type { SqlExecutor } from './sql-client.js';
import { escapeLike, Params, type Tables } from './sql-text.js';

/**
 * Ingestion commits take this transaction-scoped advisory lock (with the hash of the table's
 * qualified name, so stores in other schemas do not wait on each other). `nextval` is not
 * transactional: without the lock, a transaction holding sequence 5 could commit after one
 * holding 6, and a reader that saw 6 would later see 5 appear behind it. Holding the lock
 * until commit makes sequence order commit order. (0x696e6773 is "ings".)
 */
export const INGESTION_LOCK_KEY = 0x696e6773;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Runs `work` atomically: in a new transaction, or in the one already open. */
export type Atomic = <T>(work: (db: SqlExecutor) => Promise<T>) => Promise<T>;

/**
 * The metadata operations in SQL, over any executor: the pool (each call on its own) or one
 * transaction's connection. Every statement is the same text on `pg` and PGlite.
 */
export class PostgresMetadataOperations implements MetadataOperations {
  readonly #db: SqlExecutor;
  readonly #t: Tables;
  readonly #atomic: Atomic;

  constructor(db: SqlExecutor, tables: Tables, atomic: Atomic) {
    this.#db = db;
    this.#t = tables;
    this.#atomic = atomic;
  }

  // Projects

  async insertProject(project: Project): Promise<Project> {
    const p = new Params();
    const rows = await this.#db.query(
      `INSERT INTO ${this.#t.projects}
        (id, name, description, owner_id, tags, created_at, updated_at, revision)
       VALUES (${p.add(project.id)}, ${p.add(project.name)}, ${p.add(project.description ?? '')},
        ${p.add(project.ownerId)}, ${p.json(project.tags ?? {})}, ${p.add(project.createdAt)},
        ${p.add(project.updatedAt)}, ${p.add(project.revision)})
       RETURNING *`,
      p.values,
    );
    return toProject(rows[0]!);
  }

  async getProject(ref: ProjectRef): Promise<Project | undefined> {
    const [column, value] = 'id' in ref ? ['id', ref.id] : ['name', ref.name];
    const rows = await this.#db.query(`SELECT * FROM ${this.#t.projects} WHERE ${column} = $1`, [
      value,
    ]);
    return rows[0] && toProject(rows[0]);
  }

  async listProjects(filter: ProjectFilter = {}): Promise<Page<Project>> {
    const size = pageSizeOf(filter);
    const p = new Params();
    const where: string[] = [];
    if (filter.namePrefix !== undefined) {
      where.push(`name LIKE ${p.add(`${escapeLike(filter.namePrefix)}%`)}`);
    }
    if (filter.ownerId !== undefined) where.push(`owner_id = ${p.add(filter.ownerId)}`);
    if (filter.tag !== undefined) where.push(tagCondition('tags', filter.tag, p));
    if (filter.text !== undefined) {
      where.push(`description ILIKE ${p.add(`%${escapeLike(filter.text)}%`)}`);
    }
    if (filter.ids !== undefined) where.push(`id = ANY(${p.add([...filter.ids])}::uuid[])`);
    if (filter.pageToken !== undefined) {
      const [after] = decodePageToken(filter.pageToken, ['text']);
      where.push(`name > ${p.add(after)}`);
    }
    const rows = await this.#db.query(
      `SELECT * FROM ${this.#t.projects} ${whereClause(where)}
       ORDER BY name LIMIT ${p.add(size + 1)}`,
      p.values,
    );
    return toPage(rows.map(toProject), size, (project) => [project.name]);
  }

  async updateProject(id: string, patch: ProjectPatch, expectedRevision: number): Promise<Project> {
    const p = new Params();
    const rows = await this.#db.query(
      `UPDATE ${this.#t.projects} SET
        description = coalesce(${p.add(patch.description)}, description),
        tags = coalesce(${p.json(patch.tags)}, tags),
        owner_id = coalesce(${p.add(patch.ownerId)}, owner_id),
        updated_at = greatest(${p.add(new Date())}::timestamptz, updated_at),
        revision = revision + 1
       WHERE id = ${p.add(id)} AND revision = ${p.add(expectedRevision)}
       RETURNING *`,
      p.values,
    );
    if (rows[0]) return toProject(rows[0]);
    const current = await this.#db.query(
      `SELECT name, revision FROM ${this.#t.projects} WHERE id = $1`,
      [id],
    );
    throw staleOrMissing('project', id, current[0], expectedRevision);
  }

  async deleteProject(id: string): Promise<void> {
    const rows = await this.#db.query(
      `DELETE FROM ${this.#t.projects} WHERE id = $1 RETURNING id`,
      [id],
    );
    if (rows.length === 0) throw notFound('project', id);
  }

  // Feature sets

  async insertFeatureSet(featureSet: FeatureSet): Promise<FeatureSet> {
    if (featureSet.featureSetId !== featureSet.id) {
      throw new ValidationError(
        `feature set ${featureSet.id} describes a version of ${featureSet.featureSetId}: set featureSetId to the feature set's id`,
        { details: { field: 'featureSetId', value: featureSet.featureSetId } },
      );
    }
    return this.#atomic(async (db) => {
      const p = new Params();
      await db.query(
        `INSERT INTO ${this.#t.featureSets} (id, project_id, name, owner_id, latest_major,
          latest_minor, created_at, updated_at, revision)
         VALUES (${p.add(featureSet.id)}, ${p.add(featureSet.projectId)}, ${p.add(featureSet.name)},
          ${p.add(featureSet.ownerId)}, ${p.add(featureSet.version.major)},
          ${p.add(featureSet.version.minor)}, ${p.add(featureSet.createdAt)},
          ${p.add(featureSet.updatedAt)}, ${p.add(featureSet.revision)})`,
        p.values,
      );
      await this.#insertVersion(db, featureSet);
      return (await this.#readFeatureSet(db, 'fs.id = $1', [featureSet.id], featureSet.version))!;
    });
  }

  async getFeatureSet(
    projectId: string,
    name: string,
    version?: { major: number; minor?: number },
  ): Promise<FeatureSet | undefined> {
    return this.#readFeatureSet(
      this.#db,
      'fs.project_id = $1 AND fs.name = $2',
      [projectId, name],
      version,
    );
  }

  async getFeatureSetById(id: string): Promise<FeatureSet | undefined> {
    return this.#readFeatureSet(this.#db, 'fs.id = $1', [id]);
  }

  async listFeatureSets(filter: FeatureSetFilter = {}): Promise<Page<FeatureSet>> {
    const size = pageSizeOf(filter);
    const p = new Params();
    const where: string[] = [];
    if (filter.projectId !== undefined) where.push(`fs.project_id = ${p.add(filter.projectId)}`);
    if (filter.namePrefix !== undefined) {
      where.push(`fs.name LIKE ${p.add(`${escapeLike(filter.namePrefix)}%`)}`);
    }
    if (filter.tag !== undefined) where.push(tagCondition('v.tags', filter.tag, p));
    if (filter.feature !== undefined) {
      where.push(`v.schema -> 'features' @> ${p.json([{ name: filter.feature }])}`);
    }
    if (filter.text !== undefined) {
      const text = p.add(`%${escapeLike(filter.text)}%`);
      where.push(`(fs.name ILIKE ${text} OR v.description ILIKE ${text} OR EXISTS (
        SELECT 1 FROM jsonb_array_elements(v.schema -> 'features') AS feature
        WHERE feature ->> 'description' ILIKE ${text}))`);
    }
    if (filter.projectIds !== undefined) {
      where.push(`fs.project_id = ANY(${p.add([...filter.projectIds])}::uuid[])`);
    }
    if (filter.pageToken !== undefined) {
      const [name, projectId] = decodePageToken(filter.pageToken, ['text', 'uuid']);
      where.push(`(fs.name, fs.project_id) > (${p.add(name)}, ${p.add(projectId)}::uuid)`);
    }
    const rows = await this.#db.query(
      `SELECT ${FEATURE_SET_COLUMNS}
       FROM ${this.#t.featureSets} fs
       JOIN ${this.#t.projects} p ON p.id = fs.project_id
       JOIN ${this.#t.versions} v ON v.feature_set_id = fs.id
        AND v.major = fs.latest_major AND v.minor = fs.latest_minor
       ${whereClause(where)}
       ORDER BY fs.name, fs.project_id LIMIT ${p.add(size + 1)}`,
      p.values,
    );
    return toPage(rows.map(toFeatureSet), size, (set) => [set.name, set.projectId]);
  }

  async insertFeatureSetVersion(
    version: FeatureSetVersion,
    expectedRevision: number,
  ): Promise<FeatureSet> {
    const { major, minor } = version.version;
    return this.#atomic(async (db) => {
      const p = new Params();
      const [newMajor, newMinor] = [p.add(major), p.add(minor)];
      // Only a newer version bumps: an existing or older one matches no row, like a stale revision.
      const bumped = await db.query(
        `UPDATE ${this.#t.featureSets} SET
          latest_major = ${newMajor}, latest_minor = ${newMinor},
          updated_at = greatest(${p.add(version.createdAt)}::timestamptz, updated_at),
          revision = revision + 1
         WHERE id = ${p.add(version.featureSetId)} AND revision = ${p.add(expectedRevision)}
          AND (latest_major, latest_minor) < (${newMajor}, ${newMinor})
         RETURNING id`,
        p.values,
      );
      if (bumped.length === 0) await this.#refuseVersion(db, version, expectedRevision);
      await this.#insertVersion(db, version);
      return (await this.#readFeatureSet(db, 'fs.id = $1', [version.featureSetId], {
        major,
        minor,
      }))!;
    });
  }

  async listFeatureSetVersions(featureSetId: string): Promise<FeatureSetVersion[]> {
    const rows = await this.#db.query(
      `SELECT * FROM ${this.#t.versions} WHERE feature_set_id = $1 ORDER BY major, minor`,
      [featureSetId],
    );
    return rows.map(toFeatureSetVersion);
  }

  async deleteFeatureSet(id: string): Promise<void> {
    const rows = await this.#db.query(
      `DELETE FROM ${this.#t.featureSets} WHERE id = $1 RETURNING id`,
      [id],
    );
    if (rows.length === 0) throw notFound('feature set', id);
  }

  // Users and tokens

  async insertUser(user: User): Promise<User> {
    const p = new Params();
    const rows = await this.#db.query(
      `INSERT INTO ${this.#t.users} (id, name, oidc_subject, email, admin, created_at)
       VALUES (${p.add(user.id)}, ${p.add(user.name)}, ${p.add(user.oidcSubject)},
        ${p.add(user.email)}, ${p.add(user.admin ?? false)}, ${p.add(user.createdAt)})
       RETURNING *`,
      p.values,
    );
    return toUser(rows[0]!);
  }

  async getUser(ref: UserRef): Promise<User | undefined> {
    const [column, value] =
      'id' in ref
        ? ['id', ref.id]
        : 'name' in ref
          ? ['name', ref.name]
          : ['oidc_subject', ref.oidcSubject];
    const rows = await this.#db.query(`SELECT * FROM ${this.#t.users} WHERE ${column} = $1`, [
      value,
    ]);
    return rows[0] && toUser(rows[0]);
  }

  async listUsers(page: PageRequest = {}): Promise<Page<User>> {
    const size = pageSizeOf(page);
    const p = new Params();
    const after =
      page.pageToken === undefined
        ? ''
        : `WHERE name > ${p.add(decodePageToken(page.pageToken, ['text'])[0])}`;
    const rows = await this.#db.query(
      `SELECT * FROM ${this.#t.users} ${after} ORDER BY name LIMIT ${p.add(size + 1)}`,
      p.values,
    );
    return toPage(rows.map(toUser), size, (user) => [user.name]);
  }

  async updateUser(id: string, patch: { admin?: boolean; email?: string }): Promise<User> {
    const p = new Params();
    const rows = await this.#db.query(
      `UPDATE ${this.#t.users} SET admin = coalesce(${p.add(patch.admin)}, admin),
        email = coalesce(${p.add(patch.email)}, email)
       WHERE id = ${p.add(id)} RETURNING *`,
      p.values,
    );
    if (!rows[0]) throw notFound('user', id);
    return toUser(rows[0]);
  }

  async insertToken(token: AccessToken): Promise<AccessToken> {
    const p = new Params();
    const rows = await this.#db.query(
      `INSERT INTO ${this.#t.tokens} (id, user_id, name, secret_hash, created_at, expires_at,
        revoked_at, last_used_at)
       VALUES (${p.add(token.id)}, ${p.add(token.userId)}, ${p.add(token.name)},
        ${p.add(token.secretHash)}, ${p.add(token.createdAt)}, ${p.add(token.expiresAt)},
        ${p.add(token.revokedAt)}, ${p.add(token.lastUsedAt)})
       RETURNING *`,
      p.values,
    );
    return toToken(rows[0]!);
  }

  async getToken(id: string): Promise<AccessToken | undefined> {
    const rows = await this.#db.query(`SELECT * FROM ${this.#t.tokens} WHERE id = $1`, [id]);
    return rows[0] && toToken(rows[0]);
  }

  async getTokenByHash(secretHash: string): Promise<AccessToken | undefined> {
    const rows = await this.#db.query(`SELECT * FROM ${this.#t.tokens} WHERE secret_hash = $1`, [
      secretHash,
    ]);
    return rows[0] && toToken(rows[0]);
  }

  async listTokens(userId: string): Promise<AccessToken[]> {
    const rows = await this.#db.query(
      `SELECT * FROM ${this.#t.tokens} WHERE user_id = $1 ORDER BY name, created_at, id`,
      [userId],
    );
    return rows.map(toToken);
  }

  async updateToken(
    id: string,
    patch: { revokedAt?: Date; lastUsedAt?: Date },
  ): Promise<AccessToken> {
    const p = new Params();
    // lastUsedAt only moves forward: concurrent requests touching a token race harmlessly.
    const rows = await this.#db.query(
      `UPDATE ${this.#t.tokens} SET
        revoked_at = coalesce(${p.add(patch.revokedAt)}::timestamptz, revoked_at),
        last_used_at = greatest(last_used_at, ${p.add(patch.lastUsedAt)}::timestamptz)
       WHERE id = ${p.add(id)} RETURNING *`,
      p.values,
    );
    if (!rows[0]) throw notFound('access token', id);
    return toToken(rows[0]);
  }

  // Permissions

  async putPermission(permission: Permission): Promise<Permission> {
    const p = new Params();
    const rows = await this.#db.query(
      `INSERT INTO ${this.#t.permissions} (project_id, user_id, role, granted_at, granted_by)
       VALUES (${p.add(permission.projectId)}, ${p.add(permission.userId)}, ${p.add(permission.role)},
        ${p.add(permission.grantedAt)}, ${p.add(permission.grantedBy)})
       ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role,
        granted_at = excluded.granted_at, granted_by = excluded.granted_by
       RETURNING *`,
      p.values,
    );
    return toPermission(rows[0]!);
  }

  async deletePermission(projectId: string, userId: string): Promise<boolean> {
    const rows = await this.#db.query(
      `DELETE FROM ${this.#t.permissions} WHERE project_id = $1 AND user_id = $2
       RETURNING project_id`,
      [projectId, userId],
    );
    return rows.length > 0;
  }

  async getPermission(projectId: string, userId: string): Promise<Permission | undefined> {
    const rows = await this.#db.query(
      `SELECT * FROM ${this.#t.permissions} WHERE project_id = $1 AND user_id = $2`,
      [projectId, userId],
    );
    return rows[0] && toPermission(rows[0]);
  }

  async listPermissions(filter: { projectId?: string; userId?: string }): Promise<Permission[]> {
    const p = new Params();
    const where: string[] = [];
    if (filter.projectId !== undefined) where.push(`g.project_id = ${p.add(filter.projectId)}`);
    if (filter.userId !== undefined) where.push(`g.user_id = ${p.add(filter.userId)}`);
    // Ordered by project name, then user name: the order people read them in.
    const rows = await this.#db.query(
      `SELECT g.* FROM ${this.#t.permissions} g
       JOIN ${this.#t.projects} p ON p.id = g.project_id
       JOIN ${this.#t.users} u ON u.id = g.user_id
       ${whereClause(where)} ORDER BY p.name, u.name`,
      p.values,
    );
    return rows.map(toPermission);
  }

  // Ingestions

  async commitIngestion(
    ingestion: Omit<Ingestion, 'sequence' | 'state'>,
    options: CommitIngestionOptions = {},
  ): Promise<Ingestion> {
    return this.#atomic(async (db) => {
      await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
        INGESTION_LOCK_KEY,
        this.#t.ingestions,
      ]);
      const p = new Params();
      // DO NOTHING instead of a unique violation: the caller's transaction stays usable, so
      // it can read the existing ingestion after the AlreadyExistsError.
      const rows = await db.query(
        `INSERT INTO ${this.#t.ingestions} (id, feature_set_id, major, sequence, idempotency_key,
          source, format, row_count, files, statistics, committed_at, committed_by, job_id, state)
         VALUES (${p.add(ingestion.id)}, ${p.add(ingestion.featureSetId)}, ${p.add(ingestion.major)},
          nextval('${this.#t.ingestionSequence}'), ${p.add(ingestion.idempotencyKey)},
          ${p.add(ingestion.source)}, ${p.add(ingestion.format)}, ${p.add(ingestion.rowCount)},
          ${p.json(ingestion.files)}, ${p.json(ingestion.statistics)},
          ${p.add(ingestion.committedAt)}, ${p.add(ingestion.committedBy)},
          ${p.add(ingestion.jobId)}, 'committed')
         ON CONFLICT ON CONSTRAINT ingestions_idempotency_key DO NOTHING
         RETURNING *`,
        p.values,
      );
      if (rows[0]) {
        if (options.onlineApplyPending) {
          await db.query(`INSERT INTO ${this.#t.pendingOnlineApplies} (ingestion_id) VALUES ($1)`, [
            ingestion.id,
          ]);
        }
        return toIngestion(rows[0]);
      }
      const featureSetId = ingestion.featureSetId;
      const key = ingestion.idempotencyKey!;
      const existing = await this.#ingestionByKey(db, featureSetId, key);
      throw new AlreadyExistsError(
        `feature set ${featureSetId} already has an ingestion with idempotency key ${JSON.stringify(key)}${existing ? ` (${existing.id})` : ''}: a retry with that key returns the existing ingestion; read it with getIngestionByIdempotencyKey instead of committing again`,
        {
          details: {
            entity: 'ingestion',
            featureSetId,
            idempotencyKey: key,
            ...(existing ? { existingId: existing.id } : {}),
          },
        },
      );
    });
  }

  async listPendingOnlineApplies(filter: { featureSetId?: string } = {}): Promise<Ingestion[]> {
    if (filter.featureSetId !== undefined && !UUID_PATTERN.test(filter.featureSetId)) return [];
    const rows = await this.#db.query(
      `SELECT i.* FROM ${this.#t.pendingOnlineApplies} p
       JOIN ${this.#t.ingestions} i ON i.id = p.ingestion_id
       ${filter.featureSetId === undefined ? '' : 'WHERE i.feature_set_id = $1'}
       ORDER BY i.sequence`,
      filter.featureSetId === undefined ? [] : [filter.featureSetId],
    );
    return rows.map(toIngestion);
  }

  async clearPendingOnlineApply(ingestionId: string): Promise<boolean> {
    if (!UUID_PATTERN.test(ingestionId)) return false;
    const rows = await this.#db.query(
      `DELETE FROM ${this.#t.pendingOnlineApplies} WHERE ingestion_id = $1 RETURNING 1`,
      [ingestionId],
    );
    return rows.length > 0;
  }

  async getConsumerOffsets(consumer: string): Promise<Map<number, string>> {
    const rows = await this.#db.query(
      `SELECT partition, "offset"::text AS "offset" FROM ${this.#t.consumerOffsets}
       WHERE consumer = $1 ORDER BY partition`,
      [consumer],
    );
    return new Map(rows.map((row) => [Number(row.partition), String(row.offset)]));
  }

  async putConsumerOffsets(
    consumer: string,
    offsets: ReadonlyMap<number, string>,
    expected?: ReadonlyMap<number, string>,
  ): Promise<void> {
    for (const [partition, offset] of offsets) {
      if (!Number.isInteger(partition) || partition < 0 || !/^\d{1,19}$/.test(offset)) {
        throw new ValidationError(
          `consumer offset ${JSON.stringify(offset)} of partition ${partition} is invalid: partitions are integers >= 0, offsets decimal integers >= 0`,
          { details: { field: 'offsets', partition, value: offset } },
        );
      }
    }
    if (offsets.size === 0) return;
    await this.#atomic(async (db) => {
      for (const [partition, offset] of offsets) {
        const was = expected?.get(partition);
        const table = this.#t.consumerOffsets;
        const rows =
          expected === undefined
            ? await db.query(
                `INSERT INTO ${table} (consumer, partition, "offset", updated_at)
                 VALUES ($1, $2, $3, now())
                 ON CONFLICT ON CONSTRAINT consumer_offsets_pkey
                 DO UPDATE SET "offset" = EXCLUDED."offset", updated_at = now()
                 RETURNING 1`,
                [consumer, partition, offset],
              )
            : was === undefined
              ? await db.query(
                  `INSERT INTO ${table} (consumer, partition, "offset", updated_at)
                   VALUES ($1, $2, $3, now())
                   ON CONFLICT ON CONSTRAINT consumer_offsets_pkey DO NOTHING
                   RETURNING 1`,
                  [consumer, partition, offset],
                )
              : await db.query(
                  `UPDATE ${table} SET "offset" = $3, updated_at = now()
                   WHERE consumer = $1 AND partition = $2 AND "offset" = $4
                   RETURNING 1`,
                  [consumer, partition, offset, was],
                );
        if (rows.length === 0) {
          throw new ConflictError(
            `the offset of consumer ${JSON.stringify(consumer)} on partition ${partition} is no longer ${was ?? '(none)'}: another consumer committed these messages meanwhile; re-read the offsets`,
            { details: { entity: 'consumer_offset', consumer, partition } },
          );
        }
      }
    });
  }

  async getIngestion(id: string): Promise<Ingestion | undefined> {
    const rows = await this.#db.query(`SELECT * FROM ${this.#t.ingestions} WHERE id = $1`, [id]);
    return rows[0] && toIngestion(rows[0]);
  }

  async getIngestionByIdempotencyKey(
    featureSetId: string,
    key: string,
  ): Promise<Ingestion | undefined> {
    return this.#ingestionByKey(this.#db, featureSetId, key);
  }

  async listIngestions(featureSetId: string, major?: number): Promise<Ingestion[]> {
    const p = new Params();
    const where = [`feature_set_id = ${p.add(featureSetId)}`];
    if (major !== undefined) where.push(`major = ${p.add(major)}`);
    const rows = await this.#db.query(
      `SELECT * FROM ${this.#t.ingestions} ${whereClause(where)} ORDER BY sequence`,
      p.values,
    );
    return rows.map(toIngestion);
  }

  async restoreIngestion(ingestion: Ingestion): Promise<Ingestion> {
    return this.#atomic(async (db) => {
      // The commit lock too: a commit running meanwhile takes its sequence after this one.
      await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
        INGESTION_LOCK_KEY,
        this.#t.ingestions,
      ]);
      const p = new Params();
      const rows = await db.query(
        `INSERT INTO ${this.#t.ingestions} (id, feature_set_id, major, sequence, idempotency_key,
          source, format, row_count, files, statistics, committed_at, committed_by, job_id, state,
          reverted_at, reverted_by)
         VALUES (${p.add(ingestion.id)}, ${p.add(ingestion.featureSetId)}, ${p.add(ingestion.major)},
          ${p.add(ingestion.sequence)}, ${p.add(ingestion.idempotencyKey)},
          ${p.add(ingestion.source)}, ${p.add(ingestion.format)}, ${p.add(ingestion.rowCount)},
          ${p.json(ingestion.files)}, ${p.json(ingestion.statistics)},
          ${p.add(ingestion.committedAt)}, ${p.add(ingestion.committedBy)},
          ${p.add(ingestion.jobId)}, ${p.add(ingestion.state)}, ${p.add(ingestion.revertedAt)},
          ${p.add(ingestion.revertedBy)})
         RETURNING *`,
        p.values,
      );
      // setval is not undone by a rollback: at worst a later commit skips some numbers.
      await db.query(
        `SELECT setval('${this.#t.ingestionSequence}', greatest($1::bigint,
          (SELECT last_value FROM ${this.#t.ingestionSequence})))`,
        [ingestion.sequence],
      );
      return toIngestion(rows[0]!);
    });
  }

  async revertIngestion(id: string, at: Date, by: string): Promise<Ingestion> {
    // Only a committed ingestion changes: a second revert (even a racing one, which waits for
    // the first and then matches no row) leaves the first revert's time and author.
    const rows = await this.#db.query(
      `UPDATE ${this.#t.ingestions} SET state = 'reverted', reverted_at = $2, reverted_by = $3
       WHERE id = $1 AND state = 'committed' RETURNING *`,
      [id, at, by],
    );
    if (rows[0]) return toIngestion(rows[0]);
    const current = await this.getIngestion(id);
    if (!current) throw notFound('ingestion', id);
    return current;
  }

  async listIngestionFiles(featureSetId: string): Promise<string[]> {
    const rows = await this.#db.query(
      `SELECT f.key FROM ${this.#t.ingestions} i
       CROSS JOIN LATERAL jsonb_array_elements_text(i.files) WITH ORDINALITY AS f (key, n)
       WHERE i.feature_set_id = $1 ORDER BY i.sequence, f.n`,
      [featureSetId],
    );
    return rows.map((row) => row.key as string);
  }

  // Jobs

  async insertJob(job: Job): Promise<Job> {
    const p = new Params();
    const rows = await this.#db.query(
      `INSERT INTO ${this.#t.jobs} (id, type, state, progress, message, request, result, error,
        cancel_requested, created_by, project_id, created_at, started_at, finished_at)
       VALUES (${p.add(job.id)}, ${p.add(job.type)}, ${p.add(job.state)}, ${p.add(job.progress)},
        ${p.add(job.message)}, ${p.json(job.request)}, ${p.json(job.result)}, ${p.json(job.error)},
        ${p.add(job.cancelRequested)}, ${p.add(job.createdBy)}, ${p.add(job.projectId)},
        ${p.add(job.createdAt)}, ${p.add(job.startedAt)}, ${p.add(job.finishedAt)})
       RETURNING *`,
      p.values,
    );
    return toJob(rows[0]!);
  }

  async getJob(id: string): Promise<Job | undefined> {
    const rows = await this.#db.query(`SELECT * FROM ${this.#t.jobs} WHERE id = $1`, [id]);
    return rows[0] && toJob(rows[0]);
  }

  async listJobs(filter: JobFilter = {}): Promise<Page<Job>> {
    const size = pageSizeOf(filter);
    const p = new Params();
    const where: string[] = [];
    if (filter.state !== undefined) where.push(`state = ${p.add(filter.state)}`);
    if (filter.type !== undefined) where.push(`type = ${p.add(filter.type)}`);
    if (filter.createdBy !== undefined) where.push(`created_by = ${p.add(filter.createdBy)}`);
    if (filter.projectIds !== undefined) {
      where.push(`project_id = ANY(${p.add([...filter.projectIds])}::uuid[])`);
    }
    if (filter.pageToken !== undefined) {
      const [createdAt, id] = decodePageToken(filter.pageToken, ['time', 'uuid']);
      where.push(`(created_at, id) < (${p.add(createdAt)}::timestamptz, ${p.add(id)}::uuid)`);
    }
    const rows = await this.#db.query(
      `SELECT * FROM ${this.#t.jobs} ${whereClause(where)}
       ORDER BY created_at DESC, id DESC LIMIT ${p.add(size + 1)}`,
      p.values,
    );
    // Creation times arrive as JS Dates, so the ISO string (milliseconds) is the stored value
    // exactly and the keyset neither skips nor repeats a job.
    return toPage(rows.map(toJob), size, (job) => [job.createdAt.toISOString(), job.id]);
  }

  async updateJob(id: string, patch: JobPatch): Promise<Job> {
    const p = new Params();
    const state = p.add(patch.state);
    const terminal = p.add([...TERMINAL_JOB_STATES]);
    // One statement decides and writes: of two racing finishes, the second waits for the
    // first's row lock, re-checks the condition against the finished row and matches nothing.
    // Setting a finished job to the state it already has changes nothing and is allowed.
    const rows = await this.#db.query(
      `UPDATE ${this.#t.jobs} SET
        state = coalesce(${state}::text, state),
        progress = coalesce(${p.add(patch.progress)}::double precision, progress),
        message = coalesce(${p.add(patch.message)}::text, message),
        result = coalesce(${p.json(patch.result)}, result),
        error = coalesce(${p.json(patch.error)}, error),
        cancel_requested = coalesce(${p.add(patch.cancelRequested)}::boolean, cancel_requested),
        started_at = coalesce(${p.add(patch.startedAt)}::timestamptz, started_at),
        finished_at = coalesce(${p.add(patch.finishedAt)}::timestamptz, finished_at)
       WHERE id = ${p.add(id)} AND (${state}::text IS NULL OR state = ${state}::text
        OR state <> ALL(${terminal}::text[]))
       RETURNING *`,
      p.values,
    );
    if (rows[0]) return toJob(rows[0]);
    const current = await this.getJob(id);
    if (!current) throw notFound('job', id);
    throw new ConflictError(
      `job ${id} already ${current.state}: it cannot become ${patch.state}, a finished job keeps its state; re-read it`,
      {
        details: {
          entity: 'job',
          id,
          state: current.state,
          requestedState: patch.state as JobState,
        },
      },
    );
  }

  // Helpers

  async #insertVersion(db: SqlExecutor, version: FeatureSetVersion): Promise<void> {
    const p = new Params();
    await db.query(
      `INSERT INTO ${this.#t.versions} (feature_set_id, major, minor, schema, description, tags,
        time_to_live, created_at, created_by, changes)
       VALUES (${p.add(version.featureSetId)}, ${p.add(version.version.major)},
        ${p.add(version.version.minor)}, ${p.json(version.schema)}, ${p.add(version.description ?? '')},
        ${p.json(version.tags ?? {})}, ${p.add(version.timeToLive)}, ${p.add(version.createdAt)},
        ${p.add(version.createdBy)}, ${p.json(version.changes ?? [])})`,
      p.values,
    );
  }

  async #ingestionByKey(
    db: SqlExecutor,
    featureSetId: string,
    key: string,
  ): Promise<Ingestion | undefined> {
    const rows = await db.query(
      `SELECT * FROM ${this.#t.ingestions} WHERE feature_set_id = $1 AND idempotency_key = $2`,
      [featureSetId, key],
    );
    return rows[0] && toIngestion(rows[0]);
  }

  /** One feature set matching `where` (on `fs`), at `version` or its latest version. */
  async #readFeatureSet(
    db: SqlExecutor,
    where: string,
    params: unknown[],
    version?: { major: number; minor?: number },
  ): Promise<FeatureSet | undefined> {
    const p = new Params();
    p.values.push(...params);
    let join = 'v.major = fs.latest_major AND v.minor = fs.latest_minor';
    if (version !== undefined) {
      join = `v.major = ${p.add(version.major)}`;
      if (version.minor !== undefined) join += ` AND v.minor = ${p.add(version.minor)}`;
    }
    const rows = await db.query(
      `SELECT ${FEATURE_SET_COLUMNS}
       FROM ${this.#t.featureSets} fs
       JOIN ${this.#t.projects} p ON p.id = fs.project_id
       JOIN ${this.#t.versions} v ON v.feature_set_id = fs.id AND ${join}
       WHERE ${where}
       ORDER BY v.major DESC, v.minor DESC LIMIT 1`,
      p.values,
    );
    return rows[0] && toFeatureSet(rows[0]);
  }

  /** Says why the conditional bump of a feature set matched no row, as an error. */
  async #refuseVersion(
    db: SqlExecutor,
    version: FeatureSetVersion,
    expectedRevision: number,
  ): Promise<never> {
    const rows = await db.query(
      `SELECT name, revision, latest_major, latest_minor FROM ${this.#t.featureSets} WHERE id = $1`,
      [version.featureSetId],
    );
    const current = rows[0];
    if (!current || current.revision !== expectedRevision) {
      throw staleOrMissing('feature set', version.featureSetId, current, expectedRevision);
    }
    const wanted = `${version.version.major}.${version.version.minor}`;
    const latest = `${current.latest_major}.${current.latest_minor}`;
    throw new ConflictError(
      wanted === latest || (await this.#versionExists(db, version))
        ? `version ${wanted} of feature set "${current.name}" already exists: re-read the feature set and create the next version`
        : `version ${wanted} of feature set "${current.name}" is older than its latest version ${latest}: re-read the feature set and create the next version`,
      { details: { featureSetId: version.featureSetId, version: wanted, latestVersion: latest } },
    );
  }

  async #versionExists(db: SqlExecutor, version: FeatureSetVersion): Promise<boolean> {
    const rows = await db.query(
      `SELECT 1 FROM ${this.#t.versions} WHERE feature_set_id = $1 AND major = $2 AND minor = $3`,
      [version.featureSetId, version.version.major, version.version.minor],
    );
    return rows.length > 0;
  }
}

function whereClause(conditions: string[]): string {
  return conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
}

/** `tags ? key`, or containment of `{key: value}`: both served by the GIN index on tags. */
function tagCondition(column: string, tag: TagFilter, p: Params): string {
  return tag.value === undefined
    ? `${column} ? ${p.add(tag.key)}`
    : `${column} @> ${p.json({ [tag.key]: tag.value })}`;
}

function notFound(entity: string, id: string): NotFoundError {
  return new NotFoundError(`${entity} ${id} does not exist: it may have been deleted; re-read`, {
    details: { entity, id },
  });
}

/** The error for a conditional update that matched no row: the row is gone, or moved on. */
function staleOrMissing(
  entity: string,
  id: string,
  current: Record<string, unknown> | undefined,
  expectedRevision: number,
): Error {
  if (!current) return notFound(entity, id);
  return new ConflictError(
    `${entity} "${current.name}" was changed concurrently: expected revision ${expectedRevision}, current revision ${current.revision}; re-read it and retry`,
    { details: { entity, id, expectedRevision, currentRevision: current.revision } },
  );
}
