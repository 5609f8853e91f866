/**
 * Where the facade's CPU goes: V8's sampling profiler in a facade process started for the purpose
 * (bench/support/profilerHook.mjs), started after a warm-up and stopped after a fixed number of
 * creates, aggregated by package and module (bench/support/profile.ts) and divided by the creates.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { HostProcess } from '../../test/support/stack';
import { uniqueGroup } from '../support/environment';
import { load, requireAllCreated } from '../support/load';
import { cpuMs } from '../support/proc';
import { bundleSourcesIn, splitProfile, type CpuProfile, type ProfileSplit } from '../support/profile';
import { defineSection, ms, thousands } from '../support/section';
import type { CpuResult } from './cpu';

export interface ProfileResult {
  creates: number;
  connections: number;
  graphLatencyMs: number;
  samplingIntervalUs: number;
  /** The profiled process's CPU per create over the profiled creates, from /proc (the profiler's own cost included). */
  procMsPerCreate: number;
  /**
   * What the shares are applied to: the CPU section's figure of this run (no profiler running),
   * else the profiled process's. The samples count wall time on the main thread while it is not
   * idle, which a busy machine stretches, so only their shares are used.
   */
  basisMsPerCreate: number;
  basis: 'cpu section' | 'profiled process';
  /** What the samples add up to per create (main thread, idle excluded). */
  sampledMsPerCreate: number;
  components: { component: string; share: number; msPerCreate: number }[];
}

const bundleFolder = resolve('dist');
/** Components below this share of a create are summed into one row. */
const smallestRowMs = 0.02;

async function toggleProfiler(host: HostProcess, pid: number, marker: string): Promise<void> {
  const seen = host.output().split(marker).length - 1;
  process.kill(pid, 'SIGUSR2');
  const until = Date.now() + 60_000;
  while (host.output().split(marker).length - 1 === seen) {
    if (Date.now() > until) throw new Error(`the facade's profiler did not answer (${marker}):\n${host.output().slice(-2000)}`);
    if (host.output().includes('bench-profiler: failed')) throw new Error(`the facade's profiler failed:\n${host.output().slice(-2000)}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

export const profileSection = defineSection<ProfileResult>({
  key: 'profile',
  title: 'Facade CPU per create by component (sampled CPU profile)',
  async run(context) {
    const { options } = context;
    const environment = await context.environment();
    const graphLatencyMs = 0;
    const profileFile = join(context.workDir, 'facade.cpuprofile');
    const facade = await context.facade('profiled', graphLatencyMs, { profileTo: profileFile });
    try {
      const target = { url: facade.createUrl, token: environment.standIns.callerToken, body: uniqueGroup };
      await load({ ...target, connections: options.cpuConnections, durationSeconds: options.warmupSeconds });
      context.log(`profile: ${thousands(options.profileCreates)} creates, ${options.cpuConnections} connections`);
      await toggleProfiler(facade.host, facade.pid, 'bench-profiler: started');
      const cpuBefore = cpuMs(facade.pid);
      const run = requireAllCreated('facade', await load({ ...target, connections: options.cpuConnections, amount: options.profileCreates }));
      const cpuAfter = cpuMs(facade.pid);
      await toggleProfiler(facade.host, facade.pid, 'bench-profiler: written');
      if (options.profileOut) copyFileSync(profileFile, options.profileOut);
      const profile = JSON.parse(readFileSync(profileFile, 'utf8')) as CpuProfile;
      const split: ProfileSplit = splitProfile(profile, run.requests, bundleSourcesIn(bundleFolder), resolve('.'));
      const procMsPerCreate = (cpuAfter - cpuBefore) / run.requests;
      const measured = (context.results.cpu as CpuResult | undefined)?.facadeMsPerCreate;
      const basisMsPerCreate = measured ?? procMsPerCreate;
      return {
        creates: run.requests,
        connections: options.cpuConnections,
        graphLatencyMs,
        samplingIntervalUs: 1000,
        procMsPerCreate,
        basisMsPerCreate,
        basis: measured === undefined ? 'profiled process' : 'cpu section',
        sampledMsPerCreate: split.msPerCreate,
        components: split.components.map(({ component, share }) => ({ component, share, msPerCreate: share * basisMsPerCreate })),
      };
    } finally {
      await context.stopFacade('profiled');
    }
  },
  rows(result) {
    const shown = result.components.filter((component) => component.msPerCreate >= smallestRowMs);
    const rest = result.components.filter((component) => component.msPerCreate < smallestRowMs);
    const restMs = rest.reduce((sum, component) => sum + component.msPerCreate, 0);
    const percent = (share: number) => `${(share * 100).toFixed(0)}%`;
    return [
      {
        figure: 'facade CPU per create, split by the profile’s samples below',
        value: ms(result.basisMsPerCreate, 2),
        against: `${result.basis === 'cpu section' ? 'the CPU figure above' : 'the profiled process, /proc'}; profiled: ${thousands(result.creates)} creates, ${result.connections} callers, Graph at ${result.graphLatencyMs} ms, every ${result.samplingIntervalUs} µs (that process ${ms(result.procMsPerCreate, 2)} per create with the profiler)`,
      },
      ...shown.map((component) => ({ figure: `  ${component.component}`, value: ms(component.msPerCreate, 2), against: percent(component.share) })),
      ...(rest.length > 0 ? [{ figure: `  ${rest.length} more, each under ${ms(smallestRowMs, 2)}`, value: ms(restMs, 2), against: percent(rest.reduce((sum, component) => sum + component.share, 0)) }] : []),
    ];
  },
  goals: () => [],
});
