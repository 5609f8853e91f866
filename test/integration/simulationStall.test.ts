import { afterAll, beforeAll, expect, it } from 'vitest';
import { runSchedule, type Observation } from '../simulation/execute';
import { checkInvariants } from '../simulation/invariants';
import type { Schedule } from '../simulation/schedule';
import { startWorld, type World } from '../simulation/world';

/**
 * The simulation's open finding "a request that resumed after its instance stalled never
 * finished", replayed: the shrunk schedules of seeds 1192194740 and 777001, run through the real
 * pipeline, Azurite and the Graph emulator as the simulation runs them. Each has a request whose
 * crash is inside a stage (at a storage call) and resumes. The simulation took that crash twice —
 * before the request's first stage as well — so the request froze, resumed at the next time step,
 * and froze again at its storage call after the schedule's last time step: never resumed, and the
 * first resume never ended (3 of 3 runs of each schedule failed so). Taken once, the request
 * freezes at its storage call, resumes, and answers; that answer is judged as any other. The
 * first schedule still fails when the crash is taken at a stage boundary too (the simulation then
 * names the second crash point); the second now resumes two requests and judges both answers.
 */

const seed1192194740: Schedule = {
  target: 'member',
  recipe: 'random',
  steps: [
    { kind: 'request', bulk: false, async: false, retry: false, caller: 'A', instance: 1, key: 'k2', body: 0, parent: 0, spelling: 0, createFaults: [{ kind: 'serverError', commit: true }, { kind: 'hang', commit: false }], readFaults: [], tableFaults: [], crash: null, repeat: 1, overlaps: false, storageDelayMs: 0 },
    {
      kind: 'request', bulk: false, async: false, retry: true, caller: 'A', instance: 1, key: null, body: 0, parent: 0, spelling: 0,
      createFaults: [{ kind: 'unavailable', commit: false }, { kind: 'hang', commit: false }, { kind: 'gatewayTimeout', commit: false }],
      readFaults: [], tableFaults: [], crash: { stage: 0, when: 'before', storageCall: 3, resumes: true }, repeat: 1, overlaps: true, storageDelayMs: 0,
    },
    { kind: 'advance', ms: 900_000 },
    { kind: 'advance', ms: 90_000_000 },
    { kind: 'advance', ms: 1_000 },
    {
      kind: 'request', bulk: false, async: true, retry: false, caller: 'A', instance: 0, key: null, body: 0, parent: 0, spelling: 0, createFaults: [], readFaults: [],
      tableFaults: [{ call: 6, kind: 'fail' }, { call: 6, kind: 'fail' }], crash: { stage: 0, when: 'before', storageCall: 0, resumes: false }, repeat: 1, overlaps: false, storageDelayMs: 5,
    },
  ],
};

const seed777001: Schedule = {
  target: 'connectorGroup',
  recipe: 'crashInsideStage',
  steps: [
    {
      kind: 'request', bulk: true, async: false, retry: false, caller: 'A', instance: 1, key: null, body: 0, parent: 0, spelling: 1,
      createFaults: [{ kind: 'gatewayTimeout', commit: true }, { kind: 'serverError', commit: false }], readFaults: [], tableFaults: [],
      crash: { stage: 0, when: 'before', graphAttempt: 1, resumes: false }, repeat: 1, overlaps: false, storageDelayMs: 5,
    },
    { kind: 'advance', ms: 120_000 },
    {
      kind: 'request', bulk: false, async: false, retry: false, caller: 'B', instance: 0, key: 'k1', body: 0, parent: 0, spelling: 0, createFaults: [{ kind: 'unavailable', commit: false }],
      readFaults: [], tableFaults: [], crash: { stage: 7, when: 'after', resumes: true }, repeat: 1, overlaps: false, storageDelayMs: 20,
    },
    {
      kind: 'request', bulk: false, async: false, retry: true, caller: 'A', instance: 1, key: 'k1', body: 1, parent: 1, spelling: 0,
      createFaults: [{ kind: 'serverError', commit: true }, { kind: 'serverError', commit: true }, { kind: 'serverError', commit: true }],
      readFaults: [], tableFaults: [], crash: { stage: 0, when: 'before', storageCall: 2, resumes: true }, repeat: 1, overlaps: false, storageDelayMs: 5,
    },
    { kind: 'advance', ms: 900_000 },
    { kind: 'reconcile', instance: 0, tableFaults: [], readFaults: [] },
  ],
};

let world: World;

beforeAll(async () => {
  world = await startWorld(1);
});

afterAll(async () => {
  await world?.stop();
});

async function replay(schedule: Schedule): Promise<{ violations: string[]; seen: Observation }> {
  let seen: Observation | undefined;
  const violations = await runSchedule(world, world.lanes[0]!, schedule, (observation) => {
    seen = observation;
    return checkInvariants(observation);
  });
  return { violations, seen: seen! };
}

it('seed 1192194740: the request frozen at its storage call resumes once and answers, Graph-shaped', { timeout: 120_000 }, async () => {
  const { violations, seen } = await replay(seed1192194740);
  expect(violations).toEqual([]);
  const stalled = seen.requests.find((request) => request.step === 1)!;
  expect(stalled.answer.kind).toBe('crashed');
  // It froze inside its stage (after its first storage calls), not before its first stage.
  expect(stalled.resumed?.kind).toBe('answered');
  if (stalled.resumed?.kind !== 'answered') return;
  expect(stalled.resumed.status).toBeGreaterThanOrEqual(200);
  if (stalled.resumed.status >= 500) expect(stalled.resumed.headers['retry-after']).toBeDefined();
  // The request frozen for good (its crash does not resume) stays abandoned.
  expect(seen.requests.find((request) => request.step === 5)!.resumed).toBeUndefined();
});

it('seed 777001: every resumed request finishes and its answer holds', { timeout: 120_000 }, async () => {
  const { violations, seen } = await replay(seed777001);
  expect(violations).toEqual([]);
  for (const request of seen.requests.filter((candidate) => candidate.answer.kind === 'crashed' && candidate.crash?.resumes)) {
    expect(request.resumed?.kind, `request ${request.step}`).toBe('answered');
  }
});
