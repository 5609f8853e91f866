/**
 * Bulk member adds against the ways a flow adds members without them, measured in the same run:
 * one bulk request of N members (JSON batching, audit in entity group transactions) against N
 * single adds one after another (Power Automate's default "Apply to each") and N single adds 20
 * at a time (its concurrency control at 20). The Graph emulator answers each HTTP call after
 * `latencyMs` (default 100 ms, a batch once). For each: wall time, Graph HTTP calls (a batch is
 * one) and audit table round trips (counted by a pipeline policy on the table client).
 *
 * The facade is served over HTTP by the local host in this process (so its table client can be
 * counted), each scenario with an audit table of its own; Azurite, the identity endpoint, the dev
 * token issuer and the emulator run as in the tests.
 *
 *   npm run bench:bulk [-- --members 1000 --latency 100]
 *
 * `benchBulk()` returns the figures (and the goals they meet), for a caller that collects them.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startAzurite } from '../dev/azurite';
import { startGraphEmulator } from '../dev/graphEmulator';
import { startIdentityEndpoint } from '../dev/identityEndpoint';
import { startLocalHost } from '../dev/localHost';
import { startDevTokenIssuer } from '../dev/tokenIssuer';
import { addExternalGroupMembersInBulk } from '../functions/addExternalGroupMembersInBulk';
import { createExternalGroupMember } from '../functions/createExternalGroupMember';
import type { FunctionDefinition } from '../shared/operations/registry';
import { createOperationHandler } from '../shared/pipeline/pipeline';
import { createRuntime } from '../shared/runtime';
import { tableRoundTrips } from '../test/support/tableRoundTrips';

export interface BulkBenchOptions {
  /** Members each scenario adds (default 1,000). */
  members?: number;
  /** Graph's time to answer one HTTP call, ms (default 100). */
  latencyMs?: number;
  /** Single adds in flight at once in the concurrent scenario (default 20). */
  concurrency?: number;
}

export interface ScenarioFigures {
  scenario: 'bulk' | 'sequential' | 'concurrent';
  description: string;
  members: number;
  wallMs: number;
  graphHttpCalls: number;
  tableRoundTrips: number;
  /** Members the answers say were added. */
  added: number;
}

export interface BulkBenchFigures {
  options: Required<BulkBenchOptions>;
  scenarios: ScenarioFigures[];
  /** How many times faster the bulk request was than each baseline (wall time). */
  speedup: { sequential: number; concurrent: number };
  goals: { name: string; target: string; measured: string; met: boolean }[];
}

const connection = 'benchconn';

/** The bulk issue's goals: how many times faster than each baseline, and the budgets for 1,000 members. */
export const bulkGoals = { vsSequential: 20, vsConcurrent: 3, graphCalls: 50, tableRoundTrips: 60, members: 1_000 } as const;

export async function benchBulk(given: BulkBenchOptions = {}): Promise<BulkBenchFigures> {
  const options = { members: given.members ?? 1_000, latencyMs: given.latencyMs ?? 100, concurrency: given.concurrency ?? 20 };
  const stops: (() => Promise<void>)[] = [];
  try {
    const azurite = await startAzurite();
    stops.push(azurite.stop);
    const identity = await startIdentityEndpoint();
    stops.push(identity.close);
    const tokens = await startDevTokenIssuer();
    stops.push(tokens.close);
    const graph = await startGraphEmulator({ tokenSigningKey: identity.signingKey, latencyMs: options.latencyMs, requestLogLimit: 100 });
    stops.push(graph.close);
    // The managed-identity credential reads the platform's variables itself.
    process.env.IDENTITY_ENDPOINT = identity.endpoint;
    process.env.IDENTITY_HEADER = identity.identityHeader;
    const token = await tokens.mint();

    const scenario = async (
      name: ScenarioFigures['scenario'],
      description: string,
      run: (api: string, group: string, members: { id: string; type: string }[]) => Promise<number>,
    ): Promise<ScenarioFigures> => {
      const roundTrips = tableRoundTrips();
      const runtime = createRuntime(
        {
          ...tokens.env,
          GRAPH_BASE_URL: graph.baseUrl,
          IDENTITY_ENDPOINT: identity.endpoint,
          IDENTITY_HEADER: identity.identityHeader,
          AuditStorage: azurite.connectionString,
          AUDIT_TABLE_NAME: `Bench${name}${randomUUID().slice(0, 8)}`,
        },
        { tablePolicies: [roundTrips.policy] },
      );
      const definitions: FunctionDefinition[] = [createExternalGroupMember, addExternalGroupMembersInBulk].map((operation) => ({
        kind: 'http',
        name: operation.name,
        options: { methods: ['POST'], authLevel: 'anonymous', route: operation.routes[0], handler: createOperationHandler(operation, undefined, () => runtime) },
      }));
      const host = await startLocalHost({ definitions, logHandler: () => undefined });
      try {
        const group = `${name}group`;
        graph.seedConnection(connection, [group]);
        // Warm up: the token, the table and the connections, outside the measurement.
        await runtime.graph.ensureToken();
        await runtime.audit.openAttemptsOf(createExternalGroupMember.name);
        const members = Array.from({ length: options.members }, () => ({ id: randomUUID(), type: 'user' }));
        const calls = graph.callCounts().httpCalls;
        roundTrips.reset();
        const started = performance.now();
        const added = await run(host.apiUrl, group, members);
        const wallMs = Math.round(performance.now() - started);
        return { scenario: name, description, members: options.members, wallMs, graphHttpCalls: graph.callCounts().httpCalls - calls, tableRoundTrips: roundTrips.count(), added };
      } finally {
        await host.close();
      }
    };

    const post = (url: string, body: unknown) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    const single = async (api: string, group: string, member: { id: string; type: string }) => {
      const response = await post(`${api}/v1.0/external/connections/${connection}/groups/${group}/members`, member);
      const text = await response.text();
      if (response.status !== 201 && process.env.BENCH_DEBUG) process.stderr.write(`${response.status} ${text.slice(0, 300)}\n`);
      return response.status === 201 ? 1 : 0;
    };

    const bulk = await scenario('bulk', `one bulk request of ${options.members} members`, async (api, group, members) => {
      const response = await post(`${api}/v1.0/external/connections/${connection}/groups/${group}/members/bulk`, { members });
      const body = (await response.json()) as { created?: number };
      return response.status === 200 ? (body.created ?? 0) : 0;
    });
    const sequential = await scenario('sequential', `${options.members} single adds, one after another`, async (api, group, members) => {
      let added = 0;
      for (const member of members) {
        const one = await single(api, group, member);
        added += one;
      }
      return added;
    });
    const concurrent = await scenario('concurrent', `${options.members} single adds, ${options.concurrency} at a time`, async (api, group, members) => {
      let added = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: options.concurrency }, async () => {
          while (next < members.length) {
            const one = await single(api, group, members[next++]!);
            added += one;
          }
        }),
      );
      return added;
    });

    const ratio = (baseline: ScenarioFigures) => Math.round((baseline.wallMs / bulk.wallMs) * 10) / 10;
    const speedup = { sequential: ratio(sequential), concurrent: ratio(concurrent) };
    return {
      options,
      scenarios: [bulk, sequential, concurrent],
      speedup,
      goals: [
        { name: 'bulk against one by one', target: `≥ ${bulkGoals.vsSequential}× faster`, measured: `${speedup.sequential}×`, met: speedup.sequential >= bulkGoals.vsSequential },
        { name: `bulk against ${options.concurrency} at a time`, target: `≥ ${bulkGoals.vsConcurrent}× faster`, measured: `${speedup.concurrent}×`, met: speedup.concurrent >= bulkGoals.vsConcurrent },
        { name: 'bulk Graph HTTP calls', target: `≤ ${bulkGoals.graphCalls}`, measured: String(bulk.graphHttpCalls), met: bulk.graphHttpCalls <= bulkGoals.graphCalls },
        { name: 'bulk table round trips', target: `≤ ${bulkGoals.tableRoundTrips}`, measured: String(bulk.tableRoundTrips), met: bulk.tableRoundTrips <= bulkGoals.tableRoundTrips },
      ],
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

function print(figures: BulkBenchFigures): void {
  const { options } = figures;
  process.stdout.write(`Bulk members: ${options.members} members, Graph answering in ${options.latencyMs} ms\n\n`);
  process.stdout.write('| scenario | wall time | Graph HTTP calls | table round trips | added |\n|---|---|---|---|---|\n');
  for (const scenario of figures.scenarios) {
    process.stdout.write(`| ${scenario.description} | ${(scenario.wallMs / 1000).toFixed(2)} s | ${scenario.graphHttpCalls} | ${scenario.tableRoundTrips} | ${scenario.added} |\n`);
  }
  process.stdout.write('\n| goal | target | measured | met |\n|---|---|---|---|\n');
  for (const goal of figures.goals) process.stdout.write(`| ${goal.name} | ${goal.target} | ${goal.measured} | ${goal.met ? 'yes' : 'no'} |\n`);
  process.stdout.write(`\n${JSON.stringify(figures)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: { members: { type: 'string' }, latency: { type: 'string' }, concurrency: { type: 'string' } },
    strict: true,
  });
  const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  const members = number(values.members);
  const latencyMs = number(values.latency);
  const concurrency = number(values.concurrency);
  const figures = await benchBulk({
    ...(members === undefined ? {} : { members }),
    ...(latencyMs === undefined ? {} : { latencyMs }),
    ...(concurrency === undefined ? {} : { concurrency }),
  });
  print(figures);
  process.exit(0);
}
