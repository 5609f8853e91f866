import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter, retryAfterSeconds } from '../../shared/graph/retryPolicy';

describe('Retry-After as Graph sends it', () => {
  const now = Date.parse('2026-11-22T12:00:00Z');

  it('reads whole and fractional seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter('2.128', now)).toBe(2_128);
    expect(parseRetryAfter('0', now)).toBe(0);
  });

  it('reads an HTTP date as the time left until then', () => {
    expect(parseRetryAfter('Sun, 22 Nov 2026 12:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 11:59:00 GMT', now)).toBe(0);
  });

  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
  });
});

describe('exponential backoff with jitter', () => {
  it('doubles its ceiling per retry and never waits less than half of it', () => {
    expect(backoffDelay(1, 1_000, () => 0)).toBe(500);
    expect(backoffDelay(1, 1_000, () => 0.999)).toBe(1_000);
    expect(backoffDelay(3, 1_000, () => 0)).toBe(2_000);
    expect(backoffDelay(3, 1_000, () => 0.999)).toBe(3_998);
  });

  it('spreads retries of many callers apart', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(2, 1_000)));
    expect(delays.size).toBeGreaterThan(10);
  });
});

it('never tells a caller to retry after 0 seconds', () => {
  expect(retryAfterSeconds(0)).toBe(1);
  expect(retryAfterSeconds(1_200)).toBe(2);
});
