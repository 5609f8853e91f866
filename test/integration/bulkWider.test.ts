import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { call, type HostProcess, type TestStack } from '../support/stack';
import { pollUntilDone, startProxiedStack, type ProxiedStack } from '../support/proxiedStack';
import type { TableAnswerProxy, TableCall } from '../support/tableAnswerProxy';
import { recordRowKey } from '../../shared/audit/auditRecord';
import { toChunks } from '../../shared/bulk/bulkRecord';

/**
 * Bulk members where the world is wider (issue 16, defects 5–8; issue 18, points 1–2), over real
 * HTTP: the local host, Azurite and the Graph emulator. Lost storage answers come from an HTTP
 * proxy in front of Azurite's table service that carries a chosen write out and never delivers
 * its answer, so the host's own table timeout ends the call.
 */

const tableTimeoutMs = 1_500;
let proxied: ProxiedStack;
let stack: TestStack;
let proxy: TableAnswerProxy;
let host: HostProcess;
let table: TableClient;
const connection = 'widerconn';
const groups = ['raced', 'chunked', 'unwritten', 'leased', 'polled', 'partial', 'present', 'abandoned'];
const bulkPath = (group: string, connectionId = connection) => `/v1.0/external/connections/${connectionId}/groups/${group}/members/bulk`;
const membersPath = (group: string) => `/v1.0/external/connections/${connection}/groups/${group}/members`;
const users = (count: number) => Array.from({ length: count }, () => ({ id: randomUUID(), type: 'user' }));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
type Row = Record<string, any>;

beforeAll(async () => {
  // The stack's own host takes no part: every request and every queued run goes through the proxy.
  proxied = await startProxiedStack(tableTimeoutMs);
  ({ stack, proxy, host, table } = proxied);
  stack.graph.seedConnection(connection, groups);
}, 90_000);

afterAll(async () => {
  await proxied?.stop();
});

beforeEach(() => {
  stack.graph.clearFaults();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) => stack.postTo(host.apiUrl, path, body, headers);

async function rowsOf(clientRequestId: string): Promise<{ bulk: Row | undefined; members: Row[] }> {
  const rows: Row[] = [];
  for await (const entity of table.listEntities<Row>({ queryOptions: { filter: `clientRequestId eq '${clientRequestId}'` } })) rows.push(entity);
  return { bulk: rows.find((row) => row.kind === 'bulk'), members: rows.filter((row) => row.kind === 'record').sort((a, b) => (a.rowKey < b.rowKey ? -1 : 1)) };
}

/** The entity group transaction that writes intents of a bulk request (its records `pending`), holding item `index`. */
const intentChunkHolding = (index: number) => (tableCall: TableCall) =>
  tableCall.method === 'POST' && tableCall.path.includes('$batch') && tableCall.body.includes(`.${String(index).padStart(5, '0')}"`) && tableCall.body.includes('"status":"pending"');

describe('defect 5: a bulk item answers what the single add would have', () => {
  it('never says alreadyMember for a member this request may have added (503 after the add, resend 409, another ask open)', async () => {
    const member = { id: randomUUID(), type: 'user' };
    const others = users(4);
    // B's single add is slow at Graph (its attempt open); A's bulk add is carried out and answered
    // 503, and its resend gets 409. B (another caller) then finds the member there.
    stack.graph.addFault({ method: 'POST', path: '/raced/members$', body: member.id, steps: [{ delayMs: 5_000 }, { status: 503, commit: true, retryAfter: '0.2' }] });
    const otherCaller = await stack.token({ claims: { oid: 'facade00-0000-4000-8000-0000000000b5', sub: 'facade00-0000-4000-8000-0000000000b5' }, roles: ['ExternalGroupMember.Create'] });
    const single = stack.postTo(host.apiUrl, membersPath('raced'), member, { authorization: `Bearer ${otherCaller}`, 'client-request-id': 'd5-single' });
    while (!stack.graph.graphRequests({ method: 'POST', path: /\/raced\/members$/ }).some((request) => request.headers['client-request-id'] === 'd5-single')) await sleep(20);

    const bulk = await post(bulkPath('raced'), { members: [others[0], member, ...others.slice(1)] }, { 'client-request-id': 'd5-bulk' });
    expect(bulk.status, JSON.stringify(bulk.body)).toBe(200);
    const result = bulk.body.results[1];
    const { members: records } = await rowsOf('d5-bulk');
    const record = records.find((row) => row.entityId === member.id)!;
    // The single add's answer in the same position: 502 createOutcomeUnknown, the record unknown.
    expect(record.status).toBe('unknown');
    expect(result).toMatchObject({ id: member.id, status: 'failed', error: { code: 'createOutcomeUnknown', httpStatus: 502 } });
    expect(bulk.body).toMatchObject({ created: 4, alreadyMember: 0, failed: 1 });
    expect((await single).status).toBe(409);
  }, 60_000);
});

describe('defect 8: an intent chunk whose transaction landed but whose answer was lost', () => {
  it('is read back, not waited out: every member is sent and created, well within the deadline', async () => {
    const members = users(120);
    const lost = proxy.loseAnswers({ matches: intentChunkHolding(60) });
    const began = Date.now();
    const response = await post(bulkPath('chunked'), { members }, { 'client-request-id': 'd8-bulk' });
    const tookMs = Date.now() - began;
    expect(lost.lost()).toHaveLength(1);
    expect(lost.lost()[0]!.status).toBe(202);
    expect(response.status, JSON.stringify(response.body).slice(0, 400)).toBe(200);
    expect(response.body).toMatchObject({ created: 120, alreadyMember: 0, failed: 0 });
    expect(tookMs).toBeLessThan(15_000);
    const { members: records } = await rowsOf('d8-bulk');
    expect(records).toHaveLength(120);
    expect(records.filter((record) => record.status !== 'succeeded').map((record) => [record.rowKey, record.status])).toEqual([]);
  }, 90_000);
});

describe('defect 8, its other half: an intent chunk that cannot be confirmed at all', () => {
  it('sends none of its members, and settles their records failed (they may have landed): none left pending to become unknown', async () => {
    const members = users(120);
    // Every answer to the chunk's transaction and to its read-backs is lost: it is never confirmed.
    const transactions = proxy.loseAnswers({ matches: intentChunkHolding(60), times: 3 });
    const readBacks = proxy.loseAnswers({ matches: (tableCall) => tableCall.method === 'GET' && tableCall.path.includes("RowKey gt '") && tableCall.path.includes('.000'), times: 3 });
    const response = await post(bulkPath('unwritten'), { members }, { 'client-request-id': 'd8-unwritten' });
    expect(transactions.lost().length).toBe(3);
    expect(readBacks.lost().length).toBeGreaterThan(0);
    expect(response.status, JSON.stringify(response.body).slice(0, 300)).toBe(200);
    const failed = members.filter((_, index) => response.body.results[index].status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThanOrEqual(50);
    expect(response.body.results.find((result: Row) => result.id === members[60]!.id)).toMatchObject({ status: 'failed', error: { code: 'auditStoreUnavailable', httpStatus: 503 } });
    expect(response.body.created).toBe(120 - failed.length);
    // Nothing of theirs reached Graph, and their records say so.
    const sent = new Set(stack.graph.batchSteps({ method: 'POST' }).map((step) => (step.body as { id?: string } | undefined)?.id));
    expect(failed.filter((member) => sent.has(member.id))).toEqual([]);
    const { members: records } = await rowsOf('d8-unwritten');
    const recordsOfFailed = records.filter((record) => failed.some((member) => member.id === record.entityId));
    expect(recordsOfFailed).toHaveLength(failed.length);
    expect(recordsOfFailed.map((record) => `${record.status} ${record.errorCode}`)).toEqual(failed.map(() => 'failed auditStoreUnavailable'));
  }, 90_000);
});

describe('defect 6: an accepted job always ends', () => {
  it('carries on when a lease renewal landed but its answer was lost (the next write’s 412 is its own)', async () => {
    const members = users(200);
    stack.graph.addFault({ method: 'POST', path: '\\$batch$', steps: Array(10).fill({ delayMs: 2_500 }) });
    const renewal = (tableCall: TableCall) =>
      (tableCall.method === 'PATCH' || tableCall.method === 'MERGE') && tableCall.body.includes('"leaseUntil"') && tableCall.body.includes('"done"') && !tableCall.body.includes('"status"');
    const lost = proxy.loseAnswers({ matches: renewal });
    const accepted = await post(bulkPath('leased'), { members }, { prefer: 'respond-async', 'client-request-id': 'd6-job' });
    expect(accepted.status).toBe(202);
    const { final, last } = await pollUntilDone(accepted.headers.get('location')!, await stack.token(), 60_000);
    expect(lost.lost().length, JSON.stringify(proxy.calls().filter((tableCall) => !['GET', 'POST'].includes(tableCall.method)).map((tableCall) => [tableCall.method, tableCall.body.slice(0, 200)]))).toBe(1);
    expect(final.status, JSON.stringify(last?.body)).toBe(200);
    expect(final.body).toMatchObject({ created: 200, alreadyMember: 0, failed: 0 });
    const made = stack.graph.creations().filter((creation) => creation.clientRequestId === 'd6-job');
    expect(new Set(made.map((creation) => creation.id)).size).toBe(200);
    expect(made).toHaveLength(200);
  }, 90_000);

  it('is queued again by its status URL when no run has held it for long (its message gone, e.g. to the poison queue)', async () => {
    const members = users(30);
    const requestedAt = new Date(Date.now() - 10 * 60_000);
    const requestId = randomUUID();
    const rowKey = recordRowKey(requestedAt, requestId);
    // A job whose run died and whose queue message is gone: running, its lease long over, no message.
    await table.createEntity({
      partitionKey: 'createExternalGroupMember',
      rowKey,
      kind: 'bulk',
      operation: 'addExternalGroupMembersInBulk',
      entityType: 'externalGroupMember',
      graphPath: membersPath('abandoned'),
      graphVersion: 'v1.0',
      requestId,
      clientRequestId: 'd6-abandoned',
      callerId: 'facade00-0000-4000-8000-0000000000d6',
      requestedAt,
      async: true,
      status: 'running',
      total: members.length,
      done: 0,
      runs: 1,
      leaseUntil: new Date(requestedAt.getTime() + 10_000),
      leaseOwner: 'pid-0/gone',
      earlierAttempts: '[]',
      ...toChunks('items', members),
    });
    const operator = await stack.token({ roles: ['Audit.Read'] });
    const { final, last } = await pollUntilDone(`${host.apiUrl}/jobs/${rowKey}`, operator, 30_000);
    expect(final.status, JSON.stringify(last?.body)).toBe(200);
    expect(final.body).toMatchObject({ created: 30, alreadyMember: 0, failed: 0 });
    const record = await table.getEntity<Row>('createExternalGroupMember', rowKey);
    expect(record).toMatchObject({ status: 'completed', runs: 2, created: 30 });
    expect(record.resumedAt).toBeInstanceOf(Date);
  }, 60_000);
});

describe('defect 7: the status URL when the table is slow', () => {
  it('answers 503 with Retry-After, never a 500 without it', async () => {
    const accepted = await post(bulkPath('polled'), { members: users(2) }, { prefer: 'respond-async' });
    expect(accepted.status).toBe(202);
    const id = accepted.body.id as string;
    const token = await stack.token();
    await pollUntilDone(accepted.headers.get('location')!, token, 30_000);
    const lost = proxy.loseAnswers({ matches: (tableCall) => tableCall.method === 'GET' && tableCall.path.includes(`RowKey='${id}'`) });
    const slow = await call(accepted.headers.get('location')!, { headers: { authorization: `Bearer ${token}` } });
    expect(lost.lost()).toHaveLength(1);
    expect(slow.status, JSON.stringify(slow.body)).toBe(503);
    expect(slow.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(slow.body.error.code).toBe('auditStoreUnavailable');
  }, 60_000);
});

describe('issue 18 point 1: a bulk request into a parent that does not exist', () => {
  it('answers Graph’s 404 itemNotFound naming the missing group, or the missing connection (sync)', async () => {
    const intoGroup = await post(bulkPath('nosuchgroup'), { members: users(3) }, { 'client-request-id': 'p1-group' });
    expect(intoGroup.status, JSON.stringify(intoGroup.body)).toBe(404);
    expect(intoGroup.body.error).toMatchObject({ code: 'itemNotFound', target: 'groupId', innerError: { 'request-id': expect.any(String) } });
    expect(intoGroup.body.error.message).toContain("'nosuchgroup'");
    expect(intoGroup.headers.get('request-id')).toBeTruthy();
    const intoConnection = await post(bulkPath('nosuchgroup', 'nosuchconn'), { members: users(3) });
    expect(intoConnection.status, JSON.stringify(intoConnection.body)).toBe(404);
    expect(intoConnection.body.error).toMatchObject({ code: 'itemNotFound', target: 'connectionId' });
    expect(intoConnection.body.error.message).toContain("'nosuchconn'");
    // The request's own record says it failed, with the error; its items' records say why each did.
    const { bulk, members } = await rowsOf('p1-group');
    expect(bulk).toMatchObject({ status: 'failed', errorCode: 'itemNotFound', failed: 3, created: 0 });
    expect(members.map((member) => [member.status, member.httpStatus])).toEqual(Array(3).fill(['failed', 404]));
  }, 60_000);

  it('reports an accepted job into a missing group failed with that 404 at its status URL', async () => {
    const accepted = await post(bulkPath('nosuchgroup'), { members: users(5) }, { prefer: 'respond-async' });
    expect(accepted.status).toBe(202);
    const { final } = await pollUntilDone(accepted.headers.get('location')!, await stack.token(), 30_000);
    expect(final.status, JSON.stringify(final.body)).toBe(404);
    expect(final.body.error).toMatchObject({ code: 'itemNotFound', target: 'groupId' });
    expect(final.body.error.message).toContain("'nosuchgroup'");
    const missingConnection = await post(bulkPath('g', 'nosuchconn'), { members: users(2) }, { prefer: 'respond-async' });
    const failed = await pollUntilDone(missingConnection.headers.get('location')!, await stack.token(), 30_000);
    expect(failed.final.status).toBe(404);
    expect(failed.final.body.error).toMatchObject({ code: 'itemNotFound', target: 'connectionId' });
  }, 60_000);

  it('keeps 200 with per-item results when only some members fail, and says so in failed', async () => {
    const members = users(6);
    stack.graph.addFault({ method: 'POST', path: '/partial/members$', body: members[2]!.id, steps: [{ status: 400, body: { error: { code: 'invalidRequest', message: 'Refused.' } } }] });
    const response = await post(bulkPath('partial'), { members });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ created: 5, alreadyMember: 0, failed: 1 });
    expect(response.body.results[2]).toMatchObject({ status: 'failed', error: { code: 'invalidRequest', httpStatus: 400 } });
  }, 60_000);
});

describe('issue 18 point 2: an item already there is no failure in the audit trail', () => {
  it('records alreadyExisted, which the failure queries leave out, and the bulk record shows its counts', async () => {
    const present = users(3);
    for (const member of present) expect((await post(membersPath('present'), member)).status).toBe(201);
    const started = new Date(Date.now() - 1_000).toISOString();
    const members = [...users(4), ...present];
    const response = await post(bulkPath('present'), { members }, { 'client-request-id': 'p2-bulk' });
    expect(response.body).toMatchObject({ created: 4, alreadyMember: 3, failed: 0 });
    const { bulk, members: records } = await rowsOf('p2-bulk');
    expect(records.filter((record) => present.some((member) => member.id === record.entityId)).map((record) => record.status)).toEqual(Array(3).fill('alreadyExisted'));
    expect(bulk).toMatchObject({ status: 'completed', created: 4, alreadyMember: 3, failed: 0 });

    const operator = await stack.token({ roles: ['Audit.Read'] });
    const query = async (status: string) =>
      call(`${host.apiUrl}/audit?status=${status}&operation=createExternalGroupMember&from=${encodeURIComponent(started)}`, { headers: { authorization: `Bearer ${operator}` } });
    const failures = await query('failed,unknown');
    expect(failures.status, JSON.stringify(failures.body)).toBe(200);
    expect(failures.body.value.filter((record: Row) => record.clientRequestId === 'p2-bulk')).toEqual([]);
    const already = await query('alreadyExisted');
    expect(already.body.value.filter((record: Row) => record.clientRequestId === 'p2-bulk').map((record: Row) => record.entityId).sort()).toEqual(present.map((member) => member.id).sort());
  }, 60_000);
});
