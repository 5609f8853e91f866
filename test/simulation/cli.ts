/**
 * `npm run test:chaos -- [--runs N] [--seed S] [--path P] [--workers W [--at-once K]]`: the
 * exactly-once fault simulation, longer than the one in `npm test` (before a release), or one
 * failure replayed by its seed and path.
 */
import { parseArgs } from 'node:util';
import { invariantOf } from './invariantNames';
import { describeResult, loadFailure, simulate, survey, trace } from './simulate';
import { runWorkers } from './workers';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2000' },
    seed: { type: 'string' },
    path: { type: 'string' },
    /** Runs every schedule and tallies each kind of violation instead of stopping at the first. */
    survey: { type: 'boolean', default: false },
    /** Runs this one schedule (JSON, as a failure prints it) and prints what happened. */
    schedule: { type: 'string' },
    /** Replays a saved failure (its schedule and the order of its calls), as a failure prints it. */
    replay: { type: 'string' },
    /** Stops at the first failure without shrinking it. */
    'no-shrink': { type: 'boolean', default: false },
    /** Also writes the result as one line of JSON (`RESULT {...}`), for the mutant suite. */
    json: { type: 'boolean', default: false },
    /**
     * Splits the runs over this many processes side by side (each its own Azurite, emulator and
     * seed: the seed given, or a random one, plus the worker's number); a schedule mostly waits,
     * so a machine runs several at once.
     */
    workers: { type: 'string', default: '1' },
    /** With `--workers`: how many run at once (default: all). */
    'at-once': { type: 'string' },
  },
  strict: true,
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs <= 0) {
  process.stderr.write(`--runs must be a positive whole number, got "${values.runs}"\n`);
  process.exit(2);
}
const seed = values.seed === undefined ? undefined : Number(values.seed);
const started = Date.now();
const workers = Number(values.workers);
if (!Number.isInteger(workers) || workers <= 0) {
  process.stderr.write(`--workers must be a positive whole number, got "${values.workers}"\n`);
  process.exit(2);
}
if (workers > 1) {
  if (values.schedule || values.replay || values.survey || values.path) {
    process.stderr.write('--workers splits a run of random schedules; it does not go with --schedule, --replay, --survey or --path\n');
    process.exit(2);
  }
  const atOnce = Number(values['at-once'] ?? workers);
  if (!Number.isInteger(atOnce) || atOnce <= 0) {
    process.stderr.write(`--at-once must be a positive whole number, got "${values['at-once']}"\n`);
    process.exit(2);
  }
  process.exit(await runWorkers({ runs, workers, atOnce, seed: seed ?? Date.now() % 2_147_483_647, noShrink: values['no-shrink'] }));
}
if (values.schedule) {
  const traced = await trace(JSON.parse(values.schedule));
  process.stdout.write(`${traced.text}\n`);
  process.exit(traced.violations.length > 0 ? 1 : 0);
}
if (values.replay) {
  const saved = await loadFailure(values.replay);
  const traced = await trace(saved.schedule, saved.interleaving);
  process.stdout.write(`${traced.text}\n${traced.violations.length > 0 ? 'The failure replayed.' : 'The failure did not replay.'}\n`);
  process.exit(traced.violations.length > 0 ? 1 : 0);
}
if (values.survey) {
  const tally = await survey({
    runs,
    ...(seed === undefined ? {} : { seed }),
    progress: (done) => process.stderr.write(`  ${done} schedules, ${Math.round((Date.now() - started) / 1000)} s\n`),
  });
  process.stdout.write(`${runs} schedules from seed ${tally.seed}: ${tally.kinds.size} kinds of violation\n`);
  process.stdout.write(`scenarios run: ${JSON.stringify(tally.recipes)}\nscenarios reached: ${JSON.stringify(tally.reached)}\n`);
  for (const [kind, { count, example, violation, firstAt }] of [...tally.kinds].sort((a, b) => a[1].firstAt - b[1].firstAt)) {
    process.stdout.write(`\n${count}× (first at schedule ${firstAt}) [${invariantOf(violation)}] ${kind}\n  e.g. ${violation}\n  in ${JSON.stringify(example)}\n`);
  }
  process.exit(tally.kinds.size > 0 ? 1 : 0);
}
process.stdout.write(`simulating ${runs} fault schedules${seed === undefined ? '' : ` from seed ${seed}`}\n`);
const result = await simulate({
  runs,
  ...(seed === undefined ? {} : { seed }),
  ...(values.path ? { path: values.path } : {}),
  noShrink: values['no-shrink'],
  progress: (done) => {
    if (done % 500 < 6) process.stdout.write(`  ${done} schedules, ${Math.round((Date.now() - started) / 1000)} s\n`);
  },
});
process.stdout.write(`${describeResult(result)}\n(${Math.round((Date.now() - started) / 1000)} s)\n`);
if (values.json) {
  const { seed: usedSeed, executed, firstFailureAt, brokenInvariants, belowFloor } = result;
  const firstViolation = result.failure?.schedules[0]?.violations[0];
  process.stdout.write(`RESULT ${JSON.stringify({ seed: usedSeed, executed, failed: Boolean(result.failure), firstFailureAt, brokenInvariants, firstViolation, belowFloor, seconds: Math.round((Date.now() - started) / 1000) })}\n`);
}
process.exit(result.failure || result.belowFloor.length > 0 ? 1 : 0);
