/**
 * When and how long to wait before another attempt at a Graph call (graph-api.md §6): 429, 503
 * and 504 are retried, honouring `Retry-After` (seconds, fractional seconds or an HTTP date),
 * else exponential backoff with full jitter.
 */

export const retriableStatuses: ReadonlySet<number> = new Set([429, 503, 504]);

export const maxRetries = 3;

/** `Retry-After` in milliseconds, or undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // An HTTP date names its day and month; anything else (say "-1") is not a wait Graph asked for.
  if (!/[a-z]{3}/i.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Delay before retry `retry` (1-based): base·2^(retry-1), scaled by a random factor in [0.5, 1). */
export function backoffDelay(retry: number, baseMs: number, random: () => number = Math.random): number {
  const ceiling = baseMs * 2 ** (retry - 1);
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** Whole seconds for a `Retry-After` header we send (never 0: callers would retry at once). */
export function retryAfterSeconds(delayMs: number): number {
  return Math.max(1, Math.ceil(delayMs / 1000));
}
