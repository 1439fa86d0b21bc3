import { describe, expect, it } from 'vitest';
import { formatOfPath } from '../src/index.js';

describe('formatOfPath', () => {
  it.each([
    ['day1.csv', 'csv'],
    ['DAY1.CSV', 'csv'],
    ['day1.csv.gz', 'csv'],
    ['rows.jsonl.gz', 'json'],
    ['rows.ndjson', 'json'],
    ['part-0.parquet', 'parquet'],
    ['part-0.pq', 'parquet'],
    ['archive.gz', undefined],
    ['notes.txt', undefined],
    ['notes.txt.gz', undefined],
  ])('%s is %s', (name, format) => {
    expect(formatOfPath(`/landing/${name}`)).toBe(format);
  });
});
