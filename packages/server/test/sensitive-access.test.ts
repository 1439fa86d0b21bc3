import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Principal } from '@featurestore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { tempStore } from './helpers.js';

/*
 * Sensitivity belongs to the data of a major lineage, not to one version's schema: `income` and
 * `ssn` are marked sensitive in 1.1 and `ssn` unmarked again in 1.2, over data shared by 1.0,
 * 1.1 and 1.2. Every data path × every way of naming the version × every role, acting through
 * real access tokens.
 */

const schema = {
  primaryKey: ['id'],
  eventTime: 'ts',
  features: [
    { name: 'id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'age', type: 'int64' },
    { name: 'income', type: 'float64' },
    { name: 'ssn', type: 'string' },
  ],
};

function markSensitive(names: readonly string[]) {
  return {
    ...schema,
    features: schema.features.map((f) => (names.includes(f.name) ? { ...f, sensitive: true } : f)),
  };
}

type Role = 'viewer' | 'consumer' | 'sensitive_consumer';
const ROLES: Role[] = ['viewer', 'consumer', 'sensitive_consumer'];
/** Version spellings of the lineage: unmarked (1.0), marked (1.1), ssn unmarked again (1.2). */
const VERSIONS = ['1.0', '1.1', '1.2', '1', undefined] as const;

/** What a role may read: `plain` features, and `sensitive` ones too. */
const MAY: Record<Role, { plain: boolean; sensitive: boolean }> = {
  viewer: { plain: false, sensitive: false },
  consumer: { plain: true, sensitive: false },
  sensitive_consumer: { plain: true, sensitive: true },
};

describe('sensitive features across the versions of a lineage', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  let fs: FeatureStore;
  const callers = {} as Record<Role, Principal>;

  beforeAll(async () => {
    store = await tempStore();
    // The callers sign in with tokens: they read entity files only under a landing root.
    fs = await openFeatureStore({ store: store.dir, sources: { roots: [store.dir] } });
    const { engine, principal: admin } = fs;
    await engine.projects.create(admin, { name: 'bank' });
    await engine.featureSets.register(admin, 'bank', 'cust', schema);
    const before = join(store.dir, 'before.csv');
    await writeFile(before, 'id,ts,age,income,ssn\nc1,2026-01-01T00:00:00Z,30,1000,111-11-1111\n');
    await (await engine.offline.ingest(admin, 'bank', 'cust', before)).result;
    await engine.featureSets.update(admin, 'bank', 'cust', {
      schema: markSensitive(['income', 'ssn']),
    });
    const after = join(store.dir, 'after.csv');
    await writeFile(after, 'id,ts,age,income,ssn\nc1,2026-02-01T00:00:00Z,31,9999,987-65-4321\n');
    await (await engine.offline.ingest(admin, 'bank', 'cust', after)).result;
    await engine.featureSets.update(admin, 'bank', 'cust', { schema: markSensitive(['income']) });
    const versions = await engine.featureSets.versions(admin, 'bank', 'cust');
    expect(versions.map((v) => `${v.version.major}.${v.version.minor}`)).toEqual([
      '1.0',
      '1.1',
      '1.2',
    ]);
    await writeFile(join(store.dir, 'entities.csv'), 'id,at\nc1,2026-03-01T00:00:00Z\n');
    for (const role of ROLES) {
      await engine.access.createUser(admin, { name: role });
      await engine.access.grant(admin, 'bank', role, role);
      const { secret } = await engine.access.createToken(admin, { name: 'test', user: role });
      callers[role] = await fs.authenticate(secret);
      expect(callers[role].via).toBe('token');
    }
  });
  afterAll(async () => {
    await fs?.close();
    await store?.remove();
  });

  const at = (version: string | undefined) => (version === undefined ? '' : `@${version}`);

  /** Each data path, reading `feature` (or every column) through `version`. */
  const PATHS: Record<
    string,
    (caller: Principal, version: string | undefined, feature: string) => Promise<unknown>
  > = {
    historical: async (caller, version, feature) =>
      (
        await fs.engine.offline.historical(caller, {
          entities: join(store.dir, 'entities.csv'),
          entityTime: 'at',
          features: `bank/cust${at(version)}:${feature}`,
        })
      ).result,
    'online get': (caller, version, feature) =>
      fs.engine.online!.getOnlineFeatures(caller, {
        features: `bank/cust${at(version)}:${feature}`,
        entities: [{ id: 'c1' }],
      }),
  };

  for (const [path, read] of Object.entries(PATHS)) {
    for (const role of ROLES) {
      for (const version of VERSIONS) {
        for (const feature of ['age', 'income', 'ssn', '*']) {
          const sensitive = feature !== 'age';
          const allowed = sensitive ? MAY[role].sensitive : MAY[role].plain;
          it(`${path} ${feature}${at(version)} by ${role}: ${allowed ? 'allowed' : 'denied'}`, async () => {
            const outcome = read(callers[role], version, feature);
            if (allowed) await outcome;
            else await expect(outcome).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
          });
        }
      }
    }
  }

  for (const role of ROLES) {
    for (const version of VERSIONS) {
      const allowed = MAY[role].sensitive;
      it(`retrieve${at(version)} (every column) by ${role}: ${allowed ? 'allowed' : 'denied'}`, async () => {
        const outcome = fs.engine.offline
          .retrieve(callers[role], 'bank', 'cust', {
            ...(version === undefined ? {} : { version }),
            latest: true,
          })
          .then((running) => running.result);
        if (allowed) await outcome;
        else await expect(outcome).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      });
    }
  }

  it('the refusal names the sensitive features and the role they need', async () => {
    await expect(
      fs.engine.online!.getOnlineFeatures(callers.consumer, {
        features: 'bank/cust@1.0:*',
        entities: [{ id: 'c1' }],
      }),
    ).rejects.toThrow(
      /may not read the sensitive features income, ssn of cust in project "bank": it needs the role sensitive_consumer/,
    );
  });

  it('a sensitive consumer reads the values ingested after the marking through 1.0', async () => {
    const [row] = await fs.engine.online!.getOnlineFeatures(callers.sensitive_consumer, {
      features: 'bank/cust@1.0:income,bank/cust@1.0:ssn',
      entities: [{ id: 'c1' }],
    });
    expect(row).toEqual({ id: 'c1', cust__income: 9999, cust__ssn: '987-65-4321' });
  });

  for (const role of ROLES) {
    for (const version of VERSIONS) {
      it(`ingestion statistics${at(version)} as ${role} hold only features it may read`, async () => {
        const ingestions = await fs.engine.offline.ingestions(
          callers[role],
          'bank',
          'cust',
          version,
        );
        expect(ingestions).toHaveLength(2);
        const visible = MAY[role].sensitive
          ? ['age', 'id', 'income', 'ssn', 'ts']
          : MAY[role].plain
            ? ['age', 'id', 'ts']
            : [];
        for (const ingestion of ingestions) {
          expect(Object.keys(ingestion.statistics).sort()).toEqual(visible);
          const withheld = ['age', 'id', 'income', 'ssn', 'ts'].filter((f) => !visible.includes(f));
          expect(ingestion.statisticsWithheld?.sort()).toEqual(
            withheld.length === 0 ? undefined : withheld,
          );
          expect(JSON.stringify(ingestion)).not.toMatch(
            MAY[role].sensitive ? /^$/ : /987-65-4321|111-11-1111|9999/,
          );
        }
      });
    }
  }
});
