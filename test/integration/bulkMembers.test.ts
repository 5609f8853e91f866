import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addExternalGroupMembersInBulk } from '../../functions/addExternalGroupMembersInBulk';
import { HttpRequest, InvocationContext } from '../../shared/azureFunctions';
import type { OperationContext, Stage } from '../../shared/pipeline/context';
import type { BulkOperationDefinition } from '../../shared/operations/operation';
import { bulkStages, createOperationHandler } from '../../shared/pipeline/pipeline';
import { createRuntime } from '../../shared/runtime';
import { call, startTestStack, type TestStack } from '../support/stack';
import { tableRoundTrips } from '../support/tableRoundTrips';

/**
 * Bulk member adds over real HTTP (the local host, Azurite, the Graph emulator): JSON batching,
 * results per member, the audit records of each member and of the request, validation, and the
 * Idempotency-Key. The asynchronous path (202, the queue, instances that die) is in bulkAsync.test.ts.
 */

let stack: TestStack;
let table: TableClient;
const connection = 'bulkconn';
const bulkPath = (group: string) => `/v1.0/external/connections/${connection}/groups/${group}/members/bulk`;
const membersPath = (group: string) => `/v1.0/external/connections/${connection}/groups/${group}/members`;
const users = (count: number) => Array.from({ length: count }, () => ({ id: randomUUID(), type: 'user' }));
const groups = ['audited', 'thousand', 'mixed', 'invalid', 'replay', 'lost', 'resend', 'counted', 'older', 'takeover'];

beforeAll(async () => {
  stack = await startTestStack();
  table = TableClient.fromConnectionString(stack.azurite.connectionString, stack.env.AUDIT_TABLE_NAME!, { allowInsecureConnection: true });
  stack.graph.seedConnection(connection, groups);
});

afterAll(async () => {
  await stack?.stop();
});

beforeEach(() => {
  stack.graph.clearFaults();
});

type Row = Record<string, any>;

/** Every row a request wrote, found by its client-request-id: the bulk record and its members' records. */
async function rowsOf(clientRequestId: string): Promise<{ bulk: Row | undefined; members: Row[] }> {
  const rows: Row[] = [];
  for await (const entity of table.listEntities<Row>({ queryOptions: { filter: `clientRequestId eq '${clientRequestId}'` } })) rows.push(entity);
  return { bulk: rows.find((row) => row.kind === 'bulk'), members: rows.filter((row) => row.kind === 'record').sort((a, b) => (a.rowKey < b.rowKey ? -1 : 1)) };
}

/** The step a batch carried out for a member, each time it was sent. */
const stepsFor = (memberId: string) => stack.graph.batchSteps({ method: 'POST' }).filter((step) => (step.body as { id?: string } | undefined)?.id === memberId);

describe('bulk members, answered at once', () => {
  it('adds 1,000 members in 50 Graph HTTP calls (batches of 20), with a record per member and one for the request', async () => {
    const members = users(1000);
    const before = stack.graph.callCounts();
    const response = await stack.post(bulkPath('thousand'), { members }, { 'client-request-id': 'bulk-thousand' });
    const after = stack.graph.callCounts();

    expect(response.status, JSON.stringify(response.body).slice(0, 300)).toBe(200);
    expect(response.body).toMatchObject({ created: 1000, alreadyMember: 0, failed: 0 });
    expect(response.body.results).toEqual(members.map((member) => ({ id: member.id, status: 'created' })));
    const calls = { httpCalls: after.httpCalls - before.httpCalls, batches: after.batches - before.batches, batchSteps: after.batchSteps - before.batchSteps };
    process.stdout.write(`bulk of 1,000 members: ${calls.httpCalls} Graph HTTP calls (${calls.batches} batches, ${calls.batchSteps} steps)\n`);
    expect(calls).toEqual({ httpCalls: 50, batches: 50, batchSteps: 1000 });
    expect(stack.graph.graphHttpCalls({ path: /\/members$/ }).filter((request) => request.headers['client-request-id'] === 'bulk-thousand')).toEqual([]);

    const { bulk, members: records } = await rowsOf('bulk-thousand');
    expect(bulk).toMatchObject({ kind: 'bulk', operation: 'addExternalGroupMembersInBulk', status: 'completed', total: 1000, done: 1000, created: 1000, alreadyMember: 0, failed: 0, runs: 1, async: false });
    expect(records).toHaveLength(1000);
    expect(records.every((record) => record.status === 'succeeded' && record.partitionKey === 'createExternalGroupMember' && record.rowKey.startsWith(`${bulk!.rowKey}.`))).toBe(true);
    expect(records.map((record) => record.entityId)).toEqual(members.map((member) => member.id));
    // Each is a single add's record: found by the entity index like one.
    const sample = await stack.audit.findByEntity('createExternalGroupMember', `external/connections/${connection}/groups/thousand/members/${members[500]!.id}`);
    expect(sample).toMatchObject({ clientRequestId: 'bulk-thousand', status: 'succeeded', operation: 'createExternalGroupMember', graphPath: membersPath('thousand') });
  }, 120_000);

  it('reports mixed results exactly: already members, adds throttled each after its own Retry-After then created, and a persistent failure', async () => {
    const existing = users(3);
    for (const member of existing) expect((await stack.post(membersPath('mixed'), member)).status).toBe(201);
    const fresh = users(30);
    const [quick, slow, stubborn] = [fresh[4]!, fresh[17]!, fresh[25]!];
    const throttle = (retryAfter: string) => ({ status: 429, retryAfter });
    stack.graph.addFault({ method: 'POST', path: '/mixed/members$', body: quick.id, steps: [throttle('0.2')] });
    stack.graph.addFault({ method: 'POST', path: '/mixed/members$', body: slow.id, steps: [throttle('1.5'), throttle('0.2')] });
    stack.graph.addFault({ method: 'POST', path: '/mixed/members$', body: stubborn.id, steps: Array(4).fill(throttle('0.1')) });
    const members = [...fresh.slice(0, 10), existing[0]!, ...fresh.slice(10, 20), existing[1]!, ...fresh.slice(20), existing[2]!];

    const response = await stack.post(bulkPath('mixed'), { members }, { 'client-request-id': 'bulk-mixed' });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ created: 29, alreadyMember: 3, failed: 1 });
    const expected = members.map((member) =>
      existing.includes(member)
        ? { id: member.id, status: 'alreadyMember' }
        : member === stubborn
          ? { id: member.id, status: 'failed', error: { code: 'TooManyRequests', message: expect.any(String), httpStatus: 429 } }
          : { id: member.id, status: 'created' },
    );
    expect(response.body.results).toEqual(expected);
    // Each throttled add was sent again after its own Retry-After, not another step's.
    const [slowFirst, slowSecond, slowThird] = stepsFor(slow.id);
    expect(new Date(slowSecond!.receivedAt).getTime() - new Date(slowFirst!.receivedAt).getTime()).toBeGreaterThanOrEqual(1_400);
    expect(slowThird).toBeDefined();
    const [quickFirst, quickSecond] = stepsFor(quick.id);
    expect(new Date(quickSecond!.receivedAt).getTime() - new Date(quickFirst!.receivedAt).getTime()).toBeLessThan(1_400);
    expect(stepsFor(stubborn.id)).toHaveLength(4);
    expect(stepsFor(fresh[0]!.id)).toHaveLength(1);

    const { bulk, members: records } = await rowsOf('bulk-mixed');
    const recordOf = (id: string) => records.find((record) => record.entityId === id);
    expect(bulk).toMatchObject({ status: 'completed', created: 29, alreadyMember: 3, failed: 1 });
    expect(recordOf(slow.id)).toMatchObject({ status: 'succeeded', retries: 2 });
    expect(recordOf(existing[1]!.id)).toMatchObject({ status: 'alreadyExisted', httpStatus: 409 });
    // Graph answered 429 every time: nothing was made.
    expect(recordOf(stubborn.id)).toMatchObject({ status: 'failed', httpStatus: 429, errorCode: 'TooManyRequests', retries: 3 });
    expect(stack.graph.creations().some((creation) => creation.id === stubborn.id)).toBe(false);
  }, 60_000);

  it('refuses the whole request when one member is invalid, naming every problem by its index, and sends nothing', async () => {
    const members: Record<string, unknown>[] = users(8);
    members[3] = { id: 'not-a-guid', type: 'user' };
    members[5] = { ...members[1]! };
    members[6] = { id: randomUUID(), type: 'robot' };
    const before = stack.graph.callCounts();
    const response = await stack.post(bulkPath('invalid'), { members }, { 'client-request-id': 'bulk-invalid' });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalidRequest');
    expect(response.body.error.details.map((detail: { target: string; code: string }) => [detail.target, detail.code])).toEqual([
      ['members[3].id', 'invalidValue'],
      ['members[5]', 'duplicateItem'],
      ['members[6].type', 'invalidValue'],
    ]);
    expect(response.body.error.details[1].message).toContain('repeats members[1]');
    expect(stack.graph.callCounts()).toEqual(before);
    expect(await rowsOf('bulk-invalid')).toEqual({ bulk: undefined, members: [] });

    for (const [body, target] of [[{ members: [] }, 'members'], [{ members: users(1001) }, 'members'], [{}, 'members'], [{ members: users(1), extra: 1 }, 'extra']] as const) {
      const refused = await stack.post(bulkPath('invalid'), body);
      expect(refused.status).toBe(400);
      expect(refused.body.error.details[0].target).toBe(target);
    }
    expect(stack.graph.callCounts()).toEqual(before);
  });

  it('takes the older identitySource shape and the older route, translated as for single adds', async () => {
    const user = randomUUID();
    const response = await stack.post(`/beta/connections/${connection}/groups/older/members/bulk`, {
      members: [
        { id: user, type: 'user', identitySource: 'azureActiveDirectory' },
        { id: 'contoso_sales', type: 'group', identitySource: 'external' },
      ],
    }, { 'client-request-id': 'bulk-older' });
    expect(response.status).toBe(200);
    expect(response.body.results).toEqual([{ id: user, status: 'created' }, { id: 'contoso_sales', status: 'created' }]);
    const sent = stack.graph.batchSteps().filter((step) => step.headers['client-request-id'] === 'bulk-older').map((step) => [step.path, step.body]);
    expect(sent).toEqual(expect.arrayContaining([
      [`/beta/external/connections/${connection}/groups/older/members`, { id: user, type: 'user' }],
      [`/beta/external/connections/${connection}/groups/older/members`, { id: 'contoso_sales', type: 'externalGroup' }],
    ]));
  });

  it('replays the same results for the same Idempotency-Key without calling Graph, and refuses the key with another body', async () => {
    const members = users(25);
    const first = await stack.post(bulkPath('replay'), { members }, { 'idempotency-key': 'bulk-key-1' });
    expect(first.status).toBe(200);
    const before = stack.graph.callCounts();
    const again = await stack.post(bulkPath('replay'), { members }, { 'idempotency-key': 'bulk-key-1' });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(stack.graph.callCounts()).toEqual(before);
    expect((await stack.post(bulkPath('replay'), { members: members.slice(1) }, { 'idempotency-key': 'bulk-key-1' })).status).toBe(422);
  });

  it('sends an add whose batch answer was lost again within the request, and counts its 409 as this request’s add', async () => {
    const members = users(20);
    const target = members[7]!;
    // Graph carries the whole batch out, then the connection is reset: no step's answer arrives.
    stack.graph.addFault({ method: 'POST', path: '/resend/members$', body: target.id, steps: [{ commit: true, reset: true }] });
    const response = await stack.post(bulkPath('resend'), { members }, { 'client-request-id': 'bulk-resend' });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ created: 20, alreadyMember: 0, failed: 0 });
    expect(stepsFor(target.id)).toHaveLength(2);
    const { members: records } = await rowsOf('bulk-resend');
    expect(records.find((record) => record.entityId === target.id)).toMatchObject({ status: 'succeeded', recovery: 'createConflict' });
    expect(new Set(stack.graph.creations().filter((creation) => creation.clientRequestId === 'bulk-resend').map((creation) => creation.id)).size).toBe(20);
  });

  it('leaves an add whose every answer was lost unknown, and the caller’s later single add of that member settles it', async () => {
    const [member] = users(1);
    const garbage = { garbage: true };
    stack.graph.addFault({ method: 'POST', path: '/lost/members$', body: member!.id, steps: [{ ...garbage, commit: true }, garbage, garbage, garbage] });
    const response = await stack.post(bulkPath('lost'), { members: [member] }, { 'client-request-id': 'bulk-lost' });
    expect(response.status).toBe(200);
    expect(response.body.results).toEqual([{ id: member!.id, status: 'failed', error: { code: 'createOutcomeUnknown', message: expect.stringContaining('may have been carried out'), httpStatus: 502 } }]);
    const [lost] = (await rowsOf('bulk-lost')).members;
    expect(lost).toMatchObject({ status: 'unknown', entityKey: `external/connections/${connection}/groups/lost/members/${member!.id}` });

    const single = await stack.post(membersPath('lost'), member, { 'client-request-id': 'single-after-bulk' });
    expect(single.status).toBe(201);
    const settled = (await rowsOf('bulk-lost')).members[0];
    expect(settled).toMatchObject({ status: 'succeeded', recovery: 'laterRequest' });
    expect(stack.graph.creations().filter((creation) => creation.id === member!.id)).toHaveLength(1);
  });
});

describe('the audit query API after a bulk request', () => {
  it('lists each member\'s record as a single add\'s, and the bulk request\'s own record with its counts', async () => {
    const members = users(3);
    const response = await stack.post(bulkPath('audited'), { members }, { 'client-request-id': 'bulk-audited' });
    expect(response.status).toBe(200);
    const listed = await call(`${stack.host.apiUrl}/audit?operation=createExternalGroupMember&$top=1000`, { headers: { authorization: `Bearer ${await stack.token()}` } });
    expect(listed.status).toBe(200);
    const ofRequest = (listed.body.value as Row[]).filter((record) => record.clientRequestId === 'bulk-audited');
    const [bulk, ...items] = ofRequest;
    // Newest first: the bulk record's row key sorts just before its items', which follow in request order.
    expect(bulk).toMatchObject({ operation: 'addExternalGroupMembersInBulk', status: 'completed', graphPath: membersPath('audited'), total: 3, created: 3, alreadyMember: 0, failed: 0 });
    expect(bulk).not.toHaveProperty('entityId');
    expect(items.map((record) => [record.operation, record.entityId, record.status])).toEqual(members.map((member) => ['createExternalGroupMember', member.id, 'succeeded']));
    expect(new Set(ofRequest.map((record) => record.requestId)).size).toBe(1);

    const entity = await call(`${stack.host.apiUrl}/audit/createExternalGroupMember/${members[1]!.id}?connectionId=${connection}&groupId=audited`, {
      headers: { authorization: `Bearer ${await stack.token()}` },
    });
    expect(entity.status).toBe(200);
    expect(entity.body.value).toEqual([expect.objectContaining({ entityId: members[1]!.id, madeEntity: true, status: 'succeeded', clientRequestId: 'bulk-audited' })]);
  });
});

describe('an Idempotency-Key taken over from a request that died', () => {
  it('answers the members the dead request added without sending them again, and sends the open ones, whose 409 is then this ask\'s', async () => {
    process.env.IDENTITY_ENDPOINT = stack.env.IDENTITY_ENDPOINT;
    process.env.IDENTITY_HEADER = stack.env.IDENTITY_HEADER;
    const runtime = createRuntime({ ...stack.env, AuditStorage: stack.azurite.connectionString });
    // The first request does its work, then its instance dies before it answers (its key is freed for the retry).
    const dies: Stage<OperationContext<BulkOperationDefinition>> = async (context, next) => {
      await bulkStages.at(-1)!(context, next);
      throw new Error('the instance died before it answered');
    };
    const request = (clientRequestId: string, body: unknown) =>
      new HttpRequest({
        method: 'POST',
        url: `http://127.0.0.1/api${bulkPath('takeover')}`,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'client-request-id': clientRequestId, 'idempotency-key': 'bulk-takeover' },
        params: { version: 'v1.0', connectionId: connection, groupId: 'takeover' },
        body: { string: JSON.stringify(body) },
      });
    const invocation = () => new InvocationContext({ functionName: 'addExternalGroupMembersInBulk', logHandler: () => undefined });
    const token = await stack.token();
    const members = users(5);
    const lost = members[2]!;
    // Graph adds this one, but every answer to it is lost: its record stays unknown.
    stack.graph.addFault({ method: 'POST', path: '/takeover/members$', body: lost.id, steps: [{ garbage: true, commit: true }, { garbage: true }, { garbage: true }, { garbage: true }] });
    const first = await createOperationHandler(addExternalGroupMembersInBulk, [...bulkStages.slice(0, -1), dies], () => runtime)(request('takeover-first', { members }), invocation());
    expect(first.status).toBe(500);
    const earlier = await rowsOf('takeover-first');
    expect(earlier.members.map((record) => record.status)).toEqual(['succeeded', 'succeeded', 'unknown', 'succeeded', 'succeeded']);

    stack.graph.clearFaults();
    const retry = await createOperationHandler(addExternalGroupMembersInBulk, undefined, () => runtime)(request('takeover-retry', { members }), invocation());
    expect(retry.status).toBe(200);
    expect(retry.jsonBody).toMatchObject({ created: 5, alreadyMember: 0, failed: 0 });
    // Only the open one was sent again; its 409 is this ask's, and it settles the earlier record.
    expect(stack.graph.batchSteps().filter((step) => step.headers['client-request-id'] === 'takeover-retry').map((step) => (step.body as { id: string }).id)).toEqual([lost.id]);
    const retried = await rowsOf('takeover-retry');
    expect(retried.members.map((record) => [record.status, record.recovery])).toEqual(Array(5).fill(['succeeded', 'earlierAttempt']));
    expect((await rowsOf('takeover-first')).members[2]).toMatchObject({ status: 'succeeded', recovery: 'laterRequest' });
    expect(stack.graph.creations().filter((creation) => members.some((member) => member.id === creation.id))).toHaveLength(5);
  });
});

describe('table round trips', () => {
  it('1,000 members cost at most 60 (entity group transactions, not a write per row)', async () => {
    const roundTrips = tableRoundTrips();
    // The managed-identity credential reads the platform's variables itself.
    process.env.IDENTITY_ENDPOINT = stack.env.IDENTITY_ENDPOINT;
    process.env.IDENTITY_HEADER = stack.env.IDENTITY_HEADER;
    const runtime = createRuntime({ ...stack.env, AuditStorage: stack.azurite.connectionString }, { tablePolicies: [roundTrips.policy] });
    const handler = createOperationHandler(addExternalGroupMembersInBulk, undefined, () => runtime);
    const token = await stack.token();
    // The table exists already (the host made it): the count is the request's own.
    await runtime.audit.openAttemptsOf('createExternalGroupMember');
    roundTrips.reset();
    const members = users(1000);
    const response = await handler(
      new HttpRequest({
        method: 'POST',
        url: `http://127.0.0.1/api${bulkPath('counted')}`,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'client-request-id': 'bulk-counted' },
        params: { version: 'v1.0', connectionId: connection, groupId: 'counted' },
        body: { string: JSON.stringify({ members }) },
      }),
      new InvocationContext({ functionName: 'addExternalGroupMembersInBulk', logHandler: () => undefined }),
    );
    expect(response.status, JSON.stringify(response.jsonBody)).toBe(200);
    expect(response.jsonBody).toMatchObject({ created: 1000 });
    process.stdout.write(`bulk of 1,000 members: ${roundTrips.count()} table round trips\n`);
    expect(roundTrips.count()).toBeLessThanOrEqual(60);
    expect((await rowsOf('bulk-counted')).members.filter((record) => record.status === 'succeeded')).toHaveLength(1000);
  }, 120_000);
});
