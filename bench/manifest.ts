/**
 * A connector set up from a manifest against the ways a flow sets it up without one, measured in
 * the same run, Graph answering each HTTP call in `latencyMs` (100 ms) and provisioning a schema in
 * `provisioningMs` (Graph takes 5 to 15 minutes; the same wait is in every scenario):
 * - manifest: one apply (202) of one connection, its schema, `groups` groups and `members` members,
 *   polled until done;
 * - one by one: the connection, the schema (polled until registered), each group, each member;
 * - 20 at a time: the same, the groups and the members 20 at a time;
 * - bulk route: the members alone, one bulk request per group (the figure the apply's members are
 *   compared with).
 * For each: wall time, Graph HTTP calls (a batch is one) and audit table round trips.
 *
 *   npx tsx bench/manifest.ts [-- --members 2000 --groups 20 --scenarios manifest,bulkRoute]
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { InvocationContext } from '@azure/functions';
import { startAzurite } from '../dev/azurite';
import { startGraphEmulator } from '../dev/graphEmulator';
import { startIdentityEndpoint } from '../dev/identityEndpoint';
import { startLocalHost } from '../dev/localHost';
import { startQueueTriggers } from '../dev/queueTriggers';
import { startDevTokenIssuer } from '../dev/tokenIssuer';
import { addExternalGroupMembersInBulk } from '../functions/addExternalGroupMembersInBulk';
import { applyConnectorManifest, applyStages, applyStatusFunction, applyStatusStages } from '../functions/connectorManifests';
import { createConnectorGroup } from '../functions/createConnectorGroup';
import { createExternalConnection } from '../functions/createExternalConnection';
import { createExternalGroup } from '../functions/createExternalGroup';
import { createExternalGroupMember } from '../functions/createExternalGroupMember';
import { registerConnectionSchema, registerSchemaStages, schemaStatusFunction, schemaStatusStages } from '../functions/registerConnectionSchema';
import { isBulkJobMessage, runQueuedBulkJob } from '../shared/bulk/job';
import { isConnectorJobMessage, runConnectorJob } from '../shared/manifest/connectorJobs';
import { bulkOperationDefinitions } from '../shared/operations/registerOperation';
import type { FunctionDefinition } from '../shared/operations/registry';
import { createHandler, createOperationHandler } from '../shared/pipeline/pipeline';
import { createRuntime, type Runtime } from '../shared/runtime';
import { asyncWorkQueueName } from '../shared/storage/queue';
import { tableRoundTrips } from '../test/support/tableRoundTrips';

export interface ManifestBenchOptions {
  members?: number;
  groups?: number;
  latencyMs?: number;
  provisioningMs?: number;
  concurrency?: number;
  /** Only these scenarios (all four by default); the ratios need the manifest and its baselines. */
  scenarios?: readonly ManifestScenario['scenario'][];
}

export interface ManifestScenario {
  scenario: 'manifest' | 'sequential' | 'concurrent' | 'bulkRoute';
  description: string;
  wallMs: number;
  graphHttpCalls: number;
  tableRoundTrips: number;
  /** Entities the answers say were created. */
  created: number;
}

export interface ManifestBenchFigures {
  options: Required<Omit<ManifestBenchOptions, 'scenarios'>>;
  scenarios: ManifestScenario[];
  speedup: { sequential: number; concurrent: number };
  /** The apply's wall time over the bulk route's for the same members (the goal: at most 1.5). */
  vsBulkRoute: number;
}

/** The goals: ≥ 20× one by one; within 1.5× of the bulk route's time for the same members. */
export const manifestGoals = { vsSequential: 20, vsBulkRoute: 1.5, members: 2_000, groups: 20 } as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function benchManifest(given: ManifestBenchOptions = {}): Promise<ManifestBenchFigures> {
  const options = {
    members: given.members ?? manifestGoals.members,
    groups: given.groups ?? manifestGoals.groups,
    latencyMs: given.latencyMs ?? 100,
    provisioningMs: given.provisioningMs ?? 2_000,
    concurrency: given.concurrency ?? 20,
  };
  const stops: (() => Promise<void>)[] = [];
  try {
    const azurite = await startAzurite();
    stops.push(azurite.stop);
    const identity = await startIdentityEndpoint();
    stops.push(identity.close);
    const tokens = await startDevTokenIssuer();
    stops.push(tokens.close);
    const graph = await startGraphEmulator({ tokenSigningKey: identity.signingKey, latencyMs: options.latencyMs, requestLogLimit: 100, schemaProvisioningMs: options.provisioningMs });
    stops.push(graph.close);
    process.env.IDENTITY_ENDPOINT = identity.endpoint;
    process.env.IDENTITY_HEADER = identity.identityHeader;
    const token = await tokens.mint();
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${token}` };

    const scenario = async (name: ManifestScenario['scenario'], description: string, run: (api: string, tag: string) => Promise<number>): Promise<ManifestScenario> => {
      if (given.scenarios && !given.scenarios.includes(name)) return { scenario: name, description: `${description} (not run)`, wallMs: Number.NaN, graphHttpCalls: 0, tableRoundTrips: 0, created: 0 };
      const roundTrips = tableRoundTrips();
      const env = {
        ...tokens.env,
        GRAPH_BASE_URL: graph.baseUrl,
        IDENTITY_ENDPOINT: identity.endpoint,
        IDENTITY_HEADER: identity.identityHeader,
        AuditStorage: azurite.connectionString,
        AUDIT_TABLE_NAME: `Bench${name}${randomUUID().slice(0, 8)}`,
        LOCAL_QUEUE_LEASE_SECONDS: '30',
      };
      const runtime: Runtime = createRuntime(env, { tablePolicies: [roundTrips.policy] });
      const http = (name: string, route: string, methods: ('POST' | 'GET' | 'PATCH')[], handler: ReturnType<typeof createHandler>): FunctionDefinition => ({ kind: 'http', name, options: { methods, authLevel: 'anonymous', route, handler } });
      const of = () => runtime;
      const definitions: FunctionDefinition[] = [
        ...[createExternalConnection, createExternalGroup, createExternalGroupMember, createConnectorGroup, addExternalGroupMembersInBulk].map((operation) =>
          http(operation.name, operation.routes[0], ['POST'], createOperationHandler(operation, undefined, of))),
        http(registerConnectionSchema.name, registerConnectionSchema.routes[0], ['POST'], createHandler(registerConnectionSchema, registerSchemaStages, of)),
        http(schemaStatusFunction.name, 'schemaRegistrations/{id}', ['GET'], createHandler(schemaStatusFunction, schemaStatusStages, of)),
        http(applyConnectorManifest.name, applyConnectorManifest.routes[0], ['POST'], createHandler(applyConnectorManifest, applyStages, of)),
        http(applyStatusFunction.name, 'connectorManifestApplies/{id}', ['GET'], createHandler(applyStatusFunction, applyStatusStages, of)),
      ];
      const queueDefinition: FunctionDefinition = {
        kind: 'queue',
        name: 'benchRunJob',
        options: {
          queueName: asyncWorkQueueName,
          connection: 'AuditStorage',
          handler: async (message: unknown, context: InvocationContext) => {
            const log = () => undefined;
            const runId = `bench/${context.invocationId}`;
            if (isConnectorJobMessage(message)) await runConnectorJob(runtime, message, runId, context, log);
            else if (isBulkJobMessage(message)) await runQueuedBulkJob(runtime, bulkOperationDefinitions, message, runId, log);
          },
        },
      };
      const host = await startLocalHost({ definitions, logHandler: () => undefined });
      const queues = await startQueueTriggers({ definitions: [queueDefinition], env, logHandler: () => undefined });
      try {
        await runtime.graph.ensureToken();
        await runtime.audit.openAttemptsOf(createExternalGroupMember.name);
        const calls = graph.callCounts().httpCalls;
        roundTrips.reset();
        const started = performance.now();
        const created = await run(host.apiUrl, name);
        const wallMs = Math.round(performance.now() - started);
        return { scenario: name, description, wallMs, graphHttpCalls: graph.callCounts().httpCalls - calls, tableRoundTrips: roundTrips.count(), created };
      } finally {
        await queues.close();
        await host.close();
      }
    };

    const post = async (url: string, body: unknown) => {
      const response = await fetch(url, { method: 'POST', headers: auth, body: JSON.stringify(body) });
      return { status: response.status, location: response.headers.get('location'), body: (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined };
    };
    const pollUntilDone = async (location: string) => {
      for (;;) {
        const response = await fetch(location, { headers: auth });
        const body = (await response.json()) as Record<string, unknown>;
        if (response.status !== 202 && response.status !== 503) return body;
        await sleep(200);
      }
    };
    const manifestOf = (tag: string) => {
      const perGroup = Math.ceil(options.members / options.groups);
      return {
        connection: { id: `bench${tag}`.slice(0, 32), name: `Bench ${tag}` },
        schema: { baseType: 'microsoft.graph.externalItem', properties: [{ name: 'title', type: 'String', isSearchable: true, isRetrievable: true, labels: ['title'] }] },
        groups: Array.from({ length: options.groups }, (_, group) => ({
          id: `g${group}`,
          displayName: `Group ${group}`,
          members: Array.from({ length: Math.min(perGroup, options.members - group * perGroup) }, () => ({ id: randomUUID(), type: 'user' })),
        })).filter((group) => group.members.length > 0),
      };
    };
    const inParallel = async <T>(items: readonly T[], limit: number, work: (item: T) => Promise<number>) => {
      let next = 0;
      let total = 0;
      await Promise.all(Array.from({ length: limit }, async () => {
        while (next < items.length) {
          const done = await work(items[next++]!);
          total += done;
        }
      }));
      return total;
    };
    /** The connection and its schema (polled until registered), as a flow does it before the groups. */
    const setUp = async (api: string, manifest: ReturnType<typeof manifestOf>) => {
      const connection = await post(`${api}/v1.0/external/connections`, manifest.connection);
      const schema = await post(`${api}/v1.0/external/connections/${manifest.connection.id}/schema`, manifest.schema);
      const registered = schema.location ? await pollUntilDone(schema.location) : {};
      return (connection.status === 201 ? 1 : 0) + (registered.status === 'succeeded' ? 1 : 0);
    };
    const members = (manifest: ReturnType<typeof manifestOf>) => manifest.groups.flatMap((group) => group.members.map((member) => ({ group: group.id, member })));
    const addMember = async (api: string, connectionId: string, { group, member }: { group: string; member: { id: string; type: string } }) =>
      (await post(`${api}/v1.0/external/connections/${connectionId}/groups/${group}/members`, member)).status === 201 ? 1 : 0;
    const addGroup = async (api: string, connectionId: string, group: { id: string; displayName: string }) =>
      (await post(`${api}/v1.0/external/connections/${connectionId}/groups`, { id: group.id, displayName: group.displayName })).status === 201 ? 1 : 0;

    const manifestRun = await scenario('manifest', `one apply of 1 connection, its schema, ${options.groups} groups and ${options.members} members`, async (api, tag) => {
      const accepted = await post(`${api}/v1.0/external/connectorManifests/apply`, manifestOf(tag));
      const done = accepted.status === 202 && accepted.location ? await pollUntilDone(accepted.location) : accepted.body ?? {};
      return Number((done.counts as { created?: number } | undefined)?.created ?? 0);
    });
    const sequential = await scenario('sequential', 'the same through the single routes, one by one', async (api, tag) => {
      const manifest = manifestOf(tag);
      let created = await setUp(api, manifest);
      for (const group of manifest.groups) created += await addGroup(api, manifest.connection.id, group);
      for (const member of members(manifest)) created += await addMember(api, manifest.connection.id, member);
      return created;
    });
    const concurrent = await scenario('concurrent', `the same through the single routes, ${options.concurrency} at a time`, async (api, tag) => {
      const manifest = manifestOf(tag);
      let created = await setUp(api, manifest);
      created += await inParallel(manifest.groups, options.concurrency, (group) => addGroup(api, manifest.connection.id, group));
      created += await inParallel(members(manifest), options.concurrency, (member) => addMember(api, manifest.connection.id, member));
      return created;
    });
    // The bulk route's time for the same members: the connection and groups are made first, outside the measurement.
    const bulkRoute = await (async () => {
      const tag = 'bulkroute';
      const manifest = manifestOf(tag);
      graph.seedConnection(manifest.connection.id, manifest.groups.map((group) => group.id));
      return scenario('bulkRoute', `the same ${options.members} members through the bulk route, a request per group`, async (api) => {
        let created = 0;
        for (const group of manifest.groups) {
          const answer = await post(`${api}/v1.0/external/connections/${manifest.connection.id}/groups/${group.id}/members/bulk`, { members: group.members });
          const body = answer.status === 202 && answer.location ? await pollUntilDone(answer.location) : answer.body ?? {};
          created += Number(body.created ?? 0);
        }
        return created;
      });
    })();

    const ratio = (baseline: ManifestScenario) => Math.round((baseline.wallMs / manifestRun.wallMs) * 10) / 10;
    return {
      options,
      scenarios: [manifestRun, sequential, concurrent, bulkRoute],
      speedup: { sequential: ratio(sequential), concurrent: ratio(concurrent) },
      vsBulkRoute: Math.round((manifestRun.wallMs / bulkRoute.wallMs) * 100) / 100,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { members: { type: 'string' }, groups: { type: 'string' }, latency: { type: 'string' }, provisioning: { type: 'string' }, scenarios: { type: 'string' } }, strict: true });
  const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  const figures = await benchManifest({
    ...(number(values.members) === undefined ? {} : { members: number(values.members)! }),
    ...(number(values.groups) === undefined ? {} : { groups: number(values.groups)! }),
    ...(number(values.latency) === undefined ? {} : { latencyMs: number(values.latency)! }),
    ...(number(values.provisioning) === undefined ? {} : { provisioningMs: number(values.provisioning)! }),
    ...(values.scenarios ? { scenarios: values.scenarios.split(',') as ManifestScenario['scenario'][] } : {}),
  });
  process.stdout.write('| scenario | wall time | Graph HTTP calls | table round trips | created |\n|---|---|---|---|---|\n');
  for (const scenario of figures.scenarios) process.stdout.write(`| ${scenario.description} | ${(scenario.wallMs / 1000).toFixed(2)} s | ${scenario.graphHttpCalls} | ${scenario.tableRoundTrips} | ${scenario.created} |\n`);
  process.stdout.write(`\n${JSON.stringify({ speedup: figures.speedup, vsBulkRoute: figures.vsBulkRoute })}\n`);
  process.exit(0);
}
