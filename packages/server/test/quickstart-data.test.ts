/**
 * The quickstart's sample is generated relative to the day it runs, so that its online step —
 * the first thing a newcomer sees of online serving — shows values within the 7-day time to
 * live of transactions instead of blanks.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeQuickstartData } from '../src/cli/quickstart-data.js';
import { cli, tempStore } from './helpers.js';

const DAY = 24 * 3600 * 1000;

async function csvRows(path: string): Promise<string[][]> {
  const [, ...lines] = (await readFile(path, 'utf8')).trimEnd().split('\n');
  return lines.map((line) => line.split(','));
}

describe('the quickstart sample', () => {
  let store: Awaited<ReturnType<typeof tempStore>>;
  beforeAll(async () => {
    store = await tempStore();
  });
  afterAll(async () => store.remove());

  it.each([
    ['a morning', Date.UTC(2031, 5, 15, 8, 30)],
    ['just after midnight', Date.UTC(2029, 0, 1, 0, 0, 1)],
    ['late in the evening', Date.UTC(2027, 10, 30, 23, 59)],
  ])(
    'written on %s: every time is in the 60 days before it, the latest within the TTL',
    async (_when, now) => {
      const files = await writeQuickstartData(store.dir, now);
      const transactions = await csvRows(files.transactions);
      const times = [
        ...transactions.map((row) => Date.parse(row[1]!)),
        ...(await csvRows(files.customers)).map((row) => Date.parse(row[1]!)),
        ...(await csvRows(files.events)).map((row) => Date.parse(row[1]!)),
      ];
      expect(Math.max(...times)).toBeLessThanOrEqual(now);
      expect(Math.min(...times)).toBeGreaterThanOrEqual(now - 61 * DAY);
      // The customers the quickstart reads online have aggregates within the 7-day TTL.
      for (const customer of ['c0001', 'c0002']) {
        const latest = Math.max(
          ...transactions.filter((row) => row[0] === customer).map((row) => Date.parse(row[1]!)),
        );
        expect(now - latest, customer).toBeLessThan(7 * DAY);
      }
    },
  );

  it('is the same values on every run of a day (a seeded sample)', async () => {
    const now = Date.UTC(2030, 2, 3, 12);
    const first = await writeQuickstartData(store.dir, now);
    const before = await readFile(first.transactions, 'utf8');
    const second = await writeQuickstartData(store.dir, now + 3600 * 1000);
    expect(await readFile(second.transactions, 'utf8')).toBe(before);
  });

  it('makes the quickstart show transactions values online', async () => {
    const result = await cli(store.dir, 'quickstart');
    expect(result.code, result.stderr).toBe(0);
    const step = result.stdout.split('5. the latest values, served online')[1]!;
    const [header, ...rows] = step.split('\n').slice(1, 4);
    const columns = header!.split(/\s+/);
    const amount = columns.indexOf('transactions__amount_avg_7d');
    expect(amount, header).toBeGreaterThan(0);
    for (const row of rows) {
      const cells = row.split(/\s+/);
      expect(cells, row).toHaveLength(columns.length);
      expect(Number(cells[amount])).toBeGreaterThan(0);
    }
  }, 120_000);
});
