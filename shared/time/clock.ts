/**
 * The time every decision of the facade is taken by: request deadlines, idempotency leases,
 * retention and reconciliation ages. One clock per runtime, so all of them move together.
 */
export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
