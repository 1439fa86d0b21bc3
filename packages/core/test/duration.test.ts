import { describe, expect, it } from 'vitest';
import { ValidationError } from '../src/errors.js';
import { MAX_DURATION, MAX_DURATION_MS, parseDuration } from '../src/model/duration.js';

const DAY = 24 * 3600 * 1000;

describe('parseDuration', () => {
  it.each([
    ['P30D', 30 * DAY],
    ['PT12H', 12 * 3600 * 1000],
    ['P1DT30M', DAY + 30 * 60 * 1000],
    ['P2W', 14 * DAY],
    ['PT0.5S', 500],
    [MAX_DURATION, MAX_DURATION_MS],
    ['P5217W', 5217 * 7 * DAY],
    ['PT876600H', 876_600 * 3600 * 1000],
  ])('%s is %d ms', (value, ms) => {
    expect(parseDuration('timeToLive', value)).toBe(ms);
  });

  it.each([
    ['a day past 100 years', 'P36526D', /is longer than the limit of 100 years \(P36525D\)/],
    ['weeks past 100 years', 'P5218W', /is longer than the limit of 100 years/],
    ['hours past 100 years', 'PT876601H', /is longer than the limit of 100 years/],
    ['eleven digits of days', 'P99999999999D', /"P99999999999D" is longer than the limit/],
    ['400 nines of days (Infinity)', `P${'9'.repeat(400)}D`, /"P9{39}…" is longer than the limit/],
    ['400 nines of seconds', `PT${'9'.repeat(400)}S`, /is longer than the limit/],
    ['zero', 'P0D', /must be longer than zero/],
    ['a sign', 'P-1D', /is not an ISO 8601 duration/],
    ['years', 'P1Y', /is not an ISO 8601 duration/],
    ['an exponent', 'PT1e3S', /is not an ISO 8601 duration/],
    ['words', '1 day', /is not an ISO 8601 duration/],
  ])('refuses %s with a ValidationError naming the field and value', (_case, value, message) => {
    let thrown: unknown;
    try {
      parseDuration('expiresIn', value);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ValidationError);
    expect((thrown as ValidationError).message).toMatch(/^expiresIn "/);
    expect((thrown as ValidationError).message).toMatch(message);
    expect((thrown as ValidationError).details).toMatchObject({ field: 'expiresIn', value });
  });
});
