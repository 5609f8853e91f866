import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createExternalGroup } from '../../functions/createExternalGroup';
import { listAuditRecords } from '../../functions/listAuditRecords';
import type { AuditIntent } from '../../shared/audit/auditRecord';
import { HttpRequest, InvocationContext } from '../../shared/azureFunctions';
import type { GraphExchange } from '../../shared/graph/graphClient';
import { createOperationHandler, createQueryHandler } from '../../shared/pipeline/pipeline';
import type { Runtime } from '../../shared/runtime';
import { systemClock } from '../../shared/time/clock';

/**
 * Each request's log line says where its time went, stage by stage, as the pipeline runner
 * measured it. The clock the runner reads (`performance.now()`) is replaced by one that only moves
 * when a stand-in of the caller check, the identity, the audit store or Graph says it took time,
 * so every figure is exact: each stage's own time, never that of the stages after it.
 */

let now = 0;
const takes = (ms: number) => {
  now += ms;
};

beforeEach(() => {
  now = 1_000;
  vi.spyOn(performance, 'now').mockImplementation(() => now);
});

afterEach(() => {
  vi.restoreAllMocks();
});

interface Costs {
  auth?: number;
  token?: number;
  intent?: number;
  graph?: number;
  outcome?: number;
  query?: number;
  graphStatus?: number;
}

/** A runtime whose parts take the given time (on the fake clock) and answer as a working service would. */
function runtimeTaking(costs: Costs): Runtime {
  const runtime = {
    settings: { graphDeadlineMs: 30_000, auditTableTimeoutMs: 5_000, idempotencyRetentionHours: 24, reconcileAfterMinutes: 10 },
    clock: systemClock,
    auth: {
      mode: 'jwt',
      policy: { acceptedScopes: [], allowedClientApps: undefined },
      authenticate: async () => {
        takes(costs.auth ?? 0);
        return { kind: 'app', id: 'caller-oid', appId: 'caller-app', roles: ['ExternalGroup.Create', 'Audit.Read'], scopes: [] };
      },
    },
    graph: {
      ensureToken: async () => takes(costs.token ?? 0),
      send: async (): Promise<GraphExchange> => {
        takes(costs.graph ?? 0);
        const status = costs.graphStatus ?? 201;
        return {
          response: { status, body: status === 201 ? { id: 'g1', displayName: 'Group' } : { error: { code: 'badRequest', message: 'no' } }, requestId: 'graph-1', retryAfter: undefined },
          retries: 0,
          earlierAttemptUncertain: false,
        };
      },
    },
    audit: {
      recordIntent: async (intent: AuditIntent) => {
        takes(costs.intent ?? 0);
        return { key: { partitionKey: intent.operation, rowKey: `row_${intent.requestId}` }, etag: 'etag-1' };
      },
      settle: async () => {
        takes(costs.outcome ?? 0);
        return { own: true, others: true, index: true, extra: true };
      },
    },
  };
  return runtime as unknown as Runtime;
}

interface Logged {
  level: string;
  fields: Record<string, unknown>;
}

const invocation = (lines: Logged[]) =>
  new InvocationContext({
    invocationId: 'inv-1',
    functionName: 'createExternalGroup',
    logHandler: (level, ...args) => lines.push({ level, fields: JSON.parse(String(args[0])) as Record<string, unknown> }),
  });

async function createGroup(costs: Costs, body: unknown = { id: 'g1', displayName: 'Group' }) {
  const lines: Logged[] = [];
  const runtime = runtimeTaking(costs);
  const handler = createOperationHandler(createExternalGroup, undefined, () => runtime);
  const request = new HttpRequest({
    method: 'POST',
    url: 'http://localhost:7071/api/v1.0/external/connections/contosohr/groups',
    headers: { 'content-type': 'application/json', authorization: 'Bearer stand-in' },
    params: { version: 'v1.0', connectionId: 'contosohr' },
    body: { string: JSON.stringify(body) },
  });
  const response = await handler(request, invocation(lines));
  const line = lines.find((candidate) => candidate.fields.event === 'facade.request');
  if (!line) throw new Error(`no request line among ${JSON.stringify(lines)}`);
  return { response, fields: line.fields };
}

describe('the stage timings of the request log line', () => {
  it('splits a create into the caller check, validation, token, audit intent, Graph and audit outcome', async () => {
    const { response, fields } = await createGroup({ auth: 3, token: 7, intent: 11, graph: 40, outcome: 13 });
    expect(response.status).toBe(201);
    expect(fields).toMatchObject({
      outcome: 'created',
      authMs: 3,
      validateMs: 0,
      tokenMs: 7,
      auditIntentMs: 11,
      graphMs: 40,
      auditOutcomeMs: 13,
      totalMs: 74,
    });
  });

  it('counts each stage’s own time only: the audit trail’s write before Graph and its write after are apart', async () => {
    const { fields } = await createGroup({ intent: 5, graph: 100, outcome: 2 });
    expect(fields).toMatchObject({ auditIntentMs: 5, graphMs: 100, auditOutcomeMs: 2, totalMs: 107 });
  });

  it('records the outcome write after Graph refused too', async () => {
    const { response, fields } = await createGroup({ intent: 4, graph: 9, outcome: 6, graphStatus: 400 });
    expect(response.status).toBe(400);
    expect(fields).toMatchObject({ outcome: 'graphError', auditIntentMs: 4, graphMs: 9, auditOutcomeMs: 6, totalMs: 19 });
  });

  it('has no field for a stage the request never reached: a body refused by validation names no audit or Graph time', async () => {
    const { response, fields } = await createGroup({ auth: 2, intent: 50, graph: 50 }, { id: 'has space' });
    expect(response.status).toBe(400);
    expect(fields).toMatchObject({ outcome: 'rejected', authMs: 2, validateMs: 0, totalMs: 2 });
    for (const field of ['tokenMs', 'auditIntentMs', 'graphMs', 'auditOutcomeMs', 'idempotencyMs']) expect(fields).not.toHaveProperty(field);
  });

  it('times an audit query’s caller check, parameters and reads', async () => {
    const lines: Logged[] = [];
    const runtime = runtimeTaking({ auth: 4 });
    const answering = { ...listAuditRecords, answer: async () => (takes(25), { status: 200, jsonBody: { value: [] } }) };
    const handler = createQueryHandler(answering, () => ({ operations: [createExternalGroup] }), undefined, () => runtime);
    const request = new HttpRequest({ method: 'GET', url: 'http://localhost:7071/api/audit', headers: { authorization: 'Bearer stand-in' } });
    const response = await handler(request, invocation(lines));
    expect(response.status).toBe(200);
    expect(lines[0]!.fields).toMatchObject({ outcome: 'read', authMs: 4, validateMs: 0, queryMs: 25, totalMs: 29 });
  });
});
