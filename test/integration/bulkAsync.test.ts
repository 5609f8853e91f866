import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { call, startTestStack, type ApiResponse, type HostProcess, type TestStack } from '../support/stack';
import { waitFor } from '../support/queues';

/**
 * The asynchronous pattern of bulk requests over real HTTP, with the queue-triggered runs served
 * by the local host from Azurite's queue as the Functions host serves them: 202 with a status URL
 * that any instance answers, and a job that survives the instance running it being killed.
 */

// A crashed instance's queue message reappears after 2 s (the Functions host keeps it 10 minutes).
const settings = { LOCAL_QUEUE_LEASE_SECONDS: '2' };
let stack: TestStack;
let other: HostProcess;
let table: TableClient;
const connection = 'asyncconn';
const bulkPath = (group: string) => `/v1.0/external/connections/${connection}/groups/${group}/members/bulk`;
const users = (count: number) => Array.from({ length: count }, () => ({ id: randomUUID(), type: 'user' }));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  stack = await startTestStack(settings);
  other = await stack.startAnotherHost();
  table = TableClient.fromConnectionString(stack.azurite.connectionString, stack.env.AUDIT_TABLE_NAME!, { allowInsecureConnection: true });
  stack.graph.seedConnection(connection, ['accepted', 'estimated', 'killed', 'guarded']);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

beforeEach(() => {
  stack.graph.clearFaults();
});

async function poll(location: string, token: string): Promise<ApiResponse> {
  return call(location, { headers: { authorization: `Bearer ${token}` } });
}

/** Polls until the status URL stops answering 202; every answer on the way must be a 202 with the progress. */
async function pollUntilDone(location: string, token: string, timeoutMs = 60_000): Promise<{ final: ApiResponse; polls: ApiResponse[] }> {
  const polls: ApiResponse[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await poll(location, token);
    // A 503 (the audit table slow on a busy machine) carries Retry-After: poll again, as a flow does.
    if (answer.status === 503) {
      expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
      if (Date.now() > deadline) throw new Error(`still 503 after ${timeoutMs} ms: ${JSON.stringify(answer.body)}`);
      await sleep(250);
      continue;
    }
    if (answer.status !== 202) return { final: answer, polls };
    polls.push(answer);
    if (Date.now() > deadline) throw new Error(`still 202 after ${timeoutMs} ms: ${JSON.stringify(answer.body)}`);
    await sleep(250);
  }
}

async function bulkRecord(id: string): Promise<Record<string, any>> {
  return table.getEntity('createExternalGroupMember', id);
}

async function memberRecords(id: string): Promise<Record<string, any>[]> {
  const rows: Record<string, any>[] = [];
  const filter = `PartitionKey eq 'createExternalGroupMember' and RowKey gt '${id}' and RowKey lt '${id}/'`;
  for await (const entity of table.listEntities<Record<string, any>>({ queryOptions: { filter } })) rows.push(entity);
  return rows;
}

describe('bulk members, accepted and carried out from the queue', () => {
  it('answers 202 to Prefer: respond-async, and the status URL, polled on another instance, answers 202 until done, then 200 with the results', async () => {
    const members = users(200);
    // Each batch takes 300 ms, so the work is still going on when first polled.
    stack.graph.addFault({ method: 'POST', path: '\\$batch$', steps: Array(10).fill({ delayMs: 300 }) });
    const token = await stack.token();
    const accepted = await stack.post(bulkPath('accepted'), { members }, { prefer: 'respond-async', 'client-request-id': 'async-accepted' });
    expect(accepted.status).toBe(202);
    const location = accepted.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^${stack.host.apiUrl}/jobs/\\d{13}_[0-9a-f-]{36}$`));
    expect(accepted.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(accepted.headers.get('preference-applied')).toBe('respond-async');
    expect(accepted.body).toEqual({ id: location.split('/').at(-1), status: 'accepted', total: 200, done: 0 });

    const onOther = location.replace(stack.host.apiUrl, other.apiUrl);
    const { final, polls } = await pollUntilDone(onOther, token);
    expect(polls.length).toBeGreaterThan(0);
    for (const running of polls) {
      expect(running.headers.get('location')).toBe(onOther);
      expect(running.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(running.body).toMatchObject({ id: accepted.body.id, status: expect.stringMatching(/^(accepted|running)$/), total: 200 });
    }
    expect(final.status).toBe(200);
    expect(final.body).toMatchObject({ created: 200, alreadyMember: 0, failed: 0 });
    expect(final.body.results).toEqual(members.map((member) => ({ id: member.id, status: 'created' })));
    expect(await bulkRecord(accepted.body.id)).toMatchObject({ kind: 'bulk', async: true, status: 'completed', runs: 1, created: 200 });
    // The first instance answers the same.
    expect((await poll(location, token)).body).toEqual(final.body);
  }, 90_000);

  it('answers 202 without being asked when the request is expected to take longer than BULK_ASYNC_AFTER_SECONDS', async () => {
    // A fresh instance expects 2 s a batch until it has seen some: 300 members, 4 rounds of 4 batches, pass 5 s.
    const impatient = await stack.startAnotherHost({ BULK_ASYNC_AFTER_SECONDS: '5' });
    try {
      const members = users(300);
      const accepted = await stack.postTo(impatient.apiUrl, bulkPath('estimated'), { members });
      expect(accepted.status).toBe(202);
      expect(accepted.headers.get('preference-applied')).toBeNull();
      const { final } = await pollUntilDone(accepted.headers.get('location')!, await stack.token());
      expect(final.body).toMatchObject({ created: 300 });
      // A small request on the same instance is answered at once.
      const small = await stack.postTo(impatient.apiUrl, bulkPath('estimated'), { members: users(2) });
      expect(small.status).toBe(200);
      expect(small.body).toMatchObject({ created: 2 });
    } finally {
      await impatient.stop();
    }
  }, 90_000);

});

describe('the status URL', () => {
  it('answers only the caller that made the request or an operator with Audit.Read', async () => {
    const accepted = await stack.postTo(other.apiUrl, bulkPath('guarded'), { members: users(3) }, { prefer: 'respond-async' });
    expect(accepted.status).toBe(202);
    const location = accepted.headers.get('location')!;
    await pollUntilDone(location, await stack.token());

    const someoneElse = await stack.token({ claims: { oid: 'facade00-0000-4000-8000-0000000000c1', sub: 'facade00-0000-4000-8000-0000000000c1' }, roles: ['ExternalGroupMember.Create'] });
    const denied = await poll(location, someoneElse);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('Authorization_RequestDenied');
    const operator = await stack.token({ claims: { oid: 'facade00-0000-4000-8000-0000000000c2', sub: 'facade00-0000-4000-8000-0000000000c2' }, roles: ['Audit.Read'] });
    expect((await poll(location, operator)).status).toBe(200);
    expect((await call(location)).status).toBe(401);
    const unknown = await poll(location.replace(/_[0-9a-f-]{36}$/, `_${randomUUID()}`), await stack.token());
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('itemNotFound');
    expect((await poll(location.replace(/[^/]+$/, 'not-an-id'), await stack.token())).status).toBe(404);
  }, 60_000);
});

// Last: it kills one of the two instances.
describe('an instance that dies mid-work', () => {
  it('survives the instance running it being killed: the message reappears, another instance finishes, and each member is added and settled once', async () => {
    const members = users(400);
    // Slow batches: the run is mid-work for several seconds.
    stack.graph.addFault({ method: 'POST', path: '\\$batch$', steps: Array(40).fill({ delayMs: 800 }) });
    const token = await stack.token();
    const accepted = await stack.post(bulkPath('killed'), { members }, { prefer: 'respond-async', 'client-request-id': 'async-killed' });
    expect(accepted.status).toBe(202);
    const id = accepted.body.id as string;

    // Wait until a run holds the job and has batches out, then kill its instance by its PID.
    const runner = await waitFor('a run mid-work', async () => {
      const record = await bulkRecord(id);
      return stack.graph.callCounts().batches > 0 && record.runs === 1 && typeof record.leaseOwner === 'string' && record.leaseOwner.startsWith('pid-') ? record : undefined;
    }, 30_000);
    await waitFor('batches in flight', () => stack.graph.batchSteps().filter((step) => step.headers['client-request-id'] === 'async-killed').length >= 60, 30_000);
    const pid = Number(/^pid-(\d+)\//.exec(runner.leaseOwner)![1]);
    const doomed = [stack.host, other].find((host) => host.pid === pid)!;
    const survivor = doomed === stack.host ? other : stack.host;
    expect(doomed, `the run's instance (pid ${pid}) is one of ours (${stack.host.pid}, ${other.pid})`).toBeDefined();
    process.kill(pid, 'SIGKILL');
    await doomed.stop();

    const { final } = await pollUntilDone(`${survivor.apiUrl}/jobs/${id}`, token, 90_000);
    expect(final.status).toBe(200);
    expect(final.body).toMatchObject({ created: 400, alreadyMember: 0, failed: 0 });
    expect(final.body.results).toEqual(members.map((member) => ({ id: member.id, status: 'created' })));

    const record = await bulkRecord(id);
    expect(record).toMatchObject({ status: 'completed', runs: 2, created: 400 });
    expect(record.leaseOwner).not.toMatch(new RegExp(`^pid-${pid}/`));
    const records = await memberRecords(id);
    expect(records).toHaveLength(400);
    expect(records.every((member) => member.status === 'succeeded')).toBe(true);
    // Graph made each member once, whatever was sent again.
    const made = stack.graph.creations().filter((creation) => creation.clientRequestId === 'async-killed');
    expect(made).toHaveLength(400);
    expect(new Set(made.map((creation) => creation.id)).size).toBe(400);
    const sent = stack.graph.batchSteps().filter((step) => step.headers['client-request-id'] === 'async-killed').length;
    process.stdout.write(`bulk job of 400 members, its first instance killed: ${sent} adds sent for 400 members, ${records.filter((member) => member.recovery === 'createConflict').length} settled by their 409 after a lost answer\n`);
  }, 150_000);
});
