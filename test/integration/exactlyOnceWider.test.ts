import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IdempotencyStore, maxAttempts } from '../../shared/idempotency/idempotencyStore';
import { reconcileNow, startTestStack, type TestStack } from '../support/stack';
import { startTableProxy, type TableCall } from '../support/tableProxy';

/**
 * Regression tests for issue 16's defects 1, 2, 3, 4 and 9 — where the lost-answer rules met a
 * wider world than the simulation's — each reproduced end to end over real HTTP (the local host as
 * a process, Azurite, the Graph emulator; table calls held at controlled points through a proxy
 * the test drives), kept so they stay fixed:
 * 1. ids that differ only in letter case, as Graph may count one entity: a 409 became a 201;
 * 2. a retry-later answer (409 createOutcomeUnknown) was stored as a key's final answer;
 * 3. a 2xx without an entity id was recorded as a success with no entity;
 * 4. an Idempotency-Key forgot its oldest attempt after 20 retries, and a second group was made;
 * 9. resolveConflict read the entity index and the open attempts at once, so another request's
 *    settlement could land between the two reads and neither showed it.
 */

// A short deadline and table timeout, so an Idempotency-Key lease (deadline + 3 × table timeout + 2 s) is 8 s.
const settings = { GRAPH_DEADLINE_MS: '3000', GRAPH_ATTEMPT_TIMEOUT_MS: '800', AUDIT_TABLE_TIMEOUT_MS: '1000' };
const connectorGroups = '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups';
let stack: TestStack;
let table: TableClient;

beforeAll(async () => {
  stack = await startTestStack(settings);
  table = TableClient.fromConnectionString(stack.azurite.connectionString, stack.env.AUDIT_TABLE_NAME!, { allowInsecureConnection: true });
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

const groupsNamed = (name: string) => stack.graph.connectorGroups().filter((group) => group.name === name);
const groupCreates = () => stack.graph.graphRequests({ method: 'POST', path: /connectorGroups$/ }).length;

describe('defect 1: ids as Graph compares them — another spelling is possibly the same entity, never taken for one by guess', () => {
  // Caller B makes connection `contosowide` (as the emulator does, and as Graph may: letter case
  // folded), a group and a member in it; caller A then spells the connection `ContosoWide`.
  const member = { id: '4b1e2f30-0000-4000-8000-0000000000d1', type: 'user' };
  const lower = '/v1.0/external/connections/contosowide';
  const upper = '/v1.0/external/connections/ContosoWide';
  let callerA: string;
  let callerB: string;
  const busy = { status: 503, retryAfter: '0' };

  beforeAll(async () => {
    callerA = await stack.token({ claims: { oid: 'facade00-0000-4000-8000-00000000a001', sub: 'facade00-0000-4000-8000-00000000a001' } });
    callerB = await stack.token({ claims: { oid: 'facade00-0000-4000-8000-00000000b001', sub: 'facade00-0000-4000-8000-00000000b001' } });
    const asB = (path: string, body: unknown) => stack.post(path, body, {}, { token: callerB });
    expect((await asB('/v1.0/external/connections', { id: 'contosowide', name: 'Contoso, lower case' })).status).toBe(201);
    for (const group of ['g', 'h', 'bulkg']) expect((await asB(`${lower}/groups`, { id: group })).status).toBe(201);
    expect((await asB(`${lower}/groups/g/members`, member)).status).toBe(201);
    expect((await asB(`${lower}/groups/bulkg/members`, member)).status).toBe(201);
  });

  it('a group created under another spelling of the connection, its first attempt answered 503 and the resend 409: 502 createOutcomeUnknown, record unknown — not 201', async () => {
    stack.graph.addFault({ method: 'POST', path: '/ContosoWide/groups$', steps: [busy] });
    const answer = await stack.post(`${upper}/groups`, { id: 'g' }, { 'client-request-id': 'wider-d1-group' }, { token: callerA });
    expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status: 502, code: 'createOutcomeUnknown' });
    expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
    const record = await recordOf('wider-d1-group');
    expect(record).toMatchObject({ status: 'unknown', reason: expect.stringMatching(/letter case/) });
    // The index still names B's record.
    const index = await stack.audit.indexOf('createExternalGroup', 'external/connections/contosowide/groups/g');
    expect(index?.auditRowKey).not.toBe(record?.rowKey);
  });

  it('the same for a member add (Graph has no read of one): never a 201 by createConflict', async () => {
    stack.graph.addFault({ method: 'POST', path: '/ContosoWide/groups/g/members$', steps: [busy] });
    const answer = await stack.post(`${upper}/groups/g/members`, member, { 'client-request-id': 'wider-d1-member' }, { token: callerA });
    expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status: 502, code: 'createOutcomeUnknown' });
    expect(await recordOf('wider-d1-member')).toMatchObject({ status: 'unknown' });
  });

  it('a bulk add under the upper-case parent does not report the member created', async () => {
    stack.graph.addFault({ method: 'POST', path: '/ContosoWide/groups/bulkg/members$', body: member.id, steps: [busy] });
    const answer = await stack.post(`${upper}/groups/bulkg/members/bulk`, { members: [member] }, { 'client-request-id': 'wider-d1-bulk' }, { token: callerA });
    expect(answer.status).toBe(200);
    expect(answer.body.results).toHaveLength(1);
    expect(answer.body.results[0].status).not.toBe('created');
    const records: Record<string, unknown>[] = [];
    for await (const entity of table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `clientRequestId eq 'wider-d1-bulk'` } })) records.push(entity);
    const memberRecord = records.find((row) => row.kind === 'record');
    expect(memberRecord?.status).not.toBe('succeeded');
  });

  it('reconciliation does not settle a request whose every attempt got 503 as the maker of another spelling’s entity', async () => {
    stack.graph.addFault({ method: 'POST', path: '/ContosoWide/groups$', steps: Array(4).fill(busy) });
    const answer = await stack.post(`${upper}/groups`, { id: 'h' }, { 'client-request-id': 'wider-d1-reconcile' }, { token: callerA });
    expect(answer.status).toBe(503);
    expect(await recordOf('wider-d1-reconcile')).toMatchObject({ status: 'unknown' });
    stack.graph.clearFaults();
    await reconcile();
    const record = await recordOf('wider-d1-reconcile');
    expect(record?.status).not.toBe('succeeded');
    expect(record).toMatchObject({ status: 'unknown', reason: expect.stringMatching(/letter case/) });
  }, 60_000);

  it('one spelling throughout: a lost create of this ask, then 409, is still this ask’s (201 by reading it back)', async () => {
    stack.graph.addFault({ method: 'POST', path: '/ContosoWide/groups$', steps: [{ ...busy, commit: true }] });
    const answer = await stack.post(`${upper}/groups`, { id: 'MixedCase' }, { 'client-request-id': 'wider-d1-own' }, { token: callerA });
    expect(answer).toMatchObject({ status: 201, body: { id: 'MixedCase' } });
    expect(await recordOf('wider-d1-own')).toMatchObject({ status: 'succeeded', recovery: 'readBack' });
    expect((await stack.audit.indexOf('createExternalGroup', 'external/connections/ContosoWide/groups/MixedCase'))?.entityPath).toBe('external/connections/ContosoWide/groups/MixedCase');
  });
});

describe('defect 2: an answer that says "retry later" is never a key’s stored answer', () => {
  it('a keyed connector-group retry answered 409 createOutcomeUnknown is not replayed once the first attempt is settled', async () => {
    const key = { 'idempotency-key': 'wider-d2' };
    const body = { name: 'Wider defect two' };
    // The first create's connection is reset before Graph makes anything.
    stack.graph.addFault({ method: 'POST', path: '/connectorGroups$', steps: [{ reset: true }] });
    const first = await stack.post(connectorGroups, body, { ...key, 'client-request-id': 'wider-d2-first' });
    expect(first.status).toBe(502);
    expect(await recordOf('wider-d2-first')).toMatchObject({ status: 'unknown' });

    const waiting = await stack.post(connectorGroups, body, { ...key, 'client-request-id': 'wider-d2-second' });
    expect(waiting.status).toBe(409);
    expect(waiting.body.error.code).toBe('createOutcomeUnknown');
    expect(Number(waiting.headers.get('retry-after'))).toBeGreaterThan(0);

    await reconcile();
    expect(await recordOf('wider-d2-first')).toMatchObject({ status: 'failed', errorCode: 'notCreated', recovery: 'reconciliation' });

    // The retry it was told to make is carried out, not answered with the stored "retry later".
    const sentBefore = groupCreates();
    const retry = await stack.post(connectorGroups, body, { ...key, 'client-request-id': 'wider-d2-third' });
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(retry.status).toBe(201);
    expect(groupCreates()).toBe(sentBefore + 1);
    expect(groupsNamed(body.name)).toEqual([expect.objectContaining({ id: retry.body.id })]);
    // From now on the key replays that success.
    const replayed = await stack.post(connectorGroups, body, { ...key, 'client-request-id': 'wider-d2-fourth' });
    expect(replayed).toMatchObject({ status: 201, body: { id: retry.body.id } });
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
  }, 90_000);
});

describe('defect 3: a 2xx without an entity id may hide a create; it is never a success with no entity', () => {
  const oddSuccesses = [
    { what: 'an empty JSON object', slug: 'emptyobject', step: { status: 201, body: {} } },
    { what: 'an empty body', slug: 'emptybody', step: { status: 201, bodyText: '' } },
    { what: 'a body that is not JSON', slug: 'notjson', step: { status: 200, bodyText: '<html>created</html>' } },
  ];

  it.each(oddSuccesses)('Graph creates the group and answers with $what: 502 createOutcomeUnknown, record unknown; the keyed retry answers with the group', async ({ slug, step }) => {
    const name = `Wider idless ${slug}`;
    const key = { 'idempotency-key': `wider-d3-${slug}` };
    stack.graph.addFault({ method: 'POST', path: '/connectorGroups$', steps: [{ ...step, commit: true }] });
    const first = await stack.post(connectorGroups, { name }, { ...key, 'client-request-id': `wider-d3-${slug}-first` });
    expect(first.status).toBe(502);
    expect(first.body.error.code).toBe('createOutcomeUnknown');
    expect(Number(first.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(groupsNamed(name)).toHaveLength(1);
    const made = groupsNamed(name)[0]!;
    const record = await recordOf(`wider-d3-${slug}-first`);
    expect(record).toMatchObject({ status: 'unknown' });
    expect(record?.entityId).toBe('');

    // A keyed retry is not answered with the id-less 2xx: it finds the group the first attempt made, and sends nothing.
    const sentBefore = groupCreates();
    const retry = await stack.post(connectorGroups, { name }, { ...key, 'client-request-id': `wider-d3-${slug}-retry` });
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(retry).toMatchObject({ status: 201, body: { id: made.id, name } });
    expect(groupCreates()).toBe(sentBefore);
    expect(await recordOf(`wider-d3-${slug}-first`)).toMatchObject({ status: 'succeeded', entityId: made.id, recovery: 'laterRequest' });
  }, 60_000);

  it('without a retry, reconciliation finds the group and records it orphaned', async () => {
    const name = 'Wider idless orphan';
    stack.graph.addFault({ method: 'POST', path: '/connectorGroups$', steps: [{ status: 201, body: {}, commit: true }] });
    expect((await stack.post(connectorGroups, { name }, { 'client-request-id': 'wider-d3-orphan' })).status).toBe(502);
    await reconcile();
    const [made] = groupsNamed(name);
    expect(await recordOf('wider-d3-orphan')).toMatchObject({ status: 'orphaned', entityId: made?.id, recovery: 'reconciliation' });
  }, 60_000);
});

describe("defect 3, ids the caller chose: a 2xx without the entity still answers the entity it made", () => {
  it.each([
    { what: 'an empty JSON object', slug: 'obj', step: { status: 201, body: {} } },
    { what: 'an empty body', slug: 'empty', step: { status: 201, bodyText: '' } },
    { what: 'a body that is not JSON', slug: 'text', step: { status: 201, bodyText: 'created' } },
  ])('Graph creates the connection and answers with $what: 201 naming the id the caller chose, record succeeded with it', async ({ slug, step }) => {
    const id = `widerd3own${slug}`;
    stack.graph.addFault({ method: 'POST', path: '/external/connections$', steps: [{ ...step, commit: true }] });
    const answer = await stack.post('/v1.0/external/connections', { id, name: `Wider ${slug}`, description: 'Made, answered without the entity' }, { 'client-request-id': `wider-d3-own-${slug}` });
    expect(answer).toMatchObject({ status: 201, body: { id, name: `Wider ${slug}` } });
    expect(await recordOf(`wider-d3-own-${slug}`)).toMatchObject({ status: 'succeeded', entityId: id });
  }, 60_000);
});

describe('defect 4: an attempt of unknown outcome is never forgotten while its key lives', () => {
  it('a keyed connector-group create whose answer was lost, then 25 retries that cannot list the groups, never makes a second group', async () => {
    const name = 'Wider defect four';
    const key = { 'idempotency-key': 'wider-d4' };
    stack.graph.addFault({ method: 'POST', path: '/connectorGroups$', steps: [{ commit: true, reset: true }] });
    expect((await stack.post(connectorGroups, { name }, { ...key, 'client-request-id': 'wider-d4-first' })).status).toBe(502);
    expect(groupsNamed(name)).toHaveLength(1);

    // Graph's list of connector groups answers 500: no retry can tell what the first attempt made.
    stack.graph.addFault({ method: 'GET', path: '/connectorGroups$', steps: Array(100).fill({ status: 500 }) });
    for (let retry = 1; retry <= 25; retry += 1) {
      const answer = await stack.post(connectorGroups, { name }, { ...key, 'client-request-id': `wider-d4-retry${retry}` });
      expect({ retry, status: answer.status, code: answer.body?.error?.code }).toMatchObject({ retry, status: 503 });
      expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    expect(groupsNamed(name)).toHaveLength(1);

    stack.graph.clearFaults();
    const settled = await stack.post(connectorGroups, { name }, { ...key, 'client-request-id': 'wider-d4-last' });
    expect(settled).toMatchObject({ status: 201, body: { id: groupsNamed(name)[0]?.id } });
    expect(groupsNamed(name)).toHaveLength(1);
    expect(await recordOf('wider-d4-first')).toMatchObject({ status: 'succeeded', recovery: 'laterRequest' });
  }, 120_000);

  it(`the key's bound is enforced by refusing: past ${maxAttempts} attempts a claim is refused and the oldest attempt is still listed`, async () => {
    const store = new IdempotencyStore(stack.table, 3_600_000);
    const scope = { operation: 'createConnectorGroup', callerId: 'wider-d4-bound', key: 'bound' };
    const now = new Date();
    for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
      const claim = await store.claim(scope, 'same body', 1_000, now, `attempt${attempt}`);
      expect(claim.kind).toBe('claimed');
      if (claim.kind === 'claimed') {
        if (attempt > 0) expect(claim.earlierAttempts[0]).toBe('attempt0');
        expect(await store.release(scope, claim.etag)).toBe(true);
      }
    }
    const refused = await store.claim(scope, 'same body', 1_000, now, 'one too many');
    expect(refused).toMatchObject({ kind: 'exhausted', attempts: maxAttempts });
    if (refused.kind === 'exhausted') expect(refused.retryAfterSeconds).toBeGreaterThan(3_500);
  }, 120_000);
});

/** A promise and the function that settles it. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const within = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([promise, sleep(ms).then(() => Promise.reject(new Error(`${what} did not happen within ${ms} ms`)))]);

const isOpenAttemptsQuery = (call: TableCall) => call.method === 'GET' && call.url.includes('$filter') && call.url.includes('open_');
const isIndexRead = (call: TableCall) => call.method === 'GET' && !call.url.includes('$filter') && call.url.includes('entity_');
const isIndexingSettlement = (call: TableCall) => call.method === 'POST' && call.url.includes('$batch') && call.body.includes('entity_');

describe('defect 9: who made an entity is read in an order no settlement can slip between', () => {
  it('a member add whose first answer was lost is not answered 201 for the member the same caller’s other add made, settled between its reads', async () => {
    // Each instance reaches Azurite through its own proxy, which this test drives call by call; a
    // long table timeout, so a held call is late, not failed.
    const proxyForX = await startTableProxy(stack.azurite);
    const proxyForY = await startTableProxy(stack.azurite);
    try {
      const patient = { AUDIT_TABLE_TIMEOUT_MS: '15000', GRAPH_DEADLINE_MS: '10000' };
      const [hostX, hostY] = await Promise.all([
        stack.startAnotherHost({ ...patient, AuditStorage: proxyForX.connectionString }),
        stack.startAnotherHost({ ...patient, AuditStorage: proxyForY.connectionString }),
      ]);
      expect((await stack.post('/v1.0/external/connections', { id: 'racing', name: 'Racing settlements' })).status).toBe(201);
      expect((await stack.post('/v1.0/external/connections/racing/groups', { id: 'team' })).status).toBe(201);
      const members = '/v1.0/external/connections/racing/groups/team/members';
      const member = '9d1e2f30-0000-4000-8000-0000000000d9';

      // Y adds the member (as a group); Graph makes it; Y's settlement is held at its proxy.
      const yHeld = signal();
      const yMayLand = signal();
      const yLanded = signal();
      proxyForY.intercept(async (call, forward) => {
        if (!isIndexingSettlement(call)) return forward();
        yHeld.fire();
        await yMayLand.promise;
        const answer = await forward();
        yLanded.fire();
        return answer;
      });
      const yAnswer = stack.postTo(hostY.apiUrl, members, { id: member, type: 'group' }, { 'client-request-id': 'wider-d9-y' });
      await within(yHeld.promise, 20_000, 'Y’s settlement');
      const settleY = async () => {
        yMayLand.fire();
        await yLanded.promise;
      };

      // X adds the member (as a user): its first attempt's answer is lost, the resend gets 409.
      // The adversary: X's reads after the 409 are ordered so that Y's settlement lands after any
      // index read of X has been answered and before X's open attempts are read.
      let openQueries = 0;
      const indexArrived = signal();
      const indexAnswered = signal();
      proxyForX.intercept(async (call, forward) => {
        if (isOpenAttemptsQuery(call)) {
          openQueries += 1;
          // The first is read while Graph works on the create; the second is read after the 409.
          if (openQueries < 2) return forward();
          // An index read sent beside this query (within 2 s, never if only this query's answer can let it go) is answered first.
          const beside = await Promise.race([indexArrived.promise.then(() => true), sleep(2_000).then(() => false)]);
          if (beside) await indexAnswered.promise;
          await settleY();
          return forward();
        }
        if (isIndexRead(call)) {
          indexArrived.fire();
          const answer = await forward();
          indexAnswered.fire();
          await settleY();
          return answer;
        }
        return forward();
      });
      stack.graph.addFault({ method: 'POST', path: '/racing/groups/team/members$', steps: [{ reset: true }] });
      const x = await stack.postTo(hostX.apiUrl, members, { id: member, type: 'user' }, { 'client-request-id': 'wider-d9-x' });

      expect((await yAnswer).status).toBe(201);
      expect(openQueries).toBe(2);
      // Y made the member: X's own lost attempt made nothing, and the 409 is X's answer.
      expect({ status: x.status, code: x.body?.error?.code }).toEqual({ status: 409, code: 'Conflict' });
      expect(await recordOf('wider-d9-x')).toMatchObject({ status: 'failed', httpStatus: 409 });
      const y = await recordOf('wider-d9-y');
      expect(y).toMatchObject({ status: 'succeeded' });
      expect((await stack.audit.indexOf('createExternalGroupMember', `external/connections/racing/groups/team/members/${member}`))?.auditRowKey).toBe(y?.rowKey);
    } finally {
      await Promise.all([proxyForX.close(), proxyForY.close()]);
    }
  }, 120_000);
});
