import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, startTestStack, type ApiResponse, type HostProcess, type TestStack } from '../support/stack';
import { serviceBusy, startTableProxy, type TableProxy } from '../support/tableProxy';

/**
 * A schema registration whose record cannot be written after Graph accepted the schema: it is
 * recorded and its follow-up queued, so the caller is answered 202 with the status URL, which
 * follows it to its end. It used to be answered 500 without `Retry-After` and no status URL (found
 * by the exactly-once simulation, runs started from 16016, schedule 294, once registration was in
 * its world: the table write after Graph's 202 refused).
 */

const schema = { baseType: 'microsoft.graph.externalItem', properties: [{ name: 'ticketTitle', type: 'String', isSearchable: true, isRetrievable: true, labels: ['title'] }] };
let stack: TestStack;
let proxy: TableProxy;
let host: HostProcess;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  stack = await startTestStack({ AUDIT_TABLE_TIMEOUT_MS: '1000' });
  proxy = await startTableProxy(stack.azurite);
  // A short deadline: the queued run sends the schema again once the request's time to send it is up.
  host = await stack.startAnotherHost({ AuditStorage: proxy.connectionString, AUDIT_TABLE_TIMEOUT_MS: '1000', GRAPH_DEADLINE_MS: '3000' });
  stack.graph.seedConnection('schemawrite');
}, 90_000);

afterAll(async () => {
  await proxy?.close();
  await stack?.stop();
});


it('the record cannot be written after Graph accepted the schema: 202 with the status URL, followed to succeeded', async () => {
  stack.graph.schemaRegistrations.provisioningMs = 300;
  // Every write of the registration's record after it was created (the "running" one first) is refused until the answer is in.
  let refusedWrites = 0;
  let refusing = true;
  proxy.intercept(async (call, forward) => {
    const isRecordUpdate = (call.method === 'PATCH' || call.method === 'MERGE' || call.method === 'PUT') && call.url.includes("PartitionKey='registerConnectionSchema'");
    if (!refusing || !isRecordUpdate) return forward();
    refusedWrites += 1;
    return serviceBusy;
  });
  let accepted: ApiResponse;
  try {
    accepted = await stack.postTo(host.apiUrl, '/v1.0/external/connections/schemawrite/schema', schema);
  } finally {
    refusing = false;
    proxy.intercept(undefined);
  }
  expect(refusedWrites).toBeGreaterThan(0);
  expect(stack.graph.graphRequests({ method: 'PATCH', path: /\/external\/connections\/schemawrite\/schema$/ }).length).toBeGreaterThan(0);
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  expect(Number(accepted.headers.get('retry-after'))).toBeGreaterThan(0);
  const location = accepted.headers.get('location');
  expect(location).toBeTruthy();

  // The queued follow-up looks again: the status URL ends succeeded.
  const token = await stack.token();
  let status = accepted;
  for (const deadline = Date.now() + 45_000; Date.now() < deadline; await sleep(250)) {
    status = await call(location!, { headers: { authorization: `Bearer ${token}` } });
    if (status.status !== 202) break;
  }
  expect(status.status, JSON.stringify(status.body)).toBe(200);
  expect(status.body).toMatchObject({ connectionId: 'schemawrite', status: 'succeeded' });
}, 90_000);
