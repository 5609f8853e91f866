/**
 * `npm run test:mutants [-- --runs N] [--seed S] [--only NAME] [--no-baseline]`: the known defects
 * as mutants. Each patch in test/mutants/patches/*.patch (a `git diff` whose first line says
 * `# defect: …`) is applied to a scratch copy of the committed code (a detached git worktree of
 * HEAD in a temporary directory, removed afterwards whatever happens), and the CI-sized simulation
 * runs there, expected to fail. A patch that no longer applies is reported and fails the run.
 * First the same simulation runs on an unpatched copy (the baseline): a mutant's failure proves
 * something only if the code without it passes.
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
process.stdout.write(`mutant suite: ${chosen.length} patches, ${values.runs} schedules each from seed ${values.seed}\n`);
if (!values['no-baseline']) {
  const baseline = await trial('baseline', 'the code as committed, no patch', undefined);
  rows.push(baseline);
  process.stdout.write(`  baseline: ${baseline.outcome}${baseline.detail ? ` (${baseline.detail})` : ''}\n`);
}
for (const name of chosen) {
  const patch = join(patchDir, name);
  const defect = /^# defect: (.*)$/m.exec(await readFile(patch, 'utf8'))?.[1] ?? '(no "# defect:" line)';
  const row = await trial(name.replace(/\.patch$/, ''), defect, patch);
  rows.push(row);
  process.stdout.write(`  ${row.mutant}: ${row.outcome}${row.schedules ? ` after ${row.schedules} schedules` : ''}${row.invariants ? ` (${row.invariants})` : ''}\n`);
}

const header = ['mutant', 'outcome', 'schedules to failure', 'invariant named', 's'];
const table = [header, ...rows.map((row) => [row.mutant, row.outcome, row.schedules === undefined ? '' : String(row.schedules), row.invariants ?? '', row.seconds === undefined ? '' : String(row.seconds)])];
const widths = header.map((_, column) => Math.max(...table.map((cells) => cells[column]!.length)));
process.stdout.write(`\n${table.map((cells) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`).join('\n')}\n`);
for (const row of rows.filter((candidate) => candidate.detail)) process.stdout.write(`\n${row.mutant}: ${row.detail}\n`);

const baselineBroken = rows.some((row) => row.mutant === 'baseline' && row.outcome !== 'passes');
const bad = rows.filter((row) => row.mutant !== 'baseline' && row.outcome !== 'caught');
if (baselineBroken) process.stdout.write('\nThe baseline fails: the code without any patch breaks a guarantee, so a mutant caught proves nothing.\n');
if (bad.length > 0) process.stdout.write(`\nNot caught: ${bad.map((row) => `${row.mutant} (${row.outcome})`).join(', ')}\n`);
process.exit(baselineBroken || bad.length > 0 ? 1 : 0);
