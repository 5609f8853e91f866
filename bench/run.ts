/**
 * `npm run bench`: the facade's cost, measured side by side with its baselines in one run, from
 * one command that starts everything it needs and stops it all again. Prints a table per section
 * and writes bench/results.json, from which `npm run bench:readme` writes the figures of docs/benchmarks.md.
 *
 *   npm run bench                     the full run (100,000 requests of memory run included)
 *   npm run bench -- --quick          about a minute: checks the benchmark, not figures to publish
 *   npm run bench -- --only latency,cpu [--out FILE]
 *   npm run bench -- --only manifest --update   measures one section again, into bench/results.json
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { sections } from './sections/index';
import { startBenchEnvironment, type BenchEnvironment, type Facade } from './support/environment';
import { trimTable } from './support/janitor';
import { parseBenchOptions } from './support/options';
import { printTable, renderSections, updatedResults, type BenchResults } from './support/results';
import type { BenchContext } from './support/section';

export const resultsFile = 'bench/results.json';

function commitOf(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit}+uncommitted` : commit;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2));
  const unknown = options.only.filter((name) => !sections.some((section) => section.key === name));
  if (unknown.length > 0) throw new Error(`no section ${unknown.join(', ')}; there are ${sections.map((section) => section.key).join(', ')}`);
  const selected = sections.filter((section) => options.only.length === 0 || options.only.includes(section.key));
  const started = performance.now();
  const workDir = mkdtempSync(join(tmpdir(), 'facade-bench-'));
  let environment: Promise<BenchEnvironment> | undefined;
  const facades = new Map<string, Promise<Facade>>();
  const log = (message: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
  const results: BenchResults = {
    quick: options.quick,
    date: new Date().toISOString(),
    commit: commitOf(),
    machine: {
      cores: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      memoryGiB: Math.round(totalmem() / 1024 ** 3),
    },
    options: { ...options, out: undefined } as BenchResults['options'],
    sections: {},
    goals: [],
  };
  const context: BenchContext = {
    options,
    log,
    workDir,
    results: results.sections,
    environment: () => (environment ??= (log('starting Azurite, the identity endpoint, the Graph emulators and the dev token issuer'), startBenchEnvironment(options.graphLatenciesMs))),
    facade: async (name, graphLatencyMs, facadeOptions) => {
      let facade = facades.get(name);
      if (!facade) {
        log(`starting a facade process (${name}, Graph at ${graphLatencyMs} ms)`);
        facade = context.environment().then((running) => running.startFacade(graphLatencyMs, facadeOptions));
        facades.set(name, facade);
      }
      return facade;
    },
    trim: async (facade) => {
      const { azurite } = await context.environment();
      await trimTable({ connectionString: azurite.connectionString, tableName: facade.tableName, keepMs: 0 });
    },
    stopFacade: async (name) => {
      const facade = facades.get(name);
      facades.delete(name);
      await (await facade)?.stop();
    },
  };

  delete (results.options as { out?: unknown }).out;
  try {
    for (const section of selected) {
      log(`${section.key}: ${section.title}`);
      const result = await section.run(context);
      results.sections[section.key] = result;
      results.goals.push(...section.goals(result).map((decided) => ({ ...decided, section: section.key })));
    }
  } finally {
    for (const name of [...facades.keys()]) await context.stopFacade(name).catch(() => undefined);
    if (environment) await (await environment.catch(() => undefined))?.stop();
    rmSync(workDir, { recursive: true, force: true });
  }

  const machine = `${results.machine.cores} × ${results.machine.cpuModel}, Node ${results.machine.node}`;
  process.stdout.write(`\n${options.quick ? 'QUICK RUN (short runs: checks the benchmark; not figures to publish)\n' : ''}${results.date}, commit ${results.commit.slice(0, 12)}, ${machine}\n`);
  process.stdout.write(`${printTable(renderSections(results, sections))}\n\n`);
  const goals = results.goals;
  process.stdout.write(`goals: ${goals.filter((decided) => decided.met).length} of ${goals.length} met${goals.some((decided) => !decided.met) ? ` (not met: ${goals.filter((decided) => !decided.met).map((decided) => decided.id).join(', ')})` : ''}\n`);
  if (options.update) {
    writeFileSync(resultsFile, `${JSON.stringify(updatedResults(JSON.parse(readFileSync(resultsFile, 'utf8')) as BenchResults, results), null, 2)}\n`);
    process.stdout.write(`${Object.keys(results.sections).join(', ')} replaced in ${resultsFile}; npm run bench:readme puts the figures in docs/benchmarks.md\n`);
  }
  const out = options.out ?? (options.only.length === 0 ? resultsFile : undefined);
  if (out) {
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`written to ${out}${out === resultsFile ? '; npm run bench:readme puts the figures in docs/benchmarks.md' : ''}\n`);
  }
  log('done');
}

main().catch((error: unknown) => {
  process.stderr.write(`\nnpm run bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
