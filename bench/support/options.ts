import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Short runs for checking the benchmark itself (about a minute); its figures are not the service's. */
  quick: boolean;
  /** Graph answer latencies under test, in ms. */
  graphLatenciesMs: number[];
  /** Concurrent callers under test. */
  connections: number[];
  /** Length of each side-by-side load run, and of the warm-up before a target's first run. */
  loadSeconds: number;
  warmupSeconds: number;
  /** Creates between the two /proc readings of the CPU figure. */
  cpuCreates: number;
  /** Concurrent callers of the CPU and profile runs. */
  cpuConnections: number;
  /** Creates under the CPU profiler. */
  profileCreates: number;
  /** Fresh processes per side of the cold start comparison. */
  coldStartRuns: number;
  /** Requests of the memory run, and its concurrent callers. */
  memoryRequests: number;
  memoryConnections: number;
  /** Concurrent token requests on a cold instance. */
  tokenConcurrency: number;
  /** Verifications per side of the token cache comparison. */
  tokenVerifications: number;
  /** Only these sections (all when empty). */
  only: string[];
  /** Where the results go; with `only`, nowhere unless given. */
  out: string | undefined;
  /** With `only`: the sections measured replace theirs in bench/results.json, which says when and where each was measured. */
  update: boolean;
  /** Where to keep the facade's raw CPU profile (opens in Chrome DevTools or VS Code). */
  profileOut: string | undefined;
  /**
   * Another checkout of the project, built (`npm run build`) with its dependencies installed: the
   * CPU and cold start sections measure its facade too, interleaved with this one (before/after).
   */
  baselineCheckout: string | undefined;
}

const full: Omit<BenchOptions, 'only' | 'out' | 'update' | 'profileOut' | 'baselineCheckout'> = {
  quick: false,
  graphLatenciesMs: [0, 100],
  connections: [1, 10, 50],
  loadSeconds: 10,
  warmupSeconds: 3,
  cpuCreates: 8_000,
  cpuConnections: 50,
  profileCreates: 3_000,
  coldStartRuns: 15,
  memoryRequests: 100_000,
  memoryConnections: 10,
  tokenConcurrency: 100,
  tokenVerifications: 5_000,
};

const quick: Partial<BenchOptions> = {
  quick: true,
  loadSeconds: 1.5,
  warmupSeconds: 1,
  cpuCreates: 1_000,
  profileCreates: 1_000,
  coldStartRuns: 5,
  memoryRequests: 1_500,
  tokenVerifications: 1_000,
};

export const usage = `npm run bench [-- --quick] [--memory-requests N] [--cpu-creates N] [--seconds N] [--only a,b [--update]] [--out FILE] [--profile-out FILE.cpuprofile] [--baseline-checkout DIR]`;

export function parseBenchOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      'memory-requests': { type: 'string' },
      'cpu-creates': { type: 'string' },
      'profile-creates': { type: 'string' },
      'cold-start-runs': { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      update: { type: 'boolean', default: false },
      'profile-out': { type: 'string' },
      'baseline-checkout': { type: 'string' },
    },
    strict: true,
  });
  const count = (name: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const number = Number(value);
    if (!Number.isInteger(number) || number <= 0) throw new Error(`--${name} must be a whole number above 0, got "${value}"\nusage: ${usage}`);
    return number;
  };
  const options: BenchOptions = { ...full, ...(values.quick ? quick : {}), only: [], out: undefined, update: false, profileOut: undefined, baselineCheckout: undefined };
  const overrides = {
    loadSeconds: count('seconds', values.seconds),
    memoryRequests: count('memory-requests', values['memory-requests']),
    cpuCreates: count('cpu-creates', values['cpu-creates']),
    profileCreates: count('profile-creates', values['profile-creates']),
    coldStartRuns: count('cold-start-runs', values['cold-start-runs']),
  };
  for (const [name, value] of Object.entries(overrides)) if (value !== undefined) Object.assign(options, { [name]: value });
  options.only = (values.only ?? '').split(',').map((name) => name.trim()).filter(Boolean);
  options.out = values.out;
  options.update = values.update ?? false;
  if (options.update && (options.only.length === 0 || options.out !== undefined)) throw new Error(`--update goes with --only (the sections to measure again) and without --out\nusage: ${usage}`);
  options.profileOut = values['profile-out'];
  options.baselineCheckout = values['baseline-checkout'] === undefined ? undefined : resolve(values['baseline-checkout']);
  return options;
}
