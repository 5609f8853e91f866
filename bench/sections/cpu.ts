/**
 * CPU per create, as the kernel counts it (/proc/{pid}/stat utime + stime, every thread), read
 * before and after a fixed number of creates: the facade process (the local host included) and
 * Azurite, each on its own, in rounds, the audit table emptied before each (bench/support/janitor.ts).
 * With `--baseline-checkout`, a facade run from that other checkout is measured too, in alternating
 * rounds with this one, so both see the same machine.
 */
import { execFileSync } from 'node:child_process';
import { uniqueGroup, type Facade } from '../support/environment';
import { load, requireAllCreated } from '../support/load';
import { cpuMs } from '../support/proc';
import { defineSection, goal, ms, thousands, verdict, type BenchContext } from '../support/section';

export interface CpuResult {
  creates: number;
  connections: number;
  graphLatencyMs: number;
  seconds: number;
  facadeMsPerCreate: number;
  azuriteMsPerCreate: number;
  /** The same measure of a facade run from another checkout, in alternating rounds. */
  baseline?: { commit: string; facadeMsPerCreate: number; azuriteMsPerCreate: number };
}

export const facadeCpuGoalMs = 2.0;
const rounds = 4;

interface Tally {
  creates: number;
  facadeMs: number;
  azuriteMs: number;
  seconds: number;
}

async function measure(context: BenchContext, facade: Facade, creates: number, tally: Tally): Promise<void> {
  const environment = await context.environment();
  const target = { url: facade.createUrl, token: environment.standIns.callerToken, body: uniqueGroup, connections: context.options.cpuConnections };
  await context.trim(facade);
  const before = { facade: cpuMs(facade.pid), azurite: cpuMs(environment.azuritePid) };
  const run = requireAllCreated('facade', await load({ ...target, amount: creates }));
  tally.facadeMs += cpuMs(facade.pid) - before.facade;
  tally.azuriteMs += cpuMs(environment.azuritePid) - before.azurite;
  tally.creates += run.requests;
  tally.seconds += run.seconds;
}

export const cpuSection = defineSection<CpuResult>({
  key: 'cpu',
  title: 'CPU per create (/proc)',
  async run(context) {
    const { options } = context;
    const environment = await context.environment();
    const graphLatencyMs = 0;
    const facades: Facade[] = [await context.facade(`graph${graphLatencyMs}`, graphLatencyMs)];
    if (options.baselineCheckout) facades.push(await context.facade('baseline', graphLatencyMs, { checkout: options.baselineCheckout }));
    for (const facade of facades) {
      await load({ url: facade.createUrl, token: environment.standIns.callerToken, body: uniqueGroup, connections: options.cpuConnections, durationSeconds: options.warmupSeconds });
    }
    context.log(`cpu: ${thousands(options.cpuCreates)} creates in ${rounds} rounds, ${options.cpuConnections} connections${facades.length > 1 ? `, alternating with ${options.baselineCheckout}` : ''}`);
    const tallies = facades.map((): Tally => ({ creates: 0, facadeMs: 0, azuriteMs: 0, seconds: 0 }));
    const perRound = Math.ceil(options.cpuCreates / rounds);
    for (let round = 0; round < rounds; round += 1) {
      for (const [index, facade] of facades.entries()) await measure(context, facade, perRound, tallies[index]!);
    }
    if (facades.length > 1) await context.stopFacade('baseline');
    const [own, baseline] = tallies as [Tally, Tally | undefined];
    return {
      creates: own.creates,
      connections: options.cpuConnections,
      graphLatencyMs,
      seconds: own.seconds,
      facadeMsPerCreate: own.facadeMs / own.creates,
      azuriteMsPerCreate: own.azuriteMs / own.creates,
      ...(baseline && options.baselineCheckout
        ? {
            baseline: {
              commit: execFileSync('git', ['rev-parse', 'HEAD'], { cwd: options.baselineCheckout, encoding: 'utf8' }).trim(),
              facadeMsPerCreate: baseline.facadeMs / baseline.creates,
              azuriteMsPerCreate: baseline.azuriteMs / baseline.creates,
            },
          }
        : {}),
    };
  },
  rows(result) {
    const met = result.facadeMsPerCreate <= facadeCpuGoalMs;
    const basis = `${thousands(result.creates)} creates, ${result.connections} callers, Graph at ${result.graphLatencyMs} ms`;
    const baseline = result.baseline
      ? `; baseline ${result.baseline.commit.slice(0, 12)}: ${ms(result.baseline.facadeMsPerCreate, 2)} (${(result.facadeMsPerCreate / result.baseline.facadeMsPerCreate).toFixed(2)}×), its Azurite ${ms(result.baseline.azuriteMsPerCreate, 2)}`
      : '';
    return [
      {
        figure: 'facade process CPU per create (local host included)',
        value: ms(result.facadeMsPerCreate, 2),
        against: `Azurite ${ms(result.azuriteMsPerCreate, 2)} per create (${(result.facadeMsPerCreate / result.azuriteMsPerCreate).toFixed(2)}×); ${basis}${baseline}`,
        goal: `≤ ${ms(facadeCpuGoalMs)}: ${verdict(met)}`,
        met,
      },
    ];
  },
  goals: (result) => [goal('facadeCpuPerCreate', `facade CPU per create ≤ ${facadeCpuGoalMs} ms`, result.facadeMsPerCreate, 'ms', result.facadeMsPerCreate <= facadeCpuGoalMs)],
});
