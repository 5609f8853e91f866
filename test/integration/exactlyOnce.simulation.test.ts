import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeResult, simulate } from '../simulation/simulate';
import { startWorld, type World } from '../simulation/world';

/**
 * The exactly-once guarantees, hunted by a seeded random fault simulation: thousands of schedules
 * of retries, two callers, two instances, Graph and audit-store faults, crashes and reconciliation
 * runs against the real pipeline, Azurite and the Graph emulator (test/simulation). The seed is
 * printed; a failure prints the shrunk schedule and the command that replays it.
 * CHAOS_RUNS / CHAOS_SEED override the count and the seed.
 */

const runs = Number(process.env.CHAOS_RUNS ?? 2000);
const seed = process.env.CHAOS_SEED === undefined ? undefined : Number(process.env.CHAOS_SEED);
let world: World;

beforeAll(async () => {
  world = await startWorld();
});

afterAll(async () => {
  await world?.stop();
});

it(`keeps every guarantee through ${runs} random fault schedules`, { timeout: 30 * 60_000 }, async () => {
  const result = await simulate({ runs, ...(seed === undefined ? {} : { seed }) }, world);
  // The seed goes to the output either way, so a run can be repeated.
  process.stdout.write(`exactly-once simulation: ${describeResult(result)}\n`);
  expect(result.failure, describeResult(result)).toBeUndefined();
  expect(result.executed).toBeGreaterThanOrEqual(runs);
  // Each dangerous scenario was run at least its floor of times (else the run proves little of it).
  expect(result.belowFloor, describeResult(result)).toEqual([]);
});
