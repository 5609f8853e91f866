/**
 * `npm run test:mutants [-- --runs N] [--seed S] [--only NAME] [--no-baseline]`: the known defects
 * as mutants. Each patch in test/mutants/patches/*.patch (a `git diff` whose first line says
 * `# defect: …`) is applied to a scratch copy of the committed code (a detached git worktree of
 * HEAD in a temporary directory, removed afterwards whatever happens), and the CI-sized simulation
 * runs there, expected to fail. A patch that no longer applies is reported and fails the run.
 * First the same simulation runs on an unpatched copy (the baseline): a mutant's failure proves
 * something only if the code without it passes.
 *
 * `-- --survey N` compares instead of expecting a pass: the same N schedules (one seed) run on the
 * baseline and on each mutant without stopping (`test:chaos --survey`), and a mutant is caught by
 * the kinds of violation it shows that the baseline does not. For code that still breaks some
 * guarantee (the baseline fails), that is what tells a mutant's own failure from the others.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: process.env.CHAOS_RUNS ?? '2000' },
    seed: { type: 'string', default: process.env.CHAOS_SEED ?? '16016' },
    only: { type: 'string', multiple: true },
    'no-baseline': { type: 'boolean', default: false },
    /** A mutant's simulation is stopped (and counted as surviving) after this many minutes. */
    'timeout-minutes': { type: 'string', default: '30' },
    survey: { type: 'string' },
  },
  strict: true,
});

interface SimulationSummary {
  failed: boolean;
  executed: number;
  firstFailureAt?: number;
  brokenInvariants?: string[];
  firstViolation?: string;
  belowFloor: string[];
  seconds: number;
}

interface Row {
  mutant: string;
  defect: string;
  outcome: 'caught' | 'survived' | 'does not apply' | 'error' | 'passes' | 'fails';
  schedules?: number;
  invariants?: string;
  seconds?: number;
  detail?: string;
}

const root = (await run('git', ['rev-parse', '--show-toplevel'])).stdout.trim();
const patchDir = join(root, 'test/mutants/patches');
const timeoutMs = Number(values['timeout-minutes']) * 60_000;
const scratchDirs = new Set<string>();

async function removeScratch(dir: string): Promise<void> {
  await run('git', ['-C', root, 'worktree', 'remove', '--force', dir]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
  await run('git', ['-C', root, 'worktree', 'prune']).catch(() => undefined);
  scratchDirs.delete(dir);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all([...scratchDirs].map(removeScratch)).finally(() => process.exit(130));
  });
}

/** Runs the CI-sized simulation in `dir`, stopping at its first failure (no shrinking). */
function simulateIn(dir: string): Promise<SimulationSummary | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/simulation/cli.ts', '--runs', values.runs!, '--seed', values.seed!, '--no-shrink', '--json'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      if (child.pid) process.kill(child.pid, 'SIGTERM');
    }, timeoutMs);
    child.on('close', () => {
      clearTimeout(timer);
      const line = output.split('\n').find((candidate) => candidate.startsWith('RESULT '));
      resolve(line ? (JSON.parse(line.slice('RESULT '.length)) as SimulationSummary) : { error: output.slice(-1_500) || 'no result (timed out?)' });
    });
  });
}

/** A kind of violation a survey showed: where it first showed, and the invariant it broke. */
interface SurveyKind {
  firstAt: number;
  invariant: string;
}

/** Runs `--survey` in `dir`: every kind of violation (numbers and ids blanked out) with its first schedule. */
function surveyIn(dir: string, runs: string): Promise<Map<string, SurveyKind> | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/simulation/cli.ts', '--survey', '--runs', runs, '--seed', values.seed!], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      if (child.pid) process.kill(child.pid, 'SIGTERM');
    }, timeoutMs);
    child.on('close', () => {
      clearTimeout(timer);
      if (!/schedules from seed/.test(output)) return resolve({ error: output.slice(-1_500) || 'no survey (timed out?)' });
      const kinds = new Map<string, SurveyKind>();
      for (const match of output.matchAll(/^\d+× \(first at schedule (\d+)\) \[(\w+)\] (.*)$/gm)) {
        kinds.set(match[3]!, { firstAt: Number(match[1]), invariant: match[2]! });
      }
      resolve(kinds);
    });
  });
}

let baselineKinds: Map<string, SurveyKind> | undefined;

/** A scratch copy of HEAD with `patch` applied (or none), surveyed, then removed: the kinds the baseline did not show. */
async function surveyTrial(mutant: string, defect: string, patch: string | undefined, runs: string): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), `mutant-${mutant}-`));
  scratchDirs.add(dir);
  try {
    await run('git', ['-C', root, 'worktree', 'add', '--detach', dir, 'HEAD']);
    await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    if (patch) {
      try {
        await run('git', ['-C', dir, 'apply', patch]);
      } catch (error) {
        return { mutant, defect, outcome: 'does not apply', detail: String((error as { stderr?: string }).stderr ?? error).trim().slice(0, 300) };
      }
    }
    const started = Date.now();
    const kinds = await surveyIn(dir, runs);
    const seconds = Math.round((Date.now() - started) / 1000);
    if ('error' in kinds) return { mutant, defect, outcome: 'error', detail: kinds.error };
    if (!patch) {
      baselineKinds = kinds;
      return { mutant, defect, outcome: kinds.size === 0 ? 'passes' : 'fails', invariants: [...new Set([...kinds.values()].map((kind) => kind.invariant))].join(', '), seconds };
    }
    const added = [...kinds].filter(([kind]) => !baselineKinds?.has(kind)).sort((one, other) => one[1].firstAt - other[1].firstAt);
    const first = added[0];
    return {
      mutant,
      defect,
      outcome: first ? 'caught' : 'survived',
      ...(first ? { schedules: first[1].firstAt, detail: first[0].slice(0, 300) } : {}),
      invariants: [...new Set(added.map(([, kind]) => kind.invariant))].join(', '),
      seconds,
    };
  } finally {
    await removeScratch(dir);
  }
}

/** A scratch copy of HEAD with `patch` applied (or none), the simulation run in it, then removed. */
async function trial(mutant: string, defect: string, patch: string | undefined): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), `mutant-${mutant}-`));
  scratchDirs.add(dir);
  try {
    await run('git', ['-C', root, 'worktree', 'add', '--detach', dir, 'HEAD']);
    await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    if (patch) {
      try {
        await run('git', ['-C', dir, 'apply', patch]);
      } catch (error) {
        return { mutant, defect, outcome: 'does not apply', detail: String((error as { stderr?: string }).stderr ?? error).trim().slice(0, 300) };
      }
    }
    const summary = await simulateIn(dir);
    if ('error' in summary) return { mutant, defect, outcome: 'error', detail: summary.error };
    const caught = summary.failed || summary.belowFloor.length > 0;
    return {
      mutant,
      defect,
      outcome: patch ? (caught ? 'caught' : 'survived') : caught ? 'fails' : 'passes',
      ...(summary.firstFailureAt === undefined ? {} : { schedules: summary.firstFailureAt }),
      invariants: (summary.brokenInvariants ?? []).join(', ') || (summary.belowFloor.length > 0 ? `floor: ${summary.belowFloor.join(', ')}` : ''),
      seconds: summary.seconds,
      ...(summary.firstViolation ? { detail: summary.firstViolation.slice(0, 300) } : {}),
    };
  } finally {
    await removeScratch(dir);
  }
}

const names = (await readdir(patchDir)).filter((name) => name.endsWith('.patch')).sort();
const chosen = values.only ? names.filter((name) => values.only!.some((only) => name.startsWith(only))) : names;
const rows: Row[] = [];
const surveyRuns = values.survey;
const attempt = (mutant: string, defect: string, patch: string | undefined) =>
  surveyRuns ? surveyTrial(mutant, defect, patch, surveyRuns) : trial(mutant, defect, patch);
process.stdout.write(
  `mutant suite: ${chosen.length} patches, ${surveyRuns ? `a survey of ${surveyRuns}` : values.runs} schedules each from seed ${values.seed}${surveyRuns ? ', compared with the baseline' : ''}\n`,
);
if (!values['no-baseline'] || surveyRuns) {
  const baseline = await attempt('baseline', 'the code as committed, no patch', undefined);
  rows.push(baseline);
  process.stdout.write(`  baseline: ${baseline.outcome}${baseline.detail ? ` (${baseline.detail})` : ''}\n`);
}
for (const name of chosen) {
  const patch = join(patchDir, name);
  const defect = /^# defect: (.*)$/m.exec(await readFile(patch, 'utf8'))?.[1] ?? '(no "# defect:" line)';
  const row = await attempt(name.replace(/\.patch$/, ''), defect, patch);
  rows.push(row);
  process.stdout.write(`  ${row.mutant}: ${row.outcome}${row.schedules ? ` after ${row.schedules} schedules` : ''}${row.invariants ? ` (${row.invariants})` : ''}\n`);
}

const header = ['mutant', 'outcome', 'schedules to failure', surveyRuns ? 'invariants (kinds the baseline did not show)' : 'invariant named', 's'];
const table = [header, ...rows.map((row) => [row.mutant, row.outcome, row.schedules === undefined ? '' : String(row.schedules), row.invariants ?? '', row.seconds === undefined ? '' : String(row.seconds)])];
const widths = header.map((_, column) => Math.max(...table.map((cells) => cells[column]!.length)));
process.stdout.write(`\n${table.map((cells) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`).join('\n')}\n`);
for (const row of rows.filter((candidate) => candidate.detail)) process.stdout.write(`\n${row.mutant}: ${row.detail}\n`);

// Compared with the baseline, a failing baseline is what the comparison is for.
const baselineBroken = !surveyRuns && rows.some((row) => row.mutant === 'baseline' && row.outcome !== 'passes');
const bad = rows.filter((row) => row.mutant !== 'baseline' && row.outcome !== 'caught');
if (baselineBroken) process.stdout.write('\nThe baseline fails: the code without any patch breaks a guarantee, so a mutant caught proves nothing.\n');
if (bad.length > 0) process.stdout.write(`\nNot caught: ${bad.map((row) => `${row.mutant} (${row.outcome})`).join(', ')}\n`);
process.exit(baselineBroken || bad.length > 0 ? 1 : 0);
