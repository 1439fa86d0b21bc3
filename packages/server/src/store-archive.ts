/*
 * The archive `featurestore export` writes and `featurestore import` reads: a folder with
 * every metadata record as JSON Lines, the data files under `data/`, and `manifest.json`
 * (written last: an archive without one is incomplete) holding the counts and a SHA-256 of
 * every file. Moving a store this way keeps ids, times, ingestion sequences and idempotency
 * keys, so references between records, "as of ingestion N" and retries keep their meaning.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type AccessToken,
  AlreadyExistsError,
  type FeatureSet,
  type FeatureSetVersion,
  type Ingestion,
  type Job,
  listAll,
  type MetadataOperations,
  type MetadataStore,
  type ObjectStorage,
  type Page,
  type Permission,
  type Project,
  type User,
  ValidationError,
} from '@featurestore/core';

/** Where job outputs and feature set data live (core's storage layout, not exported by it). */
const JOB_OUTPUTS_PREFIX = 'outputs/';
const FEATURE_SETS_PREFIX = 'featuresets/';

/** What the `format` field of every archive's manifest says. */
export const ARCHIVE_FORMAT = 'featurestore-archive';

/** The archive layout this release writes and reads. */
export const ARCHIVE_FORMAT_VERSION = 1;

/** The kinds of metadata records, in the order an import inserts them (references first). */
export const RECORD_KINDS = [
  'users',
  'tokens',
  'projects',
  'feature-sets',
  'feature-set-versions',
  'permissions',
  'ingestions',
  'jobs',
] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** One file of an archive: where, how big, and its SHA-256 (hex). */
export interface ArchiveFile {
  /** The storage key (data) or the file name in the archive (records). */
  key: string;
  size: number;
  sha256: string;
}

/** `manifest.json`: what the archive holds, to check it before anything is imported. */
export interface ArchiveManifest {
  format: typeof ARCHIVE_FORMAT;
  formatVersion: number;
  /** The Featurestore release that wrote it. */
  sourceVersion: string;
  exportedAt: string;
  /** Per kind, the JSON Lines file (`<kind>.jsonl`) and how many records it holds. */
  records: Record<RecordKind, ArchiveFile & { count: number }>;
  /** Every data file, under `data/<key>` in the archive. */
  data: ArchiveFile[];
}

/** How many records of each kind and how many data files (and bytes) were moved. */
export interface ArchiveSummary {
  records: Record<RecordKind, number>;
  dataFiles: number;
  dataBytes: number;
}

interface Records {
  users: User[];
  tokens: AccessToken[];
  projects: Project[];
  'feature-sets': FeatureSet[];
  'feature-set-versions': FeatureSetVersion[];
  permissions: Permission[];
  ingestions: Ingestion[];
  jobs: Job[];
}

/** Top-level fields holding times: JSON has no dates, so these are turned back into `Date`s. */
const DATE_FIELDS = new Set([
  'createdAt',
  'updatedAt',
  'expiresAt',
  'revokedAt',
  'lastUsedAt',
  'grantedAt',
  'committedAt',
  'revertedAt',
  'startedAt',
  'finishedAt',
]);

/**
 * Writes the metadata and data of a store into `dir` (which must be missing or empty).
 * Readers should be the only users of the store meanwhile: the embedded store's lock makes
 * sure of it; with PostgreSQL, stop the servers first.
 */
export async function exportStore(
  metadata: MetadataStore,
  storage: ObjectStorage,
  dir: string,
  sourceVersion: string,
): Promise<ArchiveSummary> {
  await requireEmptyFolder(dir);
  await mkdir(join(dir, 'data'), { recursive: true, mode: 0o700 });
  const records = await readRecords(metadata);
  const written = {} as ArchiveManifest['records'];
  for (const kind of RECORD_KINDS) {
    const text = records[kind].map((record) => `${JSON.stringify(record)}\n`).join('');
    const file = `${kind}.jsonl`;
    await writeFile(join(dir, file), text, { mode: 0o600 });
    const bytes = Buffer.from(text);
    written[kind] = {
      key: file,
      size: bytes.length,
      sha256: sha256(bytes),
      count: records[kind].length,
    };
  }
  const keys = records.ingestions.flatMap((ingestion) => ingestion.files);
  // Job outputs too: a finished retrieve's result is still downloadable after the move.
  for await (const object of listAll(storage, JOB_OUTPUTS_PREFIX)) keys.push(object.key);
  const data: ArchiveFile[] = [];
  for (const key of [...new Set(keys)].sort()) {
    const path = dataPath(dir, key);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const digest = new Digest();
    await pipeline(await storage.get(key), digest, createWriteStream(path, { mode: 0o600 }));
    data.push({ key, size: digest.size, sha256: digest.hex() });
  }
  const manifest: ArchiveManifest = {
    format: ARCHIVE_FORMAT,
    formatVersion: ARCHIVE_FORMAT_VERSION,
    sourceVersion,
    exportedAt: new Date().toISOString(),
    records: written,
    data,
  };
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, {
    mode: 0o600,
  });
  return summaryOf(manifest);
}

/**
 * Imports an archive into an empty store: checks every checksum first (a damaged archive
 * changes nothing), copies the data files through `storage`, then inserts every metadata
 * record in one transaction, as recorded. If the metadata fails, the copied files are
 * removed again. Data objects the archive itself holds may already be there (a re-run after
 * an interrupted import): they are written again.
 */
export async function importStore(
  metadata: MetadataStore,
  storage: ObjectStorage,
  dir: string,
): Promise<ArchiveSummary> {
  const manifest = await readManifest(dir);
  await verifyFiles(dir, manifest);
  const records = await parseRecords(dir, manifest);
  await metadata.transaction((tx) => requireEmptyMetadata(tx));
  await requireEmptyStorage(storage, manifest);
  const copied: string[] = [];
  try {
    for (const file of manifest.data) {
      await storage.put(file.key, createReadStream(dataPath(dir, file.key)));
      copied.push(file.key);
      const there = await storage.head(file.key);
      if (there?.size !== file.size) {
        throw new ValidationError(
          `data file ${file.key} is ${there?.size ?? 'missing'} bytes in the target storage after the copy, not ${file.size}: check the storage and import again`,
          { details: { field: 'data', value: file.key } },
        );
      }
    }
    await metadata.transaction(async (tx) => {
      // Checked again inside the transaction: another import may have run meanwhile.
      await requireEmptyMetadata(tx);
      await insertRecords(tx, records);
    });
  } catch (error) {
    await storage.delete(copied).catch(() => undefined);
    throw error;
  }
  return summaryOf(manifest);
}

/** Every record of the store, read through the port's listings. */
async function readRecords(metadata: MetadataStore): Promise<Records> {
  const users = await allPages((pageToken) => metadata.listUsers({ pageSize: 1000, ...pageToken }));
  const projects = await allPages((pageToken) =>
    metadata.listProjects({ pageSize: 1000, ...pageToken }),
  );
  const featureSets = await allPages((pageToken) =>
    metadata.listFeatureSets({ pageSize: 1000, ...pageToken }),
  );
  const jobs = await allPages((pageToken) => metadata.listJobs({ pageSize: 1000, ...pageToken }));
  const tokens: AccessToken[] = [];
  for (const user of users) tokens.push(...(await metadata.listTokens(user.id)));
  const versions: FeatureSetVersion[] = [];
  const ingestions: Ingestion[] = [];
  for (const set of featureSets) {
    versions.push(...(await metadata.listFeatureSetVersions(set.id)));
    ingestions.push(...(await metadata.listIngestions(set.id)));
  }
  return {
    users,
    tokens,
    projects,
    'feature-sets': featureSets,
    'feature-set-versions': versions,
    permissions: await metadata.listPermissions({}),
    ingestions: ingestions.sort((a, b) => a.sequence - b.sequence),
    // Oldest first: the order they were created in.
    jobs: jobs.reverse(),
  };
}

async function allPages<T>(list: (page: { pageToken?: string }) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  let pageToken: string | undefined;
  do {
    const page = await list(pageToken === undefined ? {} : { pageToken });
    items.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken !== undefined);
  return items;
}

/** Inserts the records as they were: ids, times, revisions and sequences kept. */
async function insertRecords(tx: MetadataOperations, records: Records): Promise<void> {
  for (const user of records.users) await tx.insertUser(user);
  for (const token of records.tokens) await tx.insertToken(token);
  for (const project of records.projects) await tx.insertProject(project);
  for (const set of records['feature-sets']) {
    const versions = records['feature-set-versions'].filter((v) => v.featureSetId === set.id);
    const [first, ...later] = versions;
    if (!first) {
      throw new ValidationError(
        `feature set ${set.projectName}/${set.name} (${set.id}) has no versions in feature-set-versions.jsonl: export the store again`,
        { details: { field: 'feature-set-versions', value: set.id } },
      );
    }
    // Each later version bumps the revision by one, so the feature set ends at its own.
    let revision = set.revision - later.length;
    await tx.insertFeatureSet({
      ...set,
      ...first,
      createdAt: set.createdAt,
      updatedAt: set.updatedAt,
      latestVersion: first.version,
      revision,
    });
    for (const version of later) await tx.insertFeatureSetVersion(version, revision++);
  }
  for (const permission of records.permissions) await tx.putPermission(permission);
  for (const ingestion of records.ingestions) await tx.restoreIngestion(ingestion);
  for (const job of records.jobs) await tx.insertJob(job);
}

/** Refuses a target that already holds records, naming some of them. */
async function requireEmptyMetadata(tx: MetadataOperations): Promise<void> {
  const present: string[] = [];
  const users = (await tx.listUsers({ pageSize: 5 })).items;
  if (users.length > 0) present.push(`users (${users.map((user) => user.name).join(', ')})`);
  const projects = (await tx.listProjects({ pageSize: 5 })).items;
  if (projects.length > 0) {
    present.push(`projects (${projects.map((project) => project.name).join(', ')})`);
  }
  const jobs = (await tx.listJobs({ pageSize: 1 })).items;
  if (jobs.length > 0) present.push('jobs');
  if (present.length > 0) {
    throw new ValidationError(
      `the target metadata store is not empty: it holds ${present.join(', ')}; import into a new schema or database (featurestore migrate creates it empty) before anything else opens it`,
      { details: { field: 'metadata', present } },
    );
  }
}

/** Refuses a storage root holding data files the archive does not bring. */
async function requireEmptyStorage(storage: ObjectStorage, manifest: ArchiveManifest) {
  const ours = new Set(manifest.data.map((file) => file.key));
  for (const prefix of [FEATURE_SETS_PREFIX, JOB_OUTPUTS_PREFIX]) {
    for await (const object of listAll(storage, prefix)) {
      if (ours.has(object.key)) continue;
      throw new ValidationError(
        `the target storage is not empty: it holds ${storage.uri(object.key)}, which the archive does not bring; import into an empty bucket, prefix or folder`,
        { details: { field: 'storage', value: object.key } },
      );
    }
  }
}

async function readManifest(dir: string): Promise<ArchiveManifest> {
  const path = join(dir, 'manifest.json');
  let manifest: ArchiveManifest;
  try {
    manifest = JSON.parse(await readFile(path, 'utf8')) as ArchiveManifest;
  } catch (error) {
    throw new ValidationError(
      `${path} cannot be read (${(error as Error).message}): give the folder featurestore export wrote; an export that did not finish has no manifest, run it again`,
      { cause: error, details: { field: 'DIR', value: dir } },
    );
  }
  if (manifest.format !== ARCHIVE_FORMAT || manifest.formatVersion !== ARCHIVE_FORMAT_VERSION) {
    throw new ValidationError(
      `${path} is not a ${ARCHIVE_FORMAT} of version ${ARCHIVE_FORMAT_VERSION} (format ${JSON.stringify(manifest.format)}, version ${JSON.stringify(manifest.formatVersion)}): export it with this release`,
      { details: { field: 'manifest.json', value: manifest.formatVersion } },
    );
  }
  const complete =
    Array.isArray(manifest.data) &&
    RECORD_KINDS.every((kind) => typeof manifest.records?.[kind]?.sha256 === 'string');
  if (!complete) {
    throw new ValidationError(
      `${path} lacks the data list or the checksum of a record file (${RECORD_KINDS.join(', ')}): it was edited or is damaged; export the store again`,
      { details: { field: 'manifest.json', value: path } },
    );
  }
  for (const file of manifest.data) dataPath(dir, file.key);
  return manifest;
}

/** Every file against its size and SHA-256, before anything is written to the target. */
async function verifyFiles(dir: string, manifest: ArchiveManifest): Promise<void> {
  const files = [
    ...RECORD_KINDS.map((kind) => ({
      ...manifest.records[kind],
      path: join(dir, `${kind}.jsonl`),
    })),
    ...manifest.data.map((file) => ({ ...file, path: dataPath(dir, file.key) })),
  ];
  for (const file of files) {
    const digest = new Digest();
    try {
      await pipeline(createReadStream(file.path), digest, async (chunks) => {
        for await (const _ of chunks);
      });
    } catch (error) {
      throw new ValidationError(
        `archive file ${file.path} cannot be read (${(error as Error).message}): the archive is incomplete, export the store again`,
        { cause: error, details: { field: 'DIR', value: file.path } },
      );
    }
    if (digest.size !== file.size || digest.hex() !== file.sha256) {
      throw new ValidationError(
        `archive file ${file.path} does not match its checksum in manifest.json (${digest.size} bytes, sha256 ${digest.hex()}; expected ${file.size} bytes, sha256 ${file.sha256}): it was changed or damaged; nothing was imported, export the store again`,
        { details: { field: 'DIR', value: file.path } },
      );
    }
  }
}

async function parseRecords(dir: string, manifest: ArchiveManifest): Promise<Records> {
  const records = {} as Record<RecordKind, unknown[]>;
  for (const kind of RECORD_KINDS) {
    const file = join(dir, `${kind}.jsonl`);
    const lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
    records[kind] = lines.map((line) => {
      const record = JSON.parse(line) as Record<string, unknown>;
      // Only the record's own fields: a job's request or result may hold any JSON.
      for (const field of DATE_FIELDS) {
        const value = record[field];
        if (typeof value === 'string') record[field] = new Date(value);
      }
      return record;
    });
    if (records[kind].length !== manifest.records[kind].count) {
      throw new ValidationError(
        `${file} holds ${records[kind].length} records, manifest.json says ${manifest.records[kind].count}: export the store again`,
        { details: { field: 'DIR', value: file } },
      );
    }
  }
  return records as unknown as Records;
}

/** The path of a data file in the archive; refuses keys that would leave `data/`. */
function dataPath(dir: string, key: string): string {
  if (
    key === '' ||
    key.startsWith('/') ||
    key.split('/').some((part) => part === '..' || part === '')
  ) {
    throw new ValidationError(
      `manifest.json names a data file ${JSON.stringify(key)} outside the archive's data folder: the archive is not one featurestore export wrote`,
      { details: { field: 'data', value: key } },
    );
  }
  return join(dir, 'data', ...key.split('/'))
    .split('/')
    .join(sep);
}

async function requireEmptyFolder(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') {
      throw new ValidationError(
        `export folder ${dir} cannot be used (${(error as Error).message}): give a new or empty folder`,
        { cause: error, details: { field: 'DIR', value: dir } },
      );
    }
    entries = [];
  }
  if (entries.length > 0) {
    throw new AlreadyExistsError(
      `export folder ${dir} is not empty (it holds ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): give a new or empty folder`,
      { details: { field: 'DIR', value: dir } },
    );
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

function summaryOf(manifest: ArchiveManifest): ArchiveSummary {
  const records = {} as Record<RecordKind, number>;
  for (const kind of RECORD_KINDS) records[kind] = manifest.records[kind].count;
  return {
    records,
    dataFiles: manifest.data.length,
    dataBytes: manifest.data.reduce((sum, file) => sum + file.size, 0),
  };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Passes bytes through, counting them and hashing them (SHA-256). */
class Digest extends Transform {
  readonly #hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.#hash.update(chunk);
    this.size += chunk.length;
    this.push(chunk);
    done();
  }

  hex(): string {
    return this.#hash.copy().digest('hex');
  }
}
