/**
 * schemas/feature-set.schema.json, the JSON Schema editors use for schema files, must say what
 * registration says: every example schema file of the repository is valid under it and is
 * registered, and definitions that registration refuses for their shape are refused by the
 * JSON Schema too. The JSON Schema is checked with zod's `fromJSONSchema` (draft 2020-12), the
 * validator already in the dependencies; registration runs the engine's own parser.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FeatureStoreError } from '@featurestore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type FeatureStore, openFeatureStore } from '../src/index.js';
import { tempStore } from './helpers.js';

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const SCHEMA_PATH = 'schemas/feature-set.schema.json';
const jsonSchema = JSON.parse(readFileSync(join(repositoryRoot, SCHEMA_PATH), 'utf8'));
const schema = z.fromJSONSchema(jsonSchema, { defaultTarget: 'draft-2020-12' });

/** Every schema file of the repository, and the schema examples written in its Markdown. */
function exampleDefinitions(): { source: string; definition: unknown }[] {
  const files = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: repositoryRoot,
    },
  )
    .toString('utf8')
    .split('\0')
    .filter(Boolean);
  const examples: { source: string; definition: unknown }[] = [];
  for (const path of new Set(files)) {
    // Helm requires its chart's values schema to be named values.schema.json: not a feature set.
    if (path === SCHEMA_PATH || path.endsWith('/values.schema.json')) continue;
    let text: string;
    try {
      text = readFileSync(join(repositoryRoot, path), 'utf8');
    } catch {
      continue; // deleted in the working tree
    }
    if (path.endsWith('.schema.json'))
      examples.push({ source: path, definition: JSON.parse(text) });
    if (path.endsWith('.md')) {
      for (const [index, block] of [...text.matchAll(/```json\n([\s\S]*?)```/g)].entries()) {
        const body = block[1]!;
        if (body.includes('"primaryKey"') && body.includes('"features"')) {
          examples.push({
            source: `${path} (json block ${index + 1})`,
            definition: JSON.parse(body),
          });
        }
      }
    }
  }
  return examples;
}

const base = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'amount', type: 'float64' },
  ],
};
const withFeature = (feature: unknown) => ({ ...base, features: [...base.features, feature] });

/** Definitions registration refuses for their shape, each with what is wrong. */
const INVALID: [string, unknown][] = [
  ['not an object', ['customer_id']],
  ['no features', { primaryKey: ['customer_id'], eventTime: 'ts' }],
  ['an empty features list', { ...base, features: [] }],
  ['no primary key', { eventTime: 'ts', features: base.features }],
  ['an empty primary key', { ...base, primaryKey: [] }],
  ['a primary key column listed twice', { ...base, primaryKey: ['customer_id', 'customer_id'] }],
  ['no event time', { primaryKey: base.primaryKey, features: base.features }],
  ['a misspelt field (primarykey)', { ...base, primarykey: ['customer_id'] }],
  ['an unknown feature type', withFeature({ name: 'score', type: 'double' })],
  ['a list of lists', withFeature({ name: 'grid', type: 'list<list<int32>>' })],
  ['an upper-case feature name', withFeature({ name: 'Score', type: 'int32' })],
  ['a feature name of 64 characters', withFeature({ name: `a${'b'.repeat(63)}`, type: 'int32' })],
  [
    'the reserved feature name file_row_number',
    withFeature({ name: 'file_row_number', type: 'int64' }),
  ],
  ['a feature without a type', withFeature({ name: 'score' })],
  ['an unknown feature field', withFeature({ name: 'score', type: 'int32', nullable: true })],
  ['sensitive as a string', withFeature({ name: 'income', type: 'int32', sensitive: 'yes' })],
  [
    'a feature tag that is not a string',
    withFeature({ name: 'score', type: 'int32', tags: { v: 2 } }),
  ],
  ['a description that is not a string', { ...base, description: 42 }],
  ['tags as an array', { ...base, tags: ['fraud'] }],
  ['an unknown featurestore. setting', { ...base, tags: { 'featurestore.onlin': 'off' } }],
  ['a setting value it does not take', { ...base, tags: { 'featurestore.online': 'yes' } }],
  ['a time to live in months', { ...base, timeToLive: 'P1M' }],
  ['a time to live of "P"', { ...base, timeToLive: 'P' }],
  ['a time to live ending in T', { ...base, timeToLive: 'P1DT' }],
  ['a time to live as a number', { ...base, timeToLive: 30 }],
];

/** Definitions both must accept: every type, settings, tags and duration forms. */
const VALID: [string, unknown][] = [
  ['the smallest definition', base],
  [
    'every type and list type',
    {
      ...base,
      features: [
        ...base.features,
        ...['bool', 'int32', 'int64', 'float32', 'string', 'bytes', 'date', 'timestamp'].flatMap(
          (type) => [
            { name: `scalar_${type}`, type },
            { name: `list_${type}`, type: `list<${type}>` },
          ],
        ),
        { name: 'list_float64', type: 'list<float64>' },
      ],
    },
  ],
  [
    'a composite key and a date event time',
    {
      primaryKey: ['store', 'day'],
      eventTime: 'as_of',
      features: [
        { name: 'store', type: 'string' },
        { name: 'day', type: 'int32' },
        { name: 'as_of', type: 'date' },
      ],
    },
  ],
  [
    'settings, tags and descriptions',
    {
      ...withFeature({
        name: 'income',
        type: 'int64',
        description: 'yearly',
        sensitive: true,
        tags: { pii: 'yes' },
      }),
      description: 'customers',
      tags: { team: 'fraud', 'featurestore.online': 'off', 'featurestore.statistics': 'basic' },
    },
  ],
  ['a time to live in weeks', { ...base, timeToLive: 'P2W' }],
  ['a time to live in days and minutes', { ...base, timeToLive: 'P1DT30M' }],
  ['a time to live in fractional seconds', { ...base, timeToLive: 'PT1.5S' }],
];

describe('schemas/feature-set.schema.json', () => {
  let fs: FeatureStore;
  let removeStore: () => Promise<void>;
  let registered = 0;

  /** Registers under a fresh name; resolves to the error code, or 'OK'. */
  async function register(definition: unknown): Promise<string> {
    registered += 1;
    try {
      await fs.engine.featureSets.register(
        fs.principal,
        'schemas',
        `set_${registered}`,
        definition,
      );
      return 'OK';
    } catch (error) {
      if (error instanceof FeatureStoreError) return error.code;
      throw error;
    }
  }

  beforeAll(async () => {
    const store = await tempStore();
    removeStore = store.remove;
    fs = await openFeatureStore({ store: store.dir });
    await fs.engine.projects.create(fs.principal, { name: 'schemas' });
  });
  afterAll(async () => {
    await fs?.close();
    await removeStore?.();
  });

  it('is a draft 2020-12 JSON Schema', () => {
    expect(jsonSchema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
  });

  it('accepts every example schema of the repository, and registration accepts them too', async () => {
    const examples = exampleDefinitions();
    expect(examples.map((example) => example.source)).toEqual(
      expect.arrayContaining(['README.md (json block 1)']),
    );
    for (const { source, definition } of examples) {
      const result = schema.safeParse(definition);
      expect(result.success, `${source}: ${JSON.stringify(result.error?.issues)}`).toBe(true);
      expect(await register(definition), source).toBe('OK');
    }
  });

  it.each(VALID)('accepts %s, as registration does', async (_what, definition) => {
    expect(schema.safeParse(definition).success).toBe(true);
    expect(await register(definition)).toBe('OK');
  });

  it.each(INVALID)('refuses %s, as registration does', async (_what, definition) => {
    expect(await register(definition)).toBe('VALIDATION');
    expect(schema.safeParse(definition).success).toBe(false);
  });
});
