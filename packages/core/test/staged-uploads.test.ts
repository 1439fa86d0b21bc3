import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFileStorage, listAll, readAll, StagedUploads } from '../src/index.js';

async function* bytes(...parts: (string | Buffer)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield Buffer.from(part);
}

describe('StagedUploads', () => {
  let base: string;
  let storage: LocalFileStorage;
  let uploads: StagedUploads;
  const staged = async () => {
    const keys: string[] = [];
    for await (const object of listAll(storage, 'tmp/')) keys.push(object.key);
    return keys;
  };

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'featurestore-uploads-'));
    storage = new LocalFileStorage(base);
    uploads = new StagedUploads(storage);
  });
  afterAll(async () => rm(base, { recursive: true, force: true }));

  it('stages the bytes under tmp/uploads/ as one object, named for records, and removes it', async () => {
    const upload = await uploads.stage(bytes('a,b\n', '1,2\n'), { format: 'csv', name: 'in.csv' });
    expect(upload).toMatchObject({ format: 'csv', name: 'in.csv', size: 8 });
    expect(upload.description).toBe('upload:in.csv');
    expect(upload.key).toMatch(/^tmp\/uploads\/[0-9a-f-]{36}\.csv$/);
    expect((await readAll(await storage.get(upload.key))).toString()).toBe('a,b\n1,2\n');
    await uploads.remove(upload);
    expect(await staged()).toEqual([]);
  });

  /** [declared format, bytes, what the message says] */
  const REFUSED: [string, 'csv' | 'parquet' | 'json', Buffer, RegExp][] = [
    [
      'CSV declared Parquet',
      'parquet',
      Buffer.from('a,b\n1,2\n'),
      /declared parquet.*no Parquet file/,
    ],
    ['Parquet declared CSV', 'csv', Buffer.from('PAR1\0\0\0\0'), /declared csv.*a Parquet file/],
    [
      'CSV declared JSON Lines',
      'json',
      Buffer.from('a,b\n1,2\n'),
      /declared json.*not a JSON object/,
    ],
    ['nothing at all', 'csv', Buffer.alloc(0), /upload x is empty/],
  ];
  it.each(REFUSED)('refuses %s, leaving nothing behind', async (_name, format, body, message) => {
    await expect(uploads.stage(bytes(body), { format, name: 'x' })).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(message),
    });
    expect(await staged()).toEqual([]);
  });

  it('accepts gzipped CSV and JSON Lines (the compute engine reads gzip by its content)', async () => {
    const gzip = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    for (const format of ['csv', 'json'] as const) {
      await uploads.remove(await uploads.stage(bytes(gzip), { format }));
    }
    expect(await staged()).toEqual([]);
  });

  it('a stream that fails or is aborted half-way leaves nothing behind', async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('a,b\n');
      throw new Error('the connection dropped');
    }
    await expect(uploads.stage(broken(), { format: 'csv' })).rejects.toThrow(/connection dropped/);
    const controller = new AbortController();
    async function* cut(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('a,b\n');
      controller.abort(new Error('the call was cancelled'));
      yield Buffer.from('1,2\n');
    }
    await expect(
      uploads.stage(cut(), { format: 'csv', signal: controller.signal }),
    ).rejects.toThrow(/cancelled/);
    expect(await staged()).toEqual([]);
  });
});
