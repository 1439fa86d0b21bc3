import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../src/index.js';
import { normalizeUri, SourceAccess } from '../src/index.js';

const local: Principal = { userId: 'u0', name: 'me', admin: true, via: 'local' };
const token: Principal = { userId: 'u1', name: 'alice', admin: true, via: 'token' };
const oidc: Principal = { userId: 'u2', name: 'bob', admin: false, via: 'oidc' };

describe('SourceAccess', () => {
  let base: string;
  let access: SourceAccess;
  const at = (...parts: string[]) => join(base, ...parts);

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'featurestore-access-'));
    for (const folder of ['landing', 'landing-other', 'store/data', 'elsewhere']) {
      await mkdir(at(folder), { recursive: true });
    }
    await writeFile(at('landing', 'in.csv'), 'x\n');
    await writeFile(at('landing-other', 'in.csv'), 'x\n');
    await writeFile(at('elsewhere', 'secret.csv'), 'x\n');
    // The landing root as configured is a link: real paths under its target count as inside.
    await symlink(at('landing'), at('landing-link'));
    access = new SourceAccess({
      roots: [at('landing-link'), 's3://in-bucket/drop/', 'file:///never/there'],
      protected: [at('store', 'data'), 's3://store-bucket/prefix/'],
    });
  });
  afterAll(async () => rm(base, { recursive: true, force: true }));

  /** [caller, path as given, its real path, allowed], relative to the test folder. */
  const LOCAL: [Principal, string, string, boolean][] = [
    [token, 'landing-link/in.csv', 'landing/in.csv', true],
    [oidc, 'landing-link/in.csv', 'landing/in.csv', true],
    [token, 'landing/in.csv', 'landing/in.csv', true],
    [token, 'landing-other/in.csv', 'landing-other/in.csv', false],
    [token, 'landing-link/x.csv', 'elsewhere/secret.csv', false],
    [token, 'elsewhere/secret.csv', 'elsewhere/secret.csv', false],
    [token, 'landing-link/data', 'store/data/part.parquet', false],
    [local, 'elsewhere/secret.csv', 'elsewhere/secret.csv', true],
    [local, 'store/data', 'store/data', false],
    [local, 'store/data/x', 'store/data/x/y.parquet', false],
    [local, 'store/data-copy', 'store/data-copy/y.csv', true],
  ];
  for (const [caller, given, real, allowed] of LOCAL) {
    it(`${caller.via}: ${given} → ${real}: ${allowed ? 'allowed' : 'refused'}`, async () => {
      const check = async () => {
        await access.checkLocalPath(caller, 'source', at(given), at(given));
        await access.checkRealPath(caller, 'source', at(given), at(real));
      };
      if (allowed) await check();
      else await expect(check()).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    });
  }

  const URIS: [Principal, string, 'allowed' | 'PERMISSION_DENIED' | 'VALIDATION'][] = [
    [token, 's3://in-bucket/drop/a.csv', 'allowed'],
    [token, 's3://in-bucket/drop', 'allowed'],
    [token, 'S3://IN-BUCKET/drop/a.csv', 'allowed'],
    [token, 's3://in-bucket/dropbox/a.csv', 'PERMISSION_DENIED'],
    [token, 's3://in-bucket/a.csv', 'PERMISSION_DENIED'],
    [token, 's3://in-bucket/drop/../a.csv', 'VALIDATION'],
    [token, 's3://in-bucket/drop/./a.csv', 'VALIDATION'],
    [token, 's3://in-bucket//drop/a.csv', 'VALIDATION'],
    [token, 's3://in-bucket/drop/a.csv?x=1', 'VALIDATION'],
    [local, 's3://other/a.csv', 'allowed'],
    [local, 's3://store-bucket/prefix/featuresets/a.parquet', 'PERMISSION_DENIED'],
    [local, 's3://store-bucket/prefix', 'PERMISSION_DENIED'],
    [local, 's3://store-bucket/prefixed/a.csv', 'allowed'],
    [token, 's3://store-bucket/prefix/featuresets/a.parquet', 'PERMISSION_DENIED'],
  ];
  for (const [caller, uri, outcome] of URIS) {
    it(`${caller.via}: ${uri}: ${outcome}`, () => {
      const check = () => access.checkUri(caller, 'entity file', uri, uri);
      if (outcome === 'allowed') expect(check).not.toThrow();
      else expect(check).toThrow(expect.objectContaining({ code: outcome }));
    });
  }

  it('lists the landing roots as configured', () => {
    expect(access.roots).toEqual([at('landing-link'), '/never/there', 's3://in-bucket/drop/']);
  });

  it('refuses a relative root', () => {
    expect(() => new SourceAccess({ roots: ['landing'] })).toThrow(
      /sources\.roots: "landing" must be an absolute folder or a file:\/\/, s3:\/\/ or abfss:\/\/ URL/,
    );
  });

  it('normalizes the scheme and authority only', () => {
    expect(normalizeUri('ABFSS://FS@Acct.dfs.core.windows.net/In/A.csv', 'source')).toBe(
      'abfss://fs@acct.dfs.core.windows.net/In/A.csv',
    );
  });
});
