/**
 * CPU per create, as the kernel counts it (/proc/{pid}/stat utime + stime, every thread), read
 * before and after a fixed number of creates: the facade process (the local host included) and
 * Azurite, each on its own.
 */
import { uniqueGroup } from '../support/environment';
import { load, requireAllCreated } from '../support/load';
import { cpuMs } from '../support/proc';
import { defineSection, goal, ms, thousands, verdict } from '../support/section';

export interface CpuResult {
  creates: number;
  connections: number;
  graphLatencyMs: number;
  seconds: number;
  facadeMsPerCreate: number;
  azuriteMsPerCreate: number;
}

export const facadeCpuGoalMs = 2.0;

export const cpuSection = defineSection<CpuResult>({
  key: 'cpu',
  title: 'CPU per create (/proc)',
  async run(context) {
    const { options } = context;
    const environment = await context.environment();
    const graphLatencyMs = 0;
    const facade = await context.facade(`graph${graphLatencyMs}`, graphLatencyMs);
    const target = { url: facade.createUrl, token: environment.standIns.callerToken, body: uniqueGroup };
    await load({ ...target, connections: options.cpuConnections, durationSeconds: options.warmupSeconds });
    context.log(`cpu: ${thousands(options.cpuCreates)} creates, ${options.cpuConnections} connections`);
    const before = { facade: cpuMs(facade.pid), azurite: cpuMs(environment.azuritePid) };
    const run = requireAllCreated('facade', await load({ ...target, connections: options.cpuConnections, amount: options.cpuCreates }));
    const after = { facade: cpuMs(facade.pid), azurite: cpuMs(environment.azuritePid) };
    return {
      creates: run.requests,
      connections: options.cpuConnections,
      graphLatencyMs,
      seconds: run.seconds,
      facadeMsPerCreate: (after.facade - before.facade) / run.requests,
      azuriteMsPerCreate: (after.azurite - before.azurite) / run.requests,
    };
  },
  rows(result) {
    const met = result.facadeMsPerCreate <= facadeCpuGoalMs;
    const basis = `${thousands(result.creates)} creates, ${result.connections} callers, Graph at ${result.graphLatencyMs} ms`;
    return [
      {
        figure: 'facade process CPU per create (local host included)',
        value: ms(result.facadeMsPerCreate, 2),
        against: `Azurite ${ms(result.azuriteMsPerCreate, 2)} per create (${(result.facadeMsPerCreate / result.azuriteMsPerCreate).toFixed(2)}×); ${basis}`,
        goal: `≤ ${ms(facadeCpuGoalMs)}: ${verdict(met)}`,
        met,
      },
    ];
  },
  goals: (result) => [goal('facadeCpuPerCreate', `facade CPU per create ≤ ${facadeCpuGoalMs} ms`, result.facadeMsPerCreate, 'ms', result.facadeMsPerCreate <= facadeCpuGoalMs)],
});
