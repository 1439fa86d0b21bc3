import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The name the test certificate is issued to: clients dial 127.0.0.1 and check this name. */
export const TEST_SERVER_NAME = 'featurestore.test';

/** A self-signed certificate for `featurestore.test`, usable by a server and by a client (mTLS). */
export async function selfSignedCertificate(dir: string): Promise<{ cert: Buffer; key: Buffer }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${TEST_SERVER_NAME}`,
    '-addext',
    `subjectAltName=DNS:${TEST_SERVER_NAME}`,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { cert: await readFile(cert), key: await readFile(key) };
}
