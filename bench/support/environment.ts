/**
 * What the benchmark runs against: Azurite (npm package, in memory), the stand-ins process
 * (identity endpoint, Graph emulators, dev token issuer) and facade processes, each the local
 * host serving the built bundle (`dev/start.ts dist/index.mjs`, compiled: ./compiledHost.ts) with
 * every setting given, so it starts nothing of its own. Everything started here is stopped by `stop`, also on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startAzurite, type RunningAzurite } from '../../dev/azurite';
import { startHostProcess, type HostProcess } from '../../test/support/stack';
import { compiledLocalHost } from './compiledHost';
import type { StandInGraph, StandIns } from './standIns';

export interface Facade {
  host: HostProcess;
  pid: number;
  /** Its audit table in Azurite. */
  tableName: string;
  /** The group create route of the benchmark's connection. */
  createUrl: string;
  graph: StandInGraph;
  stop(): Promise<void>;
}

export interface FacadeOptions {
  /** Loads the profiler hook (bench/support/profilerHook.mjs): SIGUSR2 starts and stops a CPU profile. */
  profileTo?: string;
  /** Another checkout of the project (built, dependencies installed) to run the facade from: the baseline of a comparison. */
  checkout?: string;
}

export interface BenchEnvironment {
  standIns: StandIns;
  standInsPid: number;
  azurite: RunningAzurite;
  azuritePid: number;
  graph(latencyMs: number): StandInGraph;
  /** The same create, straight to the emulator: the baseline. */
  graphCreateUrl(graph: StandInGraph): string;
  startFacade(latencyMs: number, options?: FacadeOptions): Promise<Facade>;
  stop(): Promise<void>;
}

/** A create body with an id never used before. */
export const uniqueGroup = (): string => JSON.stringify({ id: randomUUID(), displayName: 'Bench group' });

const profilerHook = fileURLToPath(new URL('./profilerHook.mjs', import.meta.url));

async function startStandIns(latencies: number[]): Promise<{ child: ChildProcess; standIns: StandIns }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./standIns.ts', import.meta.url)), latencies.join(',')], {
    env: { ...process.env, BENCH_STAND_INS: '1' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const standIns = await new Promise<StandIns>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the stand-ins did not start in 30 s:\n${output}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((candidate) => candidate.startsWith('{'));
      if (line && output.includes('\n', output.indexOf(line))) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as StandIns);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the stand-ins exited with ${code}:\n${output}`));
    });
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  child.stdout?.resume();
  return { child, standIns };
}

export async function startBenchEnvironment(latencies: number[]): Promise<BenchEnvironment> {
  const parts: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    await Promise.allSettled(parts.reverse().map((part) => part.stop()));
    parts.length = 0;
  };
  try {
    const { child, standIns } = await startStandIns(latencies);
    parts.push({
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      },
    });
    const azurite = await startAzurite();
    parts.push(azurite);
    if (!child.pid || !azurite.pid) throw new Error('a child process has no pid');
    const graph = (latencyMs: number) => {
      const found = standIns.graphs.find((candidate) => candidate.latencyMs === latencyMs);
      if (!found) throw new Error(`no Graph emulator answering in ${latencyMs} ms was started`);
      return found;
    };
    const groupsPath = `/v1.0/external/connections/${standIns.connectionId}/groups`;
    return {
      standIns,
      standInsPid: child.pid,
      azurite,
      azuritePid: azurite.pid,
      graph,
      graphCreateUrl: (target) => `${target.baseUrl}${groupsPath}`,
      startFacade: async (latencyMs, options = {}) => {
        const target = graph(latencyMs);
        const tableName = `Bench${randomBytes(4).toString('hex')}`;
        const host = await startHostProcess({
          ...standIns.authEnv,
          GRAPH_BASE_URL: target.baseUrl,
          IDENTITY_ENDPOINT: standIns.identity.endpoint,
          IDENTITY_HEADER: standIns.identity.identityHeader,
          AuditStorage: azurite.connectionString,
          AUDIT_TABLE_NAME: tableName,
          ...(options.profileTo ? { NODE_OPTIONS: `--import=${pathToFileURL(profilerHook).href}`, BENCH_PROFILE_FILE: options.profileTo } : {}),
        }, 30_000, 'dist/index.mjs', options.checkout, await compiledLocalHost(options.checkout ?? process.cwd()));
        parts.push(host);
        if (!host.pid) throw new Error('the facade process has no pid');
        return { host, pid: host.pid, tableName, createUrl: `${host.apiUrl}${groupsPath}`, graph: target, stop: host.stop };
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
