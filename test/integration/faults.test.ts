import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { reconcileNow, startTestStack, type TestStack } from '../support/stack';

/**
 * The fault matrix of docs/integrating.md ("Failure behaviour"): each row one test, against the local host
 * process, Azurite and the Graph emulator with injected faults. The deadline is short so the rows stay quick.
 */

const deadlineMs = 6_000;
let stack: TestStack;

beforeAll(async () => {
  // Pages of two connector groups, so finding a lost one has to follow @odata.nextLink. The host logs
  // each request (kept in memory, shown by a failing expectation).
  stack = await startTestStack({ GRAPH_DEADLINE_MS: String(deadlineMs), GRAPH_ATTEMPT_TIMEOUT_MS: '2500', LOCAL_HOST_QUIET: '0' }, { graphPageSize: 2 });
  expect((await stack.post('/v1.0/external/connections', { id: 'faults', name: 'Fault matrix' })).status).toBe(201);
});

afterAll(async () => {
  await stack?.stop();
});

beforeEach(() => {
  stack.graph.clearFaults();
  stack.auditProxy.restore();
  stack.identity.setFault(undefined);
});

const groupsPath = '/v1.0/external/connections/faults/groups';
const groupPosts = () => stack.graph.graphRequests({ method: 'POST', path: /\/connections\/faults\/groups$/ });
const connectorGroupsPath = '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups';

async function auditRecordOf(operation: string, clientRequestId: string) {
  const records = await stack.audit.listByOperation(operation, new Date(Date.now() - 600_000), new Date(Date.now() + 60_000));
  return records.find((record) => record.clientRequestId === clientRequestId);
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = Date.now();
  const result = await work();
  return [result, Date.now() - started];
}

const runReconcile = () => reconcileNow(stack, {}, 30_000);

describe('Graph throttling and transient failures', () => {
  it('429 once with Retry-After: 1 → 201 after 2 Graph calls', async () => {
    stack.graph.addFault({ method: 'POST', path: 'connections/faults/groups$', steps: [{ status: 429, retryAfter: '1' }] });
    const before = groupPosts().length;
    const [response, elapsed] = await timed(() => stack.post(groupsPath, { id: 'throttled1' }, { 'client-request-id': 'row-429-once' }));
    expect(response.status).toBe(201);
    expect(groupPosts().length - before).toBe(2);
    expect(groupPosts().at(-1)?.headers['retry-attempt']).toBe('1');
    expect(elapsed).toBeGreaterThanOrEqual(1_000);
    expect(await auditRecordOf('createExternalGroup', 'row-429-once')).toMatchObject({ status: 'succeeded', retries: 1 });
  });

  it('429 with Retry-After beyond the deadline → 429 at once, with Retry-After', async () => {
    stack.graph.addFault({ method: 'POST', path: 'connections/faults/groups$', steps: [{ status: 429, retryAfter: '120' }] });
    const [response, elapsed] = await timed(() => stack.post(groupsPath, { id: 'throttled2' }));
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('120');
    expect(response.body.error.code).toBe('TooManyRequests');
    // No wait for Graph's 120 s: answered as soon as Graph said it (2 s leaves room for a busy machine).
    expect(elapsed).toBeLessThan(2_000);
  });

  it('503 twice then 201', async () => {
    stack.graph.addFault({ method: 'POST', path: 'connections/faults/groups$', steps: [{ status: 503 }, { status: 503 }] });
    const before = groupPosts().length;
    const response = await stack.post(groupsPath, { id: 'unavailable2' });
    expect(response.status).toBe(201);
    expect(groupPosts().length - before).toBe(3);
  });

  it('503 forever → 503 within the deadline, audit unknown, then reconciled as failed', async () => {
    stack.graph.addFault({ method: 'POST', path: 'connections/faults/groups$', steps: Array(10).fill({ status: 503 }) });
    const [response, elapsed] = await timed(() => stack.post(groupsPath, { id: 'down1' }, { 'client-request-id': 'row-503-forever' }));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(elapsed).toBeLessThan(deadlineMs);
    // A 503 may hide a create Graph made (docs/graph-facts.md §1): not "failed" until Graph has been asked.
    expect(await auditRecordOf('createExternalGroup', 'row-503-forever')).toMatchObject({ status: 'unknown', httpStatus: 503 });
    await runReconcile();
    expect(await auditRecordOf('createExternalGroup', 'row-503-forever')).toMatchObject({
      status: 'failed',
      errorCode: 'notCreated',
      recovery: 'reconciliation',
    });
  });

  it('a last 503 that did create the group → 503 and audit unknown; the caller’s plain retry gets 201', async () => {
    const busy = { status: 503, retryAfter: '0.1' };
    stack.graph.addFault({ method: 'POST', path: 'connections/faults/groups$', steps: [busy, busy, busy, { ...busy, commit: true }] });
    const first = await stack.post(groupsPath, { id: 'lastcreated' }, { 'client-request-id': 'row-last-503' });
    expect(first.status).toBe(503);
    expect(await auditRecordOf('createExternalGroup', 'row-last-503')).toMatchObject({ status: 'unknown' });
    // No Idempotency-Key: the audit record of the lost attempt is what lets the 409 be recognised.
    const retry = await stack.post(groupsPath, { id: 'lastcreated' }, { 'client-request-id': 'row-last-503-retry' });
    expect(retry.status, JSON.stringify(retry.body)).toBe(201);
    expect(retry.body).toMatchObject({ id: 'lastcreated' });
    // The retry answers with what the earlier request made; that record is settled by the retry.
    const first503 = await auditRecordOf('createExternalGroup', 'row-last-503');
    expect(await auditRecordOf('createExternalGroup', 'row-last-503-retry')).toMatchObject({ status: 'succeeded', recovery: 'earlierAttempt', madeBy: first503?.rowKey });
    expect(first503).toMatchObject({ status: 'succeeded', recovery: 'laterRequest' });
  });

  it('a hung Graph → Graph-shaped 504 within the deadline', async () => {
    stack.graph.addFault({ method: 'POST', path: 'connections/faults/groups$', steps: Array(10).fill({ hang: true }) });
    const [response, elapsed] = await timed(() => stack.post(groupsPath, { id: 'hung1' }, { 'client-request-id': 'row-hang' }));
    expect(response.status).toBe(504);
    expect(response.body.error).toMatchObject({ code: 'gatewayTimeout' });
    expect(elapsed).toBeLessThan(deadlineMs);
    expect(await auditRecordOf('createExternalGroup', 'row-hang')).toMatchObject({ status: 'unknown', httpStatus: 504 });
  });
});

describe('no duplicates when an answer is lost', () => {
  it('connection reset after the group was created → recovered 201, one entity in Graph', async () => {
    stack.graph.addFault({ method: 'POST', path: 'connections/faults/groups$', steps: [{ commit: true, reset: true }] });
    const groupsBefore = stack.graph.entityCounts().groups;
    const response = await stack.post(groupsPath, { id: 'resetgroup', displayName: 'Reset' }, { 'client-request-id': 'row-reset' });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ id: 'resetgroup', displayName: 'Reset' });
    expect(stack.graph.entityCounts().groups).toBe((groupsBefore ?? 0) + 1);
    expect(await auditRecordOf('createExternalGroup', 'row-reset')).toMatchObject({ status: 'succeeded', recovery: 'readBack' });
  });

  it('503 that created the connection, then 409 → recovered 201', async () => {
    stack.graph.addFault({ method: 'POST', path: '/external/connections$', steps: [{ commit: true, status: 503 }] });
    const response = await stack.post('/v1.0/external/connections', { id: 'ghostconn', name: 'Ghost' }, { 'client-request-id': 'row-503-409' });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ id: 'ghostconn', state: 'draft' });
    expect(await auditRecordOf('createExternalConnection', 'row-503-409')).toMatchObject({ status: 'succeeded', recovery: 'readBack' });
  });

  it('a member whose answer was lost → 201 from the retry’s 409 (Graph has no read of one member)', async () => {
    await stack.post(groupsPath, { id: 'withmembers' });
    const membersPath = `${groupsPath}/withmembers/members`;
    stack.graph.addFault({ method: 'POST', path: 'withmembers/members$', steps: [{ commit: true, reset: true }] });
    const member = { id: 'e811976d-83df-4cbd-8b9b-5215b18aa874', type: 'user' };
    const response = await stack.post(membersPath, member, { 'client-request-id': 'row-member-reset' });
    expect(response.status).toBe(201);
    expect(response.body).toEqual(member);
    expect(stack.graph.entityCounts().members).toBeGreaterThanOrEqual(1);
    expect(await auditRecordOf('createExternalGroupMember', 'row-member-reset')).toMatchObject({
      status: 'succeeded',
      recovery: 'createConflict',
    });
  });

  it('a 409 for a member added earlier by someone else stays a 409', async () => {
    const membersPath = `${groupsPath}/withmembers/members`;
    const member = { id: '9b1c4f5e-0000-4000-8000-00000000beef', type: 'group' };
    expect((await stack.post(membersPath, member)).status).toBe(201);
    expect((await stack.post(membersPath, member)).status).toBe(409);
  });

  it('a 409 for someone else’s connection stays a 409', async () => {
    await stack.post('/v1.0/external/connections', { id: 'othersconn', name: 'Theirs' });
    stack.graph.addFault({ method: 'POST', path: '/external/connections$', steps: [{ status: 503 }] });
    const response = await stack.post('/v1.0/external/connections', { id: 'othersconn', name: 'Mine' });
    // The host's own log lines say why, should it answer anything else.
    expect(response.status, `${JSON.stringify(response.body)}\n${stack.host.output().slice(-4000)}`).toBe(409);
  });

  it('timeout on a connector group create → no second POST, audit unknown, then reconciled', async () => {
    // Groups of the same name made elsewhere, before and after: reconciliation must pick ours alone.
    const before = [stack.graph.seedConnectorGroup('Lost answer group'), stack.graph.seedConnectorGroup('Other group')];
    stack.graph.addFault({ method: 'POST', path: 'connectorGroups$', steps: [{ commit: true, hang: true }] });
    const posts = () => stack.graph.graphRequests({ method: 'POST', path: /connectorGroups$/ }).length;
    const postsBefore = posts();
    const response = await stack.post(connectorGroupsPath, { name: 'Lost answer group' }, { 'client-request-id': 'row-cg-timeout' });
    expect(response.status).toBe(504);
    expect(response.body.error.code).toBe('createOutcomeUnknown');
    expect(posts() - postsBefore).toBe(1);
    expect(await auditRecordOf('createConnectorGroup', 'row-cg-timeout')).toMatchObject({
      status: 'unknown',
      preexistingIds: JSON.stringify([before[0]]),
    });
    stack.graph.seedConnectorGroup('Another one');

    const summary = await runReconcile();
    expect(summary.settled.orphaned).toBeGreaterThanOrEqual(1);
    const ours = stack.graph.connectorGroups().filter((group) => group.name === 'Lost answer group' && group.id !== before[0]);
    expect(ours).toHaveLength(1);
    expect(await auditRecordOf('createConnectorGroup', 'row-cg-timeout')).toMatchObject({
      status: 'orphaned',
      entityId: ours[0]?.id,
      recovery: 'reconciliation',
    });
  });

  it('503 on a connector group create is not re-sent', async () => {
    stack.graph.addFault({ method: 'POST', path: 'connectorGroups$', steps: [{ status: 503 }] });
    const posts = () => stack.graph.graphRequests({ method: 'POST', path: /connectorGroups$/ }).length;
    const before = posts();
    const response = await stack.post(connectorGroupsPath, { name: 'Unsure group' });
    expect(response.status).toBe(502);
    expect(response.body.error.code).toBe('createOutcomeUnknown');
    expect(posts() - before).toBe(1);
  });

  it('429 on a connector group create is retried: Graph did nothing', async () => {
    stack.graph.addFault({ method: 'POST', path: 'connectorGroups$', steps: [{ status: 429, retryAfter: '0.2' }] });
    const response = await stack.post(connectorGroupsPath, { name: 'Throttled group' });
    expect(response.status).toBe(201);
  });
});

describe('dependencies down', () => {
  it('identity endpoint down → 503 with Retry-After, no Graph call, no audit record', async () => {
    stack.identity.setFault({ kind: 'down' });
    // A new instance: its token cache is cold.
    const coldHost = await stack.startAnotherHost({ LOCAL_HOST_QUIET: '1' });
    const graphCallsBefore = stack.graph.graphRequests().length;
    const response = await stack.postTo(coldHost.apiUrl, groupsPath, { id: 'noidentity' }, { 'client-request-id': 'row-identity-down' });
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('managedIdentityUnavailable');
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(stack.graph.graphRequests().length).toBe(graphCallsBefore);
    expect(await auditRecordOf('createExternalGroup', 'row-identity-down')).toBeUndefined();
    await coldHost.stop();
  });

  it('audit store unreachable → 503 with Retry-After, no Graph call', async () => {
    stack.auditProxy.cut();
    const graphCallsBefore = stack.graph.graphRequests().length;
    const response = await stack.post(groupsPath, { id: 'noaudit' });
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('auditStoreUnavailable');
    expect(response.headers.get('retry-after')).toBe('10');
    expect(stack.graph.graphRequests().length).toBe(graphCallsBefore);
  });

  it('audit store that hangs → 503 with Retry-After in bounded time, no Graph call', async () => {
    stack.auditProxy.blackhole();
    const graphCallsBefore = stack.graph.graphRequests().length;
    const [response, elapsed] = await timed(() => stack.post(groupsPath, { id: 'hangingaudit' }));
    stack.auditProxy.restore();
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('auditStoreUnavailable');
    expect(elapsed).toBeLessThan(deadlineMs + 2_000);
    expect(stack.graph.graphRequests().length).toBe(graphCallsBefore);
  });

  it('audit store lost after the pending write → 201 all the same, record reconciled later', async () => {
    stack.graph.addFault({ method: 'POST', path: 'connections/faults/groups$', steps: [{ delayMs: 1_500 }] });
    const answer = stack.post(groupsPath, { id: 'auditlost' }, { 'client-request-id': 'row-audit-lost' });
    await expect.poll(() => auditRecordOf('createExternalGroup', 'row-audit-lost'), { timeout: 5_000, interval: 50 }).toMatchObject({
      status: 'pending',
    });
    stack.auditProxy.cut();
    const response = await answer;
    expect(response.status).toBe(201);
    stack.auditProxy.restore();
    expect(await auditRecordOf('createExternalGroup', 'row-audit-lost')).toMatchObject({ status: 'pending' });

    await runReconcile();
    expect(await auditRecordOf('createExternalGroup', 'row-audit-lost')).toMatchObject({
      status: 'succeeded',
      entityId: 'auditlost',
      recovery: 'reconciliation',
    });
  });
});
