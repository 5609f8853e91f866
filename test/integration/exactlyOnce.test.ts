import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { reconcileNow, startTestStack, type TestStack } from '../support/stack';

/**
 * Regression tests for the four lost-answer defects, each reproduced end to end over real HTTP
 * (the local host as a process, Azurite, the Graph emulator), kept so they stay fixed:
 * 1. reconciliation sent member creates, making memberships Graph never had;
 * 2. an Idempotency-Key did not stop a second connector group once the first attempt's process died;
 * 3. a real 409 became a 201 for another caller, or for the same group in another connection;
 * 4. an answer that is not HTTP after Graph carried the create out was recorded as failed.
 * The whole class is hunted by the fault simulation (exactlyOnce.simulation.test.ts).
 */

// A short deadline and table timeout, so an Idempotency-Key lease (deadline + 3 × table timeout + 2 s) is 8 s.
const settings = { GRAPH_DEADLINE_MS: '3000', GRAPH_ATTEMPT_TIMEOUT_MS: '800', AUDIT_TABLE_TIMEOUT_MS: '1000' };
let stack: TestStack;
let table: TableClient;

beforeAll(async () => {
  stack = await startTestStack(settings);
  table = TableClient.fromConnectionString(stack.azurite.connectionString, stack.env.AUDIT_TABLE_NAME!, { allowInsecureConnection: true });
  expect((await stack.post('/v1.0/external/connections', { id: 'lost', name: 'Lost answers' })).status).toBe(201);
  expect((await stack.post('/v1.0/external/connections', { id: 'other', name: 'Another connection' })).status).toBe(201);
  expect((await stack.post('/v1.0/external/connections/lost/groups', { id: 'team' })).status).toBe(201);
});

afterAll(async () => {
  await stack?.stop();
});

beforeEach(() => {
  stack.graph.clearFaults();
});

/** A request's audit record, found by its client-request-id. */
async function recordOf(clientRequestId: string): Promise<Record<string, unknown> | undefined> {
  for await (const entity of table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `clientRequestId eq '${clientRequestId}'` } })) {
    if (entity.status !== undefined) return entity;
  }
  return undefined;
}

const reconcile = () => reconcileNow(stack);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('defect 1: reconciliation never writes to Graph', () => {
  const membersPath = '/v1.0/external/connections/lost/groups/team/members';
  const member = { id: '7d3c9a41-0000-4000-8000-000000000001', type: 'user' };

  it('leaves a member add Graph answered 504 to unknown, sends nothing, and a later request of the caller settles it', async () => {
    stack.graph.addFault({ method: 'POST', path: '/team/members$', steps: Array(8).fill({ status: 504 }) });
    const lost = await stack.post(membersPath, member, { 'client-request-id': 'defect1-lost' });
    expect(lost.status).toBe(504);
    expect(lost.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await recordOf('defect1-lost')).toMatchObject({ status: 'unknown' });

    stack.graph.clearFaults();
    const postsBefore = stack.graph.graphRequests({ method: 'POST' }).length;
    const membersBefore = stack.graph.entityCounts().members;
    await reconcile();
    // Reconciliation only reads: Graph received no create, and no membership appeared.
    expect(stack.graph.graphRequests({ method: 'POST' }).length).toBe(postsBefore);
    expect(stack.graph.entityCounts().members).toBe(membersBefore);
    const stillOpen = await recordOf('defect1-lost');
    expect(stillOpen).toMatchObject({ status: 'unknown' });
    expect(String(stillOpen?.reason)).toMatch(/no read/);

    // The caller asks again: Graph adds the member now, which proves the first add made nothing.
    expect((await stack.post(membersPath, member, { 'client-request-id': 'defect1-again' })).status).toBe(201);
    const settled = await recordOf('defect1-lost');
    expect(settled).toMatchObject({ status: 'failed', errorCode: 'notCreated', recovery: 'laterRequest' });
    expect(settled?.settledBy).toBe((await recordOf('defect1-again'))?.rowKey);
  });
});

describe('defect 2: one connector group per Idempotency-Key, also when the first attempt’s process dies', () => {
  const path = '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups';
  const creates = () => stack.graph.graphRequests({ method: 'POST', path: /connectorGroups$/ }).length;
  const groupsNamed = (name: string) => stack.graph.connectorGroups().filter((group) => group.name === name);

  /** Starts a create on a second instance, lets Graph make the group, and kills that instance before it answers. */
  async function createThenKill(name: string, headers: Record<string, string>): Promise<void> {
    const doomed = await stack.startAnotherHost();
    stack.graph.addFault({ method: 'POST', path: '/connectorGroups$', steps: [{ commit: true, hang: true }] });
    void stack.postTo(doomed.apiUrl, path, { name, region: 'eur' }, headers).catch(() => undefined);
    for (let waited = 0; groupsNamed(name).length === 0; waited += 20) {
      if (waited > 10_000) throw new Error('the create never reached Graph');
      await sleep(20);
    }
    process.kill(doomed.pid!, 'SIGKILL');
    await doomed.stop();
  }

  it('the keyed retry after the lease answers with the group the dead attempt made, and sends nothing', async () => {
    const key = { 'idempotency-key': 'defect2-run' };
    await createThenKill('Defect two', { ...key, 'client-request-id': 'defect2-first' });
    const sentBefore = creates();

    let retry = await stack.post(path, { name: 'Defect two', region: 'eur' }, { ...key, 'client-request-id': 'defect2-retry' });
    for (let waited = 0; retry.status === 409 && retry.body.error.code === 'idempotencyKeyInUse'; waited += 500) {
      if (waited > 70_000) break;
      await sleep(500);
      retry = await stack.post(path, { name: 'Defect two', region: 'eur' }, { ...key, 'client-request-id': 'defect2-retry' });
    }
    expect(retry.status).toBe(201);
    expect(creates()).toBe(sentBefore);
    const [group] = groupsNamed('Defect two');
    expect(groupsNamed('Defect two')).toHaveLength(1);
    expect(retry.body).toMatchObject({ id: group?.id, name: 'Defect two' });
    const first = await recordOf('defect2-first');
    expect(first).toMatchObject({ status: 'succeeded', recovery: 'laterRequest', entityId: group?.id });
    expect(await recordOf('defect2-retry')).toMatchObject({ status: 'succeeded', recovery: 'earlierAttempt', madeBy: first?.rowKey });
  }, 120_000);

  it('without a retry, reconciliation finds the group the dead attempt made and records it orphaned, not succeeded', async () => {
    await createThenKill('Defect two orphan', { 'client-request-id': 'defect2-orphan' });
    expect(await recordOf('defect2-orphan')).toMatchObject({ status: 'pending' });
    const sentBefore = creates();
    await reconcile();
    expect(creates()).toBe(sentBefore);
    const [group] = groupsNamed('Defect two orphan');
    expect(await recordOf('defect2-orphan')).toMatchObject({ status: 'orphaned', entityId: group?.id, recovery: 'reconciliation' });
  }, 60_000);
});

describe('defect 3: a real 409 stays a 409', () => {
  it('for another caller creating the same body after a lost create', async () => {
    const body = { id: 'contested', name: 'Contested' };
    const busy = { status: 503, retryAfter: '0' };
    stack.graph.addFault({ method: 'POST', path: '/external/connections$', steps: [{ ...busy, commit: true }, busy, busy, busy] });
    const lost = await stack.post('/v1.0/external/connections', body, { 'client-request-id': 'defect3-a' });
    expect(lost.status).toBe(503);
    expect(await recordOf('defect3-a')).toMatchObject({ status: 'unknown' });

    const otherCaller = await stack.token({ claims: { oid: 'facade00-0000-4000-8000-0000000000b3', sub: 'facade00-0000-4000-8000-0000000000b3' } });
    const other = await stack.post('/v1.0/external/connections', body, { 'client-request-id': 'defect3-b' }, { token: otherCaller });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('nameAlreadyExists');
    expect(await recordOf('defect3-b')).toMatchObject({ status: 'failed', httpStatus: 409 });
    // The index was not pointed at the other caller's record.
    expect((await stack.audit.findByEntity('createExternalConnection', 'external/connections/contested'))?.clientRequestId).not.toBe('defect3-b');
  });

  it('for the same group in another connection, after a lost create of it in the first', async () => {
    expect((await stack.post('/v1.0/external/connections/other/groups', { id: 'shared' }, { 'client-request-id': 'defect3-c2-first' })).status).toBe(201);
    stack.graph.addFault({ method: 'POST', path: '/lost/groups$', steps: Array(4).fill({ status: 503, retryAfter: '0', commit: true }) });
    expect((await stack.post('/v1.0/external/connections/lost/groups', { id: 'shared' }, { 'client-request-id': 'defect3-c1-lost' })).status).toBe(503);
    expect(await recordOf('defect3-c1-lost')).toMatchObject({ status: 'unknown' });

    const again = await stack.post('/v1.0/external/connections/other/groups', { id: 'shared' }, { 'client-request-id': 'defect3-c2-again' });
    expect(again.status).toBe(409);
    expect((await stack.audit.findByEntity('createExternalGroup', 'external/connections/other/groups/shared'))?.clientRequestId).toBe('defect3-c2-first');
  });
});

describe('defect 4: an answer that is not HTTP is a lost answer, not a failure', () => {
  it('after Graph carried the create out: 502 with a retry hint, the record unknown, and the plain retry gets the group', async () => {
    const broken = { garbage: true };
    stack.graph.addFault({ method: 'POST', path: '/lost/groups$', steps: [{ ...broken, commit: true }, broken, broken, broken] });
    const lost = await stack.post('/v1.0/external/connections/lost/groups', { id: 'brokenanswer' }, { 'client-request-id': 'defect4-lost' });
    expect(lost.status).toBe(502);
    expect(lost.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await recordOf('defect4-lost')).toMatchObject({ status: 'unknown' });

    // Under load the first request's deadline can end before it used every planned broken answer;
    // what is left must not answer the retry.
    stack.graph.clearFaults();
    const retry = await stack.post('/v1.0/external/connections/lost/groups', { id: 'brokenanswer' }, { 'client-request-id': 'defect4-retry' });
    expect(retry.status).toBe(201);
    expect(retry.body).toMatchObject({ id: 'brokenanswer' });
    expect(await recordOf('defect4-lost')).toMatchObject({ status: 'succeeded', recovery: 'laterRequest' });
  });
});

describe('the rest of the lost-answer rules', () => {
  it('reconciliation is not starved by records backing off: it pages past them in the query', async () => {
    stack.graph.addFault({ method: 'POST', path: '/external/connections$', steps: Array(4).fill({ status: 503, retryAfter: '0' }) });
    expect((await stack.post('/v1.0/external/connections', { id: 'duenow', name: 'n' }, { 'client-request-id': 'starved' })).status).toBe(503);
    expect(await recordOf('starved')).toMatchObject({ status: 'unknown' });
    stack.graph.clearFaults();
    // Newer records backing off, more than one run examines per operation: newest first, they come before the due one.
    for (let index = 0; index < 6; index += 1) {
      const requestedAt = new Date(Date.now() - 100 + index);
      const { key } = await stack.audit.recordIntent({
        operation: 'createExternalConnection',
        entityType: 'externalConnection',
        entityId: `backoff${index}`,
        graphPath: '/v1.0/external/connections',
        graphVersion: 'v1.0',
        requestId: `backoff-${index}`,
        clientRequestId: `backoff-${index}`,
        callerId: 'someone',
        requestedAt,
        deadlineAt: requestedAt,
        requestBody: { id: `backoff${index}`, name: 'n' },
        entityKey: `external/connections/backoff${index}`,
        askKey: `backoff-${index}`,
      });
      const stored = await stack.audit.get(key);
      await stack.audit.noteReconcileFailure(stored!, new Date(Date.now() + 86_400_000), 'Graph did not answer');
    }
    const counts = await reconcileNow(stack, { RECONCILE_MAX_RECORDS: '4' });
    expect(counts.examined).toBeGreaterThan(0);
    expect(await recordOf('starved')).toMatchObject({ status: 'failed', errorCode: 'notCreated', recovery: 'reconciliation' });
  });

  it('a connector group whose name more groups share than a snapshot keeps is still created (lost answers then go to people)', async () => {
    for (let index = 0; index < 600; index += 1) stack.graph.seedConnectorGroup('Crowded name');
    const response = await stack.post('/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups', { name: 'Crowded name' }, { 'client-request-id': 'crowded' });
    expect(response.status).toBe(201);
    const record = await recordOf('crowded');
    expect(record).toMatchObject({ status: 'succeeded', entityId: response.body.id });
    expect(record?.preexistingIds).toBeUndefined();
  });
});
