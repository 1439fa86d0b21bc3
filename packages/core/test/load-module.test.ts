import { describe, expect, it } from 'vitest';
import { loadModule, positiveInteger } from '../src/index.js';

describe('loadModule', () => {
  it('names the driver, the missing package and how to install it', async () => {
    const missing = Object.assign(new Error("Cannot find package 'pg'"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    await expect(
      loadModule('postgres driver', 'pg', () => Promise.reject(missing)),
    ).rejects.toMatchObject({
      code: 'NOT_SUPPORTED',
      message:
        'the postgres driver needs the package "pg", which is not installed: run `npm install pg`',
    });
  });

  it('passes other import failures through', async () => {
    const broken = new SyntaxError('Unexpected token');
    await expect(loadModule('x', 'y', () => Promise.reject(broken))).rejects.toBe(broken);
  });
});

describe('positiveInteger', () => {
  it.each([0, -1, 1.5, Number.NaN])('refuses %s naming the field', (value) => {
    expect(() => positiveInteger('partSize', value)).toThrow(/partSize must be a positive integer/);
  });
});
