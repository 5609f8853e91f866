/**
 * Cold start: the CPU (user + system, every thread, process.cpuUsage() in the child) of a fresh
 * Node process once it has loaded the deployed bundle, against one that loaded a hello-world
 * `@azure/functions` app (bench/helloWorld.mjs) as written, with @azure/functions from
 * node_modules: the goal's baseline. The same app bundled like the facade, and a process that
 * loads nothing, are measured beside them. All run in turn, in a rotating order; each ratio is
 * taken run by run and its median reported.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleEntry } from '../../build';
import { defineSection, goal, ms, verdict } from '../support/section';

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface ColdStartResult {
  runs: number;
  bundleKiB: number;
  /** CPU ms of the whole process once loaded. */
  emptyNode: Spread;
  helloWorld: Spread;
  helloWorldBundled: Spread;
  bundle: Spread;
  /** Median of the run-by-run ratios bundle / hello world. */
  ratio: number;
  /** The same against the hello world bundled like the facade. */
  ratioBundled: number;
  /** The bundle of another checkout (`--baseline-checkout`), measured in the same turns. */
  baseline?: { commit: string; bundle: Spread; ratio: number };
}

export const coldStartGoalRatio = 1.3;

const loader = [
  'const target = process.env.BENCH_LOAD;',
  'if (target) await import(target);',
  'const usage = process.cpuUsage();',
  "process.stdout.write('\\n' + JSON.stringify({ cpuMs: (usage.user + usage.system) / 1000 }) + '\\n');",
].join('\n');

function loadCpuMs(moduleUrl: string | undefined): number {
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', loader], {
    env: { PATH: process.env.PATH ?? '', ...(moduleUrl ? { BENCH_LOAD: moduleUrl } : {}) },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = output.split('\n').reverse().find((candidate) => candidate.startsWith('{'));
  if (!line) throw new Error(`the cold start child printed no figure:\n${output}`);
  return (JSON.parse(line) as { cpuMs: number }).cpuMs;
}

/** The bundle and the chunks it imports statically: what a cold start reads and compiles. */
function staticBytes(file: string, seen = new Set<string>()): number {
  if (seen.has(file)) return 0;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  const imports = [...text.matchAll(/(?:^|[;}\s])import\s*(?:[^'"()]*?from\s*)?["'](\.\/[^"']+)["']/g)].map((match) => match[1]!);
  return Buffer.byteLength(text) + imports.reduce((sum, specifier) => sum + staticBytes(join(dirname(file), specifier), seen), 0);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const spread = (values: number[]): Spread => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });

export const coldStartSection = defineSection<ColdStartResult>({
  key: 'coldStart',
  title: 'Cold start: loading the deployed bundle vs a hello-world @azure/functions app',
  async run(context) {
    const bundlePath = resolve('dist/index.mjs');
    const helloWorld = new URL('../helloWorld.mjs', import.meta.url);
    const helloBundled = join(context.workDir, 'hello-world', 'index.mjs');
    await bundleEntry(fileURLToPath(helloWorld), join(context.workDir, 'hello-world'));
    const checkout = context.options.baselineCheckout;
    const sides: Record<string, string | undefined> = {
      emptyNode: undefined,
      helloWorld: helloWorld.href,
      helloWorldBundled: pathToFileURL(helloBundled).href,
      bundle: pathToFileURL(bundlePath).href,
      ...(checkout ? { baselineBundle: pathToFileURL(join(checkout, 'dist', 'index.mjs')).href } : {}),
    };
    const names = Object.keys(sides);
    const figures: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
    loadCpuMs(sides.bundle); // warms the file cache, not counted
    for (let run = 0; run < context.options.coldStartRuns; run += 1) {
      for (let turn = 0; turn < names.length; turn += 1) {
        const name = names[(run + turn) % names.length]!;
        figures[name]!.push(loadCpuMs(sides[name]));
      }
    }
    context.log(`cold start: ${context.options.coldStartRuns} runs of each`);
    const ratioTo = (side: string, baseline: string) => median(figures[side]!.map((value, index) => value / figures[baseline]![index]!));
    return {
      runs: context.options.coldStartRuns,
      bundleKiB: Math.round(staticBytes(bundlePath) / 1024),
      emptyNode: spread(figures.emptyNode!),
      helloWorld: spread(figures.helloWorld!),
      helloWorldBundled: spread(figures.helloWorldBundled!),
      bundle: spread(figures.bundle!),
      ratio: ratioTo('bundle', 'helloWorld'),
      ratioBundled: ratioTo('bundle', 'helloWorldBundled'),
      ...(checkout
        ? {
            baseline: {
              commit: execFileSync('git', ['rev-parse', 'HEAD'], { cwd: checkout, encoding: 'utf8' }).trim(),
              bundle: spread(figures.baselineBundle!),
              ratio: ratioTo('baselineBundle', 'helloWorld'),
            },
          }
        : {}),
    };
  },
  rows(result) {
    const range = (value: Spread) => `${ms(value.median, 0)} CPU (${value.min.toFixed(0)}–${value.max.toFixed(0)})`;
    const met = result.ratio <= coldStartGoalRatio;
    return [
      {
        figure: `cold start: fresh process loading dist/index.mjs (${result.bundleKiB} KiB with the chunks it imports at load)`,
        value: `${range(result.bundle)}: ${result.ratio.toFixed(2)}× the hello-world app`,
        against: `hello-world @azure/functions app ${range(result.helloWorld)}; bundled like the facade ${range(result.helloWorldBundled)} (facade ${result.ratioBundled.toFixed(2)}× that); Node loading nothing ${range(result.emptyNode)}; median of ${result.runs}${
          result.baseline ? `; baseline ${result.baseline.commit.slice(0, 12)}: ${range(result.baseline.bundle)}, ${result.baseline.ratio.toFixed(2)}×` : ''
        }`,
        goal: `≤ ${coldStartGoalRatio}×: ${verdict(met)}`,
        met,
      },
    ];
  },
  goals: (result) => [goal('coldStartRatio', `bundle load CPU ≤ ${coldStartGoalRatio}× a hello-world app`, result.ratio, '×', result.ratio <= coldStartGoalRatio)],
});
