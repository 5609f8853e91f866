/**
 * The Graph emulator alone against the same create through the facade, side by side: each Graph
 * latency, each number of concurrent callers, the two runs back to back. The facade's added
 * latency is its p50/p99 minus the emulator's at the same callers and Graph latency.
 */
import { uniqueGroup } from '../support/environment';
import { load, requireAllCreated, type LoadFigures } from '../support/load';
import { defineSection, goal, ms, thousands, verdict, type Row } from '../support/section';

export interface LatencyRun {
  graphLatencyMs: number;
  connections: number;
  emulator: LoadFigures;
  facade: LoadFigures;
  addedP50Ms: number;
  addedP99Ms: number;
}

export interface LatencyResult {
  seconds: number;
  runs: LatencyRun[];
}

/** The issue's latency goals, by Graph latency and callers. */
const latencyGoals = [
  { id: 'addedP50OneCaller', graphLatencyMs: 0, connections: 1, percentile: 'addedP50Ms', limit: 5, text: 'added p50, one caller, Graph at 0 ms ≤ 5 ms' },
  { id: 'addedP50TenCallersSlowGraph', graphLatencyMs: 100, connections: 10, percentile: 'addedP50Ms', limit: 8, text: 'added p50, ten callers, Graph at 100 ms ≤ 8 ms' },
  { id: 'addedP99TenCallersSlowGraph', graphLatencyMs: 100, connections: 10, percentile: 'addedP99Ms', limit: 25, text: 'added p99, ten callers, Graph at 100 ms ≤ 25 ms' },
] as const;

const figures = (run: LoadFigures) => `${thousands(run.reqPerSec)} req/s, p50 ${ms(run.p50Ms)}, p99 ${ms(run.p99Ms)}`;

export const latencySection = defineSection<LatencyResult>({
  key: 'latency',
  title: 'Latency and throughput: the Graph emulator alone vs the same create through the facade',
  async run(context) {
    const { options } = context;
    const environment = await context.environment();
    const runs: LatencyRun[] = [];
    for (const graphLatencyMs of options.graphLatenciesMs) {
      const graph = environment.graph(graphLatencyMs);
      const facade = await context.facade(`graph${graphLatencyMs}`, graphLatencyMs);
      const emulatorTarget = { url: environment.graphCreateUrl(graph), token: graph.token, body: uniqueGroup };
      const facadeTarget = { url: facade.createUrl, token: environment.standIns.callerToken, body: uniqueGroup };
      // Warm-up, not measured: the JIT, the Graph token, the audit table, kept-alive connections.
      await load({ ...emulatorTarget, connections: 10, durationSeconds: options.warmupSeconds });
      await load({ ...facadeTarget, connections: 10, durationSeconds: options.warmupSeconds });
      for (const connections of options.connections) {
        context.log(`latency: Graph ${graphLatencyMs} ms, ${connections} connections`);
        const emulator = requireAllCreated('Graph emulator alone', await load({ ...emulatorTarget, connections, durationSeconds: options.loadSeconds }));
        await context.trim(facade);
        const through = requireAllCreated('facade', await load({ ...facadeTarget, connections, durationSeconds: options.loadSeconds }));
        runs.push({
          graphLatencyMs,
          connections,
          emulator,
          facade: through,
          addedP50Ms: through.p50Ms - emulator.p50Ms,
          addedP99Ms: through.p99Ms - emulator.p99Ms,
        });
      }
    }
    return { seconds: options.loadSeconds, runs };
  },
  rows(result) {
    return result.runs.map((run): Row => {
      const decided = latencyGoals.filter((candidate) => candidate.graphLatencyMs === run.graphLatencyMs && candidate.connections === run.connections);
      const met = decided.every((candidate) => run[candidate.percentile] <= candidate.limit);
      return {
        figure: `create, Graph at ${run.graphLatencyMs} ms, ${run.connections} caller${run.connections === 1 ? '' : 's'}`,
        value: `${figures(run.facade)}; added p50 +${ms(run.addedP50Ms)}, p99 +${ms(run.addedP99Ms)}`,
        against: `Graph emulator alone: ${figures(run.emulator)}`,
        ...(decided.length > 0 ? { goal: `${decided.map((candidate) => `added ${candidate.percentile === 'addedP50Ms' ? 'p50' : 'p99'} ≤ ${candidate.limit} ms`).join(', ')}: ${verdict(met)}`, met } : {}),
      };
    });
  },
  goals(result) {
    return latencyGoals.flatMap((candidate) => {
      const run = result.runs.find((entry) => entry.graphLatencyMs === candidate.graphLatencyMs && entry.connections === candidate.connections);
      if (!run) return [];
      const measured = run[candidate.percentile];
      return [goal(candidate.id, candidate.text, measured, 'ms', measured <= candidate.limit)];
    });
  },
});
