import { NotFoundError } from '@featurestore/core/driver';
import { describe, expect, it } from 'vitest';
import { convertRedisError } from '../src/index.js';

const context = { operation: 'read (MGET)', endpoint: 'cache:6379' };
const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });

describe('convertRedisError', () => {
  it.each([
    [reply('NOAUTH Authentication required.'), 'UNAUTHENTICATED', /credentials/],
    [reply('WRONGPASS invalid username-password pair'), 'UNAUTHENTICATED', /user and password/],
    [
      reply("NOPERM this user has no permissions to run the 'mget' command"),
      'PERMISSION_DENIED',
      /ACL/,
    ],
    [
      reply("OOM command not allowed when used memory > 'maxmemory'."),
      'UNAVAILABLE',
      /out of memory/,
    ],
    [reply('LOADING Redis is loading the dataset in memory'), 'UNAVAILABLE', /retry later/],
    [reply('CLUSTERDOWN The cluster is down'), 'UNAVAILABLE', /retry later/],
    [reply("READONLY You can't write against a read only replica."), 'UNAVAILABLE', /retry later/],
    [
      reply('ERR unknown command'),
      'INTERNAL',
      /replied to read \(MGET\) with an error: ERR unknown/,
    ],
    [
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      'UNAVAILABLE',
      /ECONNREFUSED/,
    ],
    [new Error('Connection is closed.'), 'UNAVAILABLE', /cannot reach Redis at cache:6379/],
    [new Error('Command timed out'), 'UNAVAILABLE', /Command timed out/],
    [
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      'UNAVAILABLE',
      /cache:6379/,
    ],
    [
      new Error('something else'),
      'INTERNAL',
      /read \(MGET\) on Redis at cache:6379 failed: something else/,
    ],
  ])('%s → %s', (error, code, message) => {
    const converted = convertRedisError(error, context);
    expect(converted).toMatchObject({ code });
    expect(converted.message).toMatch(message);
    expect((converted as { cause?: unknown }).cause).toBe(error);
  });

  it('explains a closed connection with the last connection error', () => {
    const converted = convertRedisError(new Error('Connection is closed.'), {
      ...context,
      connectionError: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6379'), {
        code: 'ECONNREFUSED',
      }),
    });
    expect(converted.message).toMatch(/last connection error: connect ECONNREFUSED/);
    expect(converted).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
  });

  it('reports a refused login as such, not as an unreachable server', () => {
    const converted = convertRedisError(new Error('Connection is closed.'), {
      ...context,
      connectionError: reply('WRONGPASS invalid username-password pair'),
    });
    expect(converted).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('passes Featurestore errors through', () => {
    const error = new NotFoundError('gone');
    expect(convertRedisError(error, context)).toBe(error);
  });
});
