import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type HostProcess, type TestStack } from '../support/stack';
import { serviceBusy, startTableProxy, type TableCall, type TableProxy } from '../support/tableProxy';

/**
 * After Graph's 409, who made the entity is read from the audit table. When that read fails, an
 * earlier request of the same ask (same caller, path and body) may have made the entity with its
 * answer lost: the facade cannot tell, so the 409 is undecided (502 `createOutcomeUnknown`, with
 * `Retry-After`), never Graph's 409 passed on as another's. Found by the exactly-once simulation
 * (runs started from 1221285522, schedule 318: a plain retry of a connection create whose first
 * attempt was answered 500 after Graph made it, its open-attempts read refused).
 */

const settings = { GRAPH_DEADLINE_MS: '3000', GRAPH_ATTEMPT_TIMEOUT_MS: '800', AUDIT_TABLE_TIMEOUT_MS: '1000' };
let stack: TestStack;
let proxy: TableProxy;
let host: HostProcess;
let table: TableClient;

beforeAll(async () => {
  stack = await startTestStack(settings);
  proxy = await startTableProxy(stack.azurite);
  host = await stack.startAnotherHost({ AuditStorage: proxy.connectionString });
  table = TableClient.fromConnectionString(stack.azurite.connectionString, stack.env.AUDIT_TABLE_NAME!, { allowInsecureConnection: true });
}, 90_000);

afterAll(async () => {
  await proxy?.close();
  await stack?.stop();
});

async function recordOf(clientRequestId: string): Promise<Record<string, unknown> | undefined> {
  for await (const entity of table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `clientRequestId eq '${clientRequestId}'` } })) {
    if (entity.status !== undefined) return entity;
  }
  return undefined;
}

const isOpenAttemptsQuery = (call: TableCall) => call.method === 'GET' && call.url.includes('$filter') && call.url.includes('open_');
const isPointRead = (call: TableCall) => call.method === 'GET' && !call.url.includes('$filter');

/**
 * A member add whose attempts are all answered 500/503 after Graph added the member: its record
 * stays `unknown` (Graph has no read of a member), its attempt open.
 */
async function lostAdd(members: string, member: { id: string; type: string }, clientRequestId: string): Promise<void> {
  stack.graph.addFault({ method: 'POST', path: `${members.replace(/^\/v1\.0/, '')}$`, steps: [{ status: 500, commit: true }, ...Array.from({ length: 12 }, () => ({ status: 503, retryAfter: '0' }))] });
  const first = await stack.postTo(host.apiUrl, members, member, { 'client-request-id': clientRequestId });
  stack.graph.clearFaults();
  expect(first.status, JSON.stringify(first.body)).toBeGreaterThanOrEqual(500);
  expect(await recordOf(clientRequestId)).toMatchObject({ status: 'unknown' });
}

describe('a 409 whose maker cannot be read from the audit table is undecided, never another’s', () => {
  beforeAll(async () => {
    expect((await stack.post('/v1.0/external/connections', { id: 'unreadable', name: 'Audit unreadable' })).status).toBe(201);
    for (const group of ['open', 'records']) expect((await stack.post('/v1.0/external/connections/unreadable/groups', { id: group })).status).toBe(201);
  });

  it('the open attempts cannot be read after the 409: 502 createOutcomeUnknown with Retry-After, not Graph’s 409', async () => {
    const members = '/v1.0/external/connections/unreadable/groups/open/members';
    const member = { id: '5c1e2f30-0000-4000-8000-0000000000a1', type: 'user' };
    await lostAdd(members, member, 'unreadable-open-1');

    // The same caller asks again (a plain retry): Graph answers 409; the open attempts are refused.
    let refusedQueries = 0;
    proxy.intercept(async (call, forward) => {
      if (!isOpenAttemptsQuery(call)) return forward();
      refusedQueries += 1;
      return serviceBusy;
    });
    try {
      const retry = await stack.postTo(host.apiUrl, members, member, { 'client-request-id': 'unreadable-open-2' });
      expect(refusedQueries).toBeGreaterThan(0);
      expect({ status: retry.status, code: retry.body?.error?.code }).toEqual({ status: 502, code: 'createOutcomeUnknown' });
      expect(Number(retry.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      proxy.intercept(undefined);
    }
    // Once the table answers again, the same retry is recognised as the ask that added the member.
    const again = await stack.postTo(host.apiUrl, members, member, { 'client-request-id': 'unreadable-open-3' });
    expect({ status: again.status, recovery: again.body?.recovery ?? again.headers.get('x-facade-recovery') }).toMatchObject({ status: 201 });
  }, 60_000);

  it('the earlier attempt’s record cannot be read after the 409: 502 createOutcomeUnknown with Retry-After, not Graph’s 409', async () => {
    const members = '/v1.0/external/connections/unreadable/groups/records/members';
    const member = { id: '5c1e2f30-0000-4000-8000-0000000000a2', type: 'user' };
    await lostAdd(members, member, 'unreadable-records-1');
    const earlier = await recordOf('unreadable-records-1');

    // The open attempts are read; the earlier attempt's record is not.
    let refusedReads = 0;
    proxy.intercept(async (call, forward) => {
      if (!(isPointRead(call) && call.url.includes(String(earlier?.rowKey)))) return forward();
      refusedReads += 1;
      return serviceBusy;
    });
    try {
      const retry = await stack.postTo(host.apiUrl, members, member, { 'client-request-id': 'unreadable-records-2' });
      expect(refusedReads).toBeGreaterThan(0);
      expect({ status: retry.status, code: retry.body?.error?.code }).toEqual({ status: 502, code: 'createOutcomeUnknown' });
      expect(Number(retry.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      proxy.intercept(undefined);
    }
  }, 60_000);
});
