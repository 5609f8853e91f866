import { describe, expect, it } from 'vitest';
import type { HttpResponseInit } from '@azure/functions';
import type { OperationContext, Stage } from '../../shared/pipeline/context';
import { crashable } from '../simulation/execute';
import { Interleaving } from '../simulation/interleaving';
import { crashPointOf, type Crash } from '../simulation/schedule';
import { Stalls } from '../simulation/stalls';
import { requestScope, type RequestScope } from '../simulation/world';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs three stub stages through the crash points of `crash`, counting the freezes the pipeline takes. */
async function stageFreezes(crash: Crash): Promise<{ freezes: number; answered: boolean }> {
  let freezes = 0;
  const stages = crashable<OperationContext>([
    (_context, next) => next(),
    (_context, next) => next(),
    async (): Promise<HttpResponseInit> => ({ status: 201 }),
  ]);
  const scope: RequestScope = {
    origin: 'request 0',
    tableFaults: [],
    tableCalls: 0,
    graphAttempts: 0,
    crash,
    interleaving: new Interleaving(),
    freeze: async () => {
      freezes += 1;
    },
  };
  const context = {} as OperationContext;
  const run = (index: number): Promise<HttpResponseInit> => (stages[index] as Stage)(context, () => run(index + 1));
  const answer = await requestScope.run(scope, () => run(0));
  return { freezes, answered: answer.status === 201 };
}

describe('a crash is taken at its one point', () => {
  it('tells a crash inside a stage from one at a stage boundary', () => {
    expect(crashPointOf({ stage: 2, when: 'after', resumes: true })).toBe('stageBoundary');
    expect(crashPointOf({ stage: 0, when: 'before', storageCall: 0, resumes: true })).toBe('storageCall');
    expect(crashPointOf({ stage: 0, when: 'before', graphAttempt: 1, resumes: false })).toBe('graphAttempt');
  });

  // The root cause of "a request that resumed after its instance stalled never finished": a crash
  // inside a stage (its stage 0 and `before` are placeholders) was also taken before stage 0, so the
  // request froze before doing anything, resumed, and froze again at its storage call or Graph
  // attempt, often after the schedule's last time step: never resumed, its first resume never ended.
  it('passes every stage boundary with a crash inside a stage', async () => {
    expect(await stageFreezes({ stage: 0, when: 'before', storageCall: 3, resumes: true })).toEqual({ freezes: 0, answered: true });
    expect(await stageFreezes({ stage: 0, when: 'before', graphAttempt: 1, resumes: false })).toEqual({ freezes: 0, answered: true });
  });

  it('freezes once at the stage boundary a boundary crash names', async () => {
    expect(await stageFreezes({ stage: 0, when: 'before', resumes: true })).toEqual({ freezes: 1, answered: true });
    expect(await stageFreezes({ stage: 1, when: 'after', resumes: false })).toEqual({ freezes: 1, answered: true });
    // Past the last stage: taken at the last one.
    expect(await stageFreezes({ stage: 9, when: 'before', resumes: false })).toEqual({ freezes: 1, answered: true });
  });
});

describe('a frozen request is resumed when time passes, or dead for good', () => {
  it('resumes a frozen stall when time passes, and waits for its work to end', async () => {
    const stalls = new Stalls();
    const stall = stalls.add('request 1', true);
    let finished = false;
    const work = (async () => {
      await stall.freeze();
      await sleep(20);
      finished = true;
    })();
    stall.holds(work);
    expect(stall.state).toBe('frozen');
    expect(stalls.timePassed(1_000).map((resumed) => resumed.origin)).toEqual(['request 1']);
    expect(await stalls.settle()).toEqual([]);
    expect(finished).toBe(true);
    expect(stall.state).toBe('resumed');
  });

  it('leaves a stall that froze after the last time step dead for good, and does not wait for it', async () => {
    const stalls = new Stalls();
    const early = stalls.add('request 1', true);
    const late = stalls.add('request 2', true);
    early.holds(early.freeze());
    stalls.timePassed(1_000);
    // Frozen after time last passed (an overlapping request reaching its crash point late).
    late.holds(late.freeze());
    const started = Date.now();
    expect(await stalls.settle()).toEqual([]);
    expect(Date.now() - started).toBeLessThan(500);
    expect([early.state, late.state]).toEqual(['resumed', 'deadForGood']);
  });

  it('does not resume a stall whose crash does not resume', () => {
    const stalls = new Stalls();
    const dead = stalls.add('request 1', false);
    dead.holds(dead.freeze());
    expect(stalls.timePassed(1_000)).toEqual([]);
    expect(dead.state).toBe('frozen');
  });

  it('names a resumed work that does not end within its bound', async () => {
    const stalls = new Stalls();
    const stall = stalls.add('request 3', true);
    stall.holds(stall.freeze().then(() => new Promise(() => undefined)));
    stalls.timePassed(50);
    expect(await stalls.settle()).toEqual(['request 3 resumed after its instance stalled and never finished']);
  });

  it('refuses a second crash point, and names it', async () => {
    const stalls = new Stalls();
    const stall = stalls.add('request 4', true);
    stall.holds(stall.freeze());
    stalls.timePassed(1_000);
    expect(() => stall.freeze()).toThrow(/second crash point/);
    expect(await stalls.settle()).toEqual(['request 4 reached a second crash point: the simulation took one crash twice']);
  });
});
