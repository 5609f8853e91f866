import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { Interleaving } from './interleaving';
import { runSchedule, scenarioHits, type Answer, type Observation, type ScenarioHit } from './execute';
import { checkInvariants } from './invariants';
import { recipeNames, scheduleArbitrary, type Schedule } from './schedule';
import { invariantOf } from './invariantNames';
import { startWorld, type World } from './world';

export interface SimulationOptions {
  /** Schedules to run. */
  runs: number;
  seed?: number;
  /** fast-check's replay path of a failure (with its seed). */
  path?: string;
  /** Told after each batch of schedules. */
  progress?: (done: number, runs: number) => void;
  /**
   * Each dangerous scenario (recipe) must be run at least this often, or the run fails (default:
   * one per 400 schedules, so 5 in a run of 2,000; 0 when replaying one failure).
   */
  floor?: number;
  /** Stop at the first failure without shrinking it (the mutant suite: it only needs to know). */
  noShrink?: boolean;
}

export interface SimulationResult {
  seed: number;
  runs: number;
  /** Schedules run, shrinking included. */
  executed: number;
  /** Schedules run per scenario (recipe), shrinking left out. */
  recipes: Record<string, number>;
  /** Schedules that reached each scenario, as observed (execute.ts `ScenarioHit`). */
  reached: Record<string, number>;
  /** Scenarios run fewer times than the floor. */
  belowFloor: string[];
  /** Schedules run when the first failure showed (before any shrinking). */
  firstFailureAt?: number;
  /** The invariants the failure broke (test/simulation/invariantNames.ts). */
  brokenInvariants?: string[];
  failure?: {
    schedules: ScheduleOutcome[];
    path: string;
    replay: string;
    /** The failing schedule with its recorded interleaving, saved for `--replay` (which holds each call until its turn). */
    saved?: string;
  };
}

class Violated extends Error {
  constructor(readonly failures: ScheduleOutcome[]) {
    super(failures.flatMap((failure) => failure.violations).join('\n'));
  }
}

/** Schedules run side by side, one per lane: most of a schedule's time is spent waiting. */
const batchOf = (world: World) => fc.array(scheduleArbitrary, { minLength: world.lanes.length, maxLength: world.lanes.length });

/** A promise rejected with nobody listening: under the Functions host, the worker process would end. */
const unhandled: string[] = [];
const noteUnhandled = (reason: unknown) => {
  unhandled.push(reason instanceof Error ? `${reason.message}\n${reason.stack?.split('\n').slice(1, 4).join('\n')}` : String(reason));
};

/** Longest one schedule may take (its requests are bounded; what is not is itself a finding). */
const scheduleWithinMs = 240_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

interface ScheduleOutcome {
  schedule: Schedule;
  violations: string[];
  /** The order its storage and Graph calls completed in (test/simulation/interleaving.ts). */
  interleaving?: string[];
  /** The dangerous scenarios it actually reached. */
  hits?: ScenarioHit[];
  /** Manifest applies that ended in it. */
  manifestsApplied?: number;
}

/**
 * Schedules that reached each scenario, since `resetReached` (runs are one at a time per process),
 * and `manifestsApplied`: manifest applies that ended (answered 200, or their job's status URL 200),
 * counted, not floored.
 */
const reached: Record<string, number> = {};
const resetReached = () => {
  for (const hit of scenarioHits) reached[hit] = 0;
  reached.manifestsApplied = 0;
};

async function runBatch(world: World, batch: Schedule[]): Promise<ScheduleOutcome[]> {
  unhandled.length = 0;
  process.on('unhandledRejection', noteUnhandled);
  try {
    const results = await Promise.all(
      batch.map(async (schedule, index) => {
        const interleaving = new Interleaving();
        let hits: ScenarioHit[] = [];
        let manifestsApplied = 0;
        const check = (observation: Observation) => {
          hits = [...observation.hits];
          manifestsApplied = observation.manifestsApplied;
          return checkInvariants(observation);
        };
        const violations = await Promise.race([
          runSchedule(world, world.lanes[index]!, schedule, check, interleaving),
          sleep(scheduleWithinMs).then(() => [`the schedule did not finish within ${scheduleWithinMs / 1000} s (calls completed: ${interleaving.completed.slice(-8).join(', ')})`]),
        ]);
        return { schedule, violations, interleaving: interleaving.completed, hits, manifestsApplied };
      }),
    );
    for (const reason of unhandled.splice(0)) {
      // Which schedule of the batch left it cannot be told; each is named.
      for (const result of results) result.violations.push(`a promise was rejected with nobody listening (the host process would end): ${reason}`);
    }
    for (const result of results) {
      for (const hit of result.hits ?? []) reached[hit] = (reached[hit] ?? 0) + 1;
      reached.manifestsApplied = (reached.manifestsApplied ?? 0) + (result.manifestsApplied ?? 0);
    }
    return results.filter((result) => result.violations.length > 0);
  } finally {
    process.off('unhandledRejection', noteUnhandled);
  }
}

/**
 * Runs `runs` random fault schedules (seeded, so a run can be repeated) and checks the guarantees
 * after each; on a failure fast-check shrinks it to a smallest schedule that still fails.
 */
export async function simulate(options: SimulationOptions, given?: World): Promise<SimulationResult> {
  const world = given ?? (await startWorld());
  const seed = options.seed ?? Date.now() % 2_147_483_647;
  let executed = 0;
  let shrinking = false;
  let firstFailureAt: number | undefined;
  const recipes: Record<string, number> = Object.fromEntries(['random', ...recipeNames].map((name) => [name, 0]));
  resetReached();
  try {
    const property = fc.asyncProperty(batchOf(world), async (batch) => {
      executed += batch.length;
      if (!shrinking) for (const schedule of batch) recipes[schedule.recipe ?? 'random'] = (recipes[schedule.recipe ?? 'random'] ?? 0) + 1;
      const failures = await runBatch(world, batch);
      options.progress?.(executed, options.runs);
      if (failures.length > 0) {
        firstFailureAt ??= executed;
        shrinking = true;
        throw new Violated(failures);
      }
    });
    const details = await fc.check(property, {
      numRuns: Math.max(1, Math.ceil(options.runs / world.lanes.length)),
      seed,
      ...(options.path ? { path: options.path } : {}),
      ...(options.noShrink ? { endOnFailure: true } : {}),
    });
    const floor = options.floor ?? (options.path ? 0 : Math.floor(options.runs / 400));
    const belowFloor = [
      ...recipeNames.filter((name) => (recipes[name] ?? 0) < floor).map((name) => `${name} run ${recipes[name] ?? 0} times, at least ${floor} wanted`),
      ...scenarioHits.filter((hit) => (reached[hit] ?? 0) < floor).map((hit) => `${hit} reached ${reached[hit] ?? 0} times, at least ${floor} wanted`),
    ];
    const result: SimulationResult = { seed, runs: options.runs, executed, recipes, reached: { ...reached }, belowFloor };
    if (details.failed && details.counterexamplePath !== null) {
      const cause = details.errorInstance;
      const path = details.counterexamplePath;
      result.failure = {
        schedules: cause instanceof Violated ? cause.failures : [],
        path,
        replay: `npm run test:chaos -- --seed ${seed} --path ${path}`,
      };
      if (!(cause instanceof Violated)) result.failure.schedules.push({ schedule: { target: 'connection', steps: [] }, violations: [String(cause)] });
      if (firstFailureAt !== undefined) result.firstFailureAt = firstFailureAt;
      const failing = result.failure.schedules[0];
      if (failing?.interleaving) {
        result.failure.saved = await saveFailure(seed, failing);
      }
      result.brokenInvariants = [...new Set(result.failure.schedules.flatMap(({ violations }) => violations.map(invariantOf)))];
    }
    return result;
  } finally {
    if (!given) await world.stop();
  }
}

export function describeResult(result: SimulationResult): string {
  const tally = [
    `scenarios run: ${Object.entries(result.recipes).map(([name, count]) => `${name} ${count}`).join(', ')}`,
    `scenarios reached: ${Object.entries(result.reached).map(([name, count]) => `${name} ${count}`).join(', ')}`,
  ].join('\n');
  if (!result.failure) {
    if (result.belowFloor.length > 0) {
      return `${result.executed} schedules from seed ${result.seed}: every guarantee held, but scenarios ran fewer times than their floor: ${result.belowFloor.join(', ')}\n${tally}`;
    }
    return `${result.executed} schedules from seed ${result.seed}: every guarantee held\n${tally}`;
  }
  return [
    `A guarantee broke (seed ${result.seed}; first at schedule ${result.firstFailureAt ?? '?'}; ${result.executed} schedules run, shrinking included; invariants: ${(result.brokenInvariants ?? []).join(', ')}).`,
    ...result.failure.schedules.flatMap(({ schedule, violations }) => [
      'Shrunk schedule:',
      JSON.stringify(schedule),
      'Violations:',
      ...violations.map((violation) => `  - [${invariantOf(violation)}] ${violation}`),
    ]),
    `Replay: ${result.failure.replay}`,
    ...(result.failure.saved ? [`Replay with the same interleaving of storage and Graph calls: npm run test:chaos -- --replay ${result.failure.saved}`] : []),
    tally,
  ].join('\n');
}

export interface Survey {
  seed: number;
  runs: number;
  /** Each kind of violation (ids and numbers blanked out): how often, and the first schedule that showed it. */
  kinds: Map<string, { count: number; example: Schedule; violation: string; firstAt: number }>;
  /** Schedules that reached each scenario. */
  reached: Record<string, number>;
  /** Schedules run per recipe. */
  recipes: Record<string, number>;
}

/** Runs `runs` schedules without stopping at the first failure, and tallies what broke. */
export async function survey(options: SimulationOptions, given?: World): Promise<Survey> {
  const world = given ?? (await startWorld());
  const seed = options.seed ?? Date.now() % 2_147_483_647;
  const kinds: Survey['kinds'] = new Map();
  try {
    const schedules = fc.sample(scheduleArbitrary, { numRuns: options.runs, seed });
    resetReached();
    const recipes: Record<string, number> = {};
    for (const schedule of schedules) recipes[schedule.recipe ?? 'random'] = (recipes[schedule.recipe ?? 'random'] ?? 0) + 1;
    for (let start = 0; start < schedules.length; start += world.lanes.length) {
      const batch = schedules.slice(start, start + world.lanes.length);
      const failures = await runBatch(world, batch);
      options.progress?.(Math.min(schedules.length, start + world.lanes.length), options.runs);
      for (const { schedule, violations } of failures) {
        for (const violation of violations) {
          const kind = violation
            .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '{guid}')
            .replace(/sim-[0-9a-f]+-\d+/g, '{client-request-id}')
            .replace(/\d+/g, 'N');
          const seen = kinds.get(kind);
          if (seen) seen.count += 1;
          // Schedules it took to find: this one's position in the run, counting from 1.
          else kinds.set(kind, { count: 1, example: schedule, violation, firstAt: start + batch.indexOf(schedule) + 1 });
        }
      }
    }
    return { seed, runs: options.runs, kinds, reached: { ...reached }, recipes };
  } finally {
    if (!given) await world.stop();
  }
}

/** Where a failure is saved: the schedule and the order its calls completed in. */
export const failuresDir = '.simulation-failures';

async function saveFailure(seed: number, failing: ScheduleOutcome): Promise<string> {
  await mkdir(failuresDir, { recursive: true });
  const file = join(failuresDir, `seed-${seed}-${Date.now()}.json`);
  await writeFile(file, JSON.stringify({ seed, schedule: failing.schedule, violations: failing.violations, interleaving: failing.interleaving }, null, 1));
  return file;
}

/** A saved failure, read back for `--replay`. */
export async function loadFailure(file: string): Promise<{ schedule: Schedule; interleaving: string[] }> {
  const saved = JSON.parse(await readFile(file, 'utf8')) as { schedule: Schedule; interleaving: string[] };
  return { schedule: saved.schedule, interleaving: saved.interleaving };
}

/**
 * Runs one schedule and tells what happened: each request and its answer, what Graph holds, the
 * records. With `replay` (a recorded interleaving), each storage and Graph call waits its turn.
 */
export async function trace(schedule: Schedule, replay?: string[]): Promise<{ text: string; violations: string[] }> {
  const world = await startWorld(1);
  try {
    let seen: Observation | undefined;
    const interleaving = new Interleaving(replay);
    const violations = await runSchedule(
      world,
      world.lanes[0]!,
      schedule,
      (observation) => {
        seen = observation;
        return checkInvariants(observation);
      },
      interleaving,
    );
    const lines = [JSON.stringify(schedule), 'Requests:'];
    for (const request of seen?.requests ?? []) {
      const shown = (answer: Answer) => (answer.kind === 'answered' ? `${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}` : answer.kind);
      const resumed = request.resumed ? `; resumed after its instance stalled -> ${shown(request.resumed)}` : '';
      lines.push(`  ${request.origin} ${request.caller} key=${request.key} body=${request.body} ${request.path} crid=${request.clientRequestId} -> ${shown(request.answer)}${resumed}`);
    }
    lines.push('Graph made:', ...(seen?.creations ?? []).map((creation) => `  ${creation.path} by ${creation.origin ?? '?'} (crid ${creation.clientRequestId})`));
    lines.push('Graph received creates:', ...(seen?.graphPosts ?? []).map((post) => `  ${post.path} from ${post.headers['x-emulator-origin'] ?? '?'} crid=${post.headers['client-request-id']} -> ${post.status} fault=${JSON.stringify(post.fault?.step ?? null)}`));
    lines.push('Jobs:', ...(seen?.requests ?? []).flatMap((request) => (request.job ? [`  ${request.job.id} of request ${request.step}: ${JSON.stringify(request.job.final).slice(0, Number(process.env.SIM_TRACE_CHARS ?? 300))}`] : [])));
    lines.push('Polls:', ...(seen?.polls ?? []).map((poll) => `  step ${poll.step} ${poll.jobId}: ${JSON.stringify(poll.answer).slice(0, 200)}`));
    lines.push('Records (after reconciliation):');
    for (const record of seen?.audit.records ?? []) {
      lines.push(`  ${record.rowKey} crid=${record.clientRequestId} ${record.status} entity=${record.entityId} recovery=${record.recovery ?? ''} settledBy=${record.settledBy ?? ''} reason=${record.reason ?? ''}`);
    }
    lines.push('Index:', ...[...(seen?.audit.index ?? new Map<string, string>())].map(([path, rowKey]) => `  ${path} -> ${rowKey}`));
    lines.push(`Calls, in the order they completed: ${interleaving.completed.join(', ')}`);
    if (replay) lines.push(`Interleaving: ${replay.length} calls recorded, ${interleaving.diverged} held past their patience (the replay left the recording there)`);
    lines.push('Violations:', ...violations.map((violation) => `  - [${invariantOf(violation)}] ${violation}`));
    return { text: lines.join('\n'), violations };
  } finally {
    await world.stop();
  }
}
