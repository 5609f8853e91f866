/**
 * The local host's own cost per request: CPU (/proc) of a process serving one trivial function
 * through dev/localHost.ts, against plain node:http answering the same request, in alternating
 * rounds (bench/support/localHostProbe.ts). With `--baseline-checkout`, that checkout's local host
 * is measured in the same rounds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { uniqueGroup } from '../support/environment';
import { load, requireAllCreated } from '../support/load';
import { cpuMs } from '../support/proc';
import { defineSection, thousands } from '../support/section';

export interface LocalHostResult {
  requests: number;
  connections: number;
  /** CPU per request, µs. */
  localHostUs: number;
  bareUs: number;
  baseline?: { commit: string; localHostUs: number };
}

const probe = fileURLToPath(new URL('../support/localHostProbe.ts', import.meta.url));
const rounds = 4;

interface Probe {
  child: ChildProcess;
  url: string;
  pid: number;
}

async function startProbe(mode: 'localHost' | 'bare', checkout?: string): Promise<Probe> {
  const child = spawn(process.execPath, ['--import', 'tsx', probe, mode, ...(checkout ? [checkout] : [])], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((candidate) => candidate.startsWith('http'));
      if (line) resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`the ${mode} probe exited with ${code}`)));
  });
  if (!child.pid) throw new Error('the probe has no pid');
  return { child, url, pid: child.pid };
}

export const localHostSection = defineSection<LocalHostResult>({
  key: 'localHost',
  title: 'Local host overhead per request (one trivial function, against plain node:http)',
  async run(context) {
    const { options } = context;
    const probes: Probe[] = [];
    try {
      probes.push(await startProbe('localHost'), await startProbe('bare'));
      if (options.baselineCheckout) probes.push(await startProbe('localHost', options.baselineCheckout));
      const requests = Math.max(1_000, options.cpuCreates);
      const perRound = Math.ceil(requests / rounds);
      const connections = 10;
      for (const target of probes) await load({ url: target.url, token: 'none', body: uniqueGroup, connections, durationSeconds: options.warmupSeconds });
      context.log(`local host: ${thousands(requests)} requests per side in ${rounds} rounds`);
      const tallies = probes.map(() => ({ ms: 0, requests: 0 }));
      for (let round = 0; round < rounds; round += 1) {
        for (const [index, target] of probes.entries()) {
          const before = cpuMs(target.pid);
          const run = requireAllCreated('probe', await load({ url: target.url, token: 'none', body: uniqueGroup, connections, amount: perRound }));
          tallies[index]!.ms += cpuMs(target.pid) - before;
          tallies[index]!.requests += run.requests;
        }
      }
      const us = (index: number) => (tallies[index]!.ms * 1000) / tallies[index]!.requests;
      return {
        requests: tallies[0]!.requests,
        connections,
        localHostUs: us(0),
        bareUs: us(1),
        ...(options.baselineCheckout
          ? { baseline: { commit: execFileSync('git', ['rev-parse', 'HEAD'], { cwd: options.baselineCheckout, encoding: 'utf8' }).trim(), localHostUs: us(2) } }
          : {}),
      };
    } finally {
      for (const { child } of probes) child.kill('SIGTERM');
    }
  },
  rows: (result) => [
    {
      figure: 'local host CPU per request (route, HttpRequest/InvocationContext, response)',
      value: `${Math.round(result.localHostUs)} µs, ${Math.round(result.localHostUs - result.bareUs)} µs over plain node:http`,
      against: `plain node:http ${Math.round(result.bareUs)} µs; ${thousands(result.requests)} requests, ${result.connections} callers${
        result.baseline ? `; baseline ${result.baseline.commit.slice(0, 12)}: ${Math.round(result.baseline.localHostUs)} µs` : ''
      }`,
    },
  ],
  goals: () => [],
});
