import fc from 'fast-check';
import { runSchedule, type Observation } from './execute';
import { checkInvariants } from './invariants';
import { scheduleArbitrary, type Schedule } from './schedule';
import { startWorld, type World } from './world';

export interface SimulationOptions {
  /** Schedules to run. */
  runs: number;
  seed?: number;
  /** fast-check's replay path of a failure (with its seed). */
  path?: string;
  /** Told after each batch of schedules. */
  progress?: (done: number, runs: number) => void;
}

export interface SimulationResult {
  seed: number;
  runs: number;
  /** Schedules run, shrinking included. */
  executed: number;
  failure?: { schedules: { schedule: Schedule; violations: string[] }[]; path: string; replay: string };
}

class Violated extends Error {
  constructor(readonly failures: { schedule: Schedule; violations: string[] }[]) {
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

async function runBatch(world: World, batch: Schedule[]): Promise<{ schedule: Schedule; violations: string[] }[]> {
  unhandled.length = 0;
  process.on('unhandledRejection', noteUnhandled);
  try {
    const results = await Promise.all(
      batch.map(async (schedule, index) => ({ schedule, violations: await runSchedule(world, world.lanes[index]!, schedule, checkInvariants) })),
    );
    for (const reason of unhandled.splice(0)) {
      // Which schedule of the batch left it cannot be told; each is named.
      for (const result of results) result.violations.push(`a promise was rejected with nobody listening (the host process would end): ${reason}`);
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
  try {
    const property = fc.asyncProperty(batchOf(world), async (batch) => {
      executed += batch.length;
      const failures = await runBatch(world, batch);
      options.progress?.(executed, options.runs);
      if (failures.length > 0) throw new Violated(failures);
    });
    const details = await fc.check(property, {
      numRuns: Math.max(1, Math.ceil(options.runs / world.lanes.length)),
      seed,
      ...(options.path ? { path: options.path } : {}),
    });
    const result: SimulationResult = { seed, runs: options.runs, executed };
    if (details.failed && details.counterexamplePath !== null) {
      const cause = details.errorInstance;
      const path = details.counterexamplePath;
      result.failure = {
        schedules: cause instanceof Violated ? cause.failures : [],
        path,
        replay: `npm run test:chaos -- --seed ${seed} --path ${path}`,
      };
      if (!(cause instanceof Violated)) result.failure.schedules.push({ schedule: { target: 'connection', steps: [] }, violations: [String(cause)] });
    }
    return result;
  } finally {
    if (!given) await world.stop();
  }
}

export function describeResult(result: SimulationResult): string {
  if (!result.failure) return `${result.executed} schedules from seed ${result.seed}: every guarantee held`;
  return [
    `A guarantee broke (seed ${result.seed}; ${result.executed} schedules run, shrinking included).`,
    ...result.failure.schedules.flatMap(({ schedule, violations }) => [
      'Shrunk schedule:',
      JSON.stringify(schedule),
      'Violations:',
      ...violations.map((violation) => `  - ${violation}`),
    ]),
    `Replay: ${result.failure.replay}`,
  ].join('\n');
}

export interface Survey {
  seed: number;
  runs: number;
  /** Each kind of violation (ids and numbers blanked out): how often, and the first schedule that showed it. */
  kinds: Map<string, { count: number; example: Schedule; violation: string }>;
}

/** Runs `runs` schedules without stopping at the first failure, and tallies what broke. */
export async function survey(options: SimulationOptions, given?: World): Promise<Survey> {
  const world = given ?? (await startWorld());
  const seed = options.seed ?? Date.now() % 2_147_483_647;
  const kinds: Survey['kinds'] = new Map();
  try {
    const schedules = fc.sample(scheduleArbitrary, { numRuns: options.runs, seed });
    for (let start = 0; start < schedules.length; start += world.lanes.length) {
      const failures = await runBatch(world, schedules.slice(start, start + world.lanes.length));
      options.progress?.(Math.min(schedules.length, start + world.lanes.length), options.runs);
      for (const { schedule, violations } of failures) {
        for (const violation of violations) {
          const kind = violation
            .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '{guid}')
            .replace(/sim-[0-9a-f]+-\d+/g, '{client-request-id}')
            .replace(/\d+/g, 'N');
          const seen = kinds.get(kind);
          if (seen) seen.count += 1;
          else kinds.set(kind, { count: 1, example: schedule, violation });
        }
      }
    }
    return { seed, runs: options.runs, kinds };
  } finally {
    if (!given) await world.stop();
  }
}

/** Runs one schedule and tells what happened: each request and its answer, what Graph holds, the records. */
export async function trace(schedule: Schedule): Promise<string> {
  const world = await startWorld(1);
  try {
    let seen: Observation | undefined;
    const violations = await runSchedule(world, world.lanes[0]!, schedule, (observation) => {
      seen = observation;
      return checkInvariants(observation);
    });
    const lines = [JSON.stringify(schedule), 'Requests:'];
    for (const request of seen?.requests ?? []) {
      const answer = request.answer.kind === 'answered' ? `${request.answer.status} ${JSON.stringify(request.answer.body).slice(0, 200)}` : request.answer.kind;
      lines.push(`  ${request.step} ${request.caller} key=${request.key} body=${request.body} ${request.path} crid=${request.clientRequestId} -> ${answer}`);
    }
    lines.push('Graph made:', ...(seen?.creations ?? []).map((creation) => `  ${creation.path} by ${creation.clientRequestId}`));
    lines.push('Graph received creates:', ...(seen?.graphPosts ?? []).map((post) => `  ${post.path} crid=${post.headers['client-request-id']} -> ${post.status} fault=${JSON.stringify(post.fault?.step ?? null)}`));
    lines.push('Records (after reconciliation):');
    for (const record of seen?.audit.records ?? []) {
      lines.push(`  ${record.rowKey} crid=${record.clientRequestId} ${record.status} entity=${record.entityId} recovery=${record.recovery ?? ''} reason=${record.reason ?? ''}`);
    }
    lines.push('Index:', ...[...(seen?.audit.index ?? new Map<string, string>())].map(([path, rowKey]) => `  ${path} -> ${rowKey}`));
    lines.push('Violations:', ...violations.map((violation) => `  - ${violation}`));
    return lines.join('\n');
  } finally {
    await world.stop();
  }
}
