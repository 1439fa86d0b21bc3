import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../src/redact-secrets.js';

describe('redactSecrets', () => {
  it.each([
    // The userinfo password, with and without a user name.
    ['redis://:s3cret@cache:6379/0', 'redis://:***@cache:6379/0'],
    ['rediss://default:s3cret@cache:6380', 'rediss://default:***@cache:6380'],
    ['redis-cluster://:pw@n1:7000,n2:7001', 'redis-cluster://:***@n1:7000,n2:7001'],
    ['postgres://fs:pa%40ss@db:5432/fs', 'postgres://fs:***@db:5432/fs'],
    ['postgres://fs:p@ss@db/fs', 'postgres://fs:***@db/fs'],
    [
      'kafkas://svc:pw@b1:9093,b2:9093?mechanism=scram-sha-512',
      'kafkas://svc:***@b1:9093,b2:9093?mechanism=scram-sha-512',
    ],
    // A user name alone is not a secret.
    ['postgres://fs@db/fs', 'postgres://fs@db/fs'],
    // Password-like query parameters.
    ['postgres://db/fs?user=fs&password=s3cret', 'postgres://db/fs?user=fs&password=***'],
    [
      'postgresql://fs@db/fs?sslmode=verify-full&sslpassword=k3y',
      'postgresql://fs@db/fs?sslmode=verify-full&sslpassword=***',
    ],
    ['postgres://db/fs?PASSWORD=x&pass=y&pwd=z', 'postgres://db/fs?PASSWORD=***&pass=***&pwd=***'],
    ['postgres://u:a@db/fs?password=b', 'postgres://u:***@db/fs?password=***'],
    [
      'https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&sig=abc%2Bdef%3D',
      'https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&sig=***',
    ],
    [
      'abfss://fs@acct.dfs.core.windows.net/p?sas=tok',
      'abfss://fs@acct.dfs.core.windows.net/p?sas=***',
    ],
    [
      's3://bucket/p?access_key_id=AKIA&secret_access_key=x&X-Amz-Security-Token=t&region=eu',
      's3://bucket/p?access_key_id=***&secret_access_key=***&X-Amz-Security-Token=***&region=eu',
    ],
    [
      'https://h/x?api_key=1&token=2&client_secret=3&auth=4',
      'https://h/x?api_key=***&token=***&client_secret=***&auth=***',
    ],
    ['https://h/x?page=2#frag', 'https://h/x?page=2#frag'],
    // Nothing secret: unchanged, byte for byte.
    ['kafka://b1:9092,b2:9092', 'kafka://b1:9092,b2:9092'],
    ['file:///var/lib/featurestore/data', 'file:///var/lib/featurestore/data'],
    ['s3://bucket/dt=2024-01-01/key=abc', 's3://bucket/dt=2024-01-01/key=abc'],
    ['local log (/tmp/store/queue)', 'local log (/tmp/store/queue)'],
    ['', ''],
    // Text that holds URLs or secret pairs.
    [
      'postgresql (postgres://fs:pw@db/fs?password=x, schema featurestore)',
      'postgresql (postgres://fs:***@db/fs?password=***, schema featurestore)',
    ],
    [
      'error: "redis://:pw@h:6379/0?password=x" is not a Redis URL',
      'error: "redis://:***@h:6379/0?password=***" is not a Redis URL',
    ],
    ['host=db port=5432 password=s3cret dbname=fs', 'host=db port=5432 password=*** dbname=fs'],
    ['sv=2022-11-02&ss=b&sig=abc', 'sv=2022-11-02&ss=b&sig=***'],
    ['the password is wrong', 'the password is wrong'],
  ])('%s → %s', (value, shown) => {
    expect(redactSecrets(value)).toBe(shown);
  });
});
