import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FeatureSetDefinition } from '@featurestore/core';

/** A small seeded PRNG (mulberry32): the sample is the same on every run and machine. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY = 24 * 3600 * 1000;
/** How many days of history the sample covers, ending the day before it is written. */
const SAMPLE_DAYS = 60;
const COUNTRIES = ['DE', 'FR', 'NL', 'PL', 'ES'];

export const customersDefinition: FeatureSetDefinition = {
  primaryKey: ['customer_id'],
  eventTime: 'updated_at',
  description: 'customer profile',
  tags: { team: 'fraud' },
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'updated_at', type: 'timestamp' },
    { name: 'age', type: 'int32', description: 'years' },
    { name: 'country', type: 'string' },
    { name: 'income', type: 'float64', sensitive: true },
  ],
};

export const transactionsDefinition: FeatureSetDefinition = {
  primaryKey: ['customer_id'],
  eventTime: 'ts',
  timeToLive: 'P7D',
  description: 'daily transaction aggregates per customer',
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'ts', type: 'timestamp' },
    { name: 'txn_count_7d', type: 'int32' },
    { name: 'amount_avg_7d', type: 'float64', description: 'in EUR' },
  ],
};

export interface QuickstartFiles {
  customers: string;
  transactions: string;
  events: string;
}

/**
 * Writes the sample: 200 customers with profile updates, daily transaction aggregates over
 * the 60 days before `now` (some days missing, so the 7-day TTL matters), and 1,000 labelled
 * events in those days. The days are counted back from `now` (default: the clock) so that the
 * latest aggregates are within their 7-day time to live and the online step shows values;
 * the same seed gives the same values on every run, shifted to the day it runs.
 */
export async function writeQuickstartData(
  dir: string,
  now: number = Date.now(),
): Promise<QuickstartFiles> {
  const start = Math.floor(now / DAY) * DAY - SAMPLE_DAYS * DAY;
  const next = random(42);
  const iso = (ms: number) => new Date(ms).toISOString();
  const customers = ['customer_id,updated_at,age,country,income'];
  const transactions = ['customer_id,ts,txn_count_7d,amount_avg_7d'];
  const events = ['customer_id,event_time,is_fraud'];
  for (let c = 0; c < 200; c++) {
    const id = `c${String(c).padStart(4, '0')}`;
    let age = 20 + Math.floor(next() * 50);
    for (let update = 0; update < 3; update++) {
      const at = start + Math.floor(next() * SAMPLE_DAYS) * DAY;
      customers.push(
        `${id},${iso(at)},${age},${COUNTRIES[Math.floor(next() * COUNTRIES.length)]},${(20_000 + next() * 80_000).toFixed(2)}`,
      );
      age += 1;
    }
    for (let day = 0; day < SAMPLE_DAYS; day++) {
      if (next() < 0.3) continue;
      transactions.push(
        `${id},${iso(start + day * DAY + 23 * 3600 * 1000)},${Math.floor(next() * 20)},${(5 + next() * 200).toFixed(2)}`,
      );
    }
  }
  for (let e = 0; e < 1000; e++) {
    const id = `c${String(Math.floor(next() * 210)).padStart(4, '0')}`; // a few unknown customers
    // Up to midnight of `now`'s day: no event lies in the future.
    const at = start + Math.floor(next() * SAMPLE_DAYS * DAY);
    events.push(`${id},${iso(at)},${next() < 0.05 ? 1 : 0}`);
  }
  const files = {
    customers: join(dir, 'customers.csv'),
    transactions: join(dir, 'transactions.csv'),
    events: join(dir, 'labelled-events.csv'),
  };
  await writeFile(files.customers, `${customers.join('\n')}\n`);
  await writeFile(files.transactions, `${transactions.join('\n')}\n`);
  await writeFile(files.events, `${events.join('\n')}\n`);
  return files;
}
