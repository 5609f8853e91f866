import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestStack, type HostProcess, type TestStack } from '../support/stack';
import { serviceBusy, startTableProxy, type TableProxy } from '../support/tableProxy';

/**
 * A bulk add whose item settlement is refused once by the table service writes it again, as a
 * single create's outcome is: the item answered `created` has a record that says `succeeded`. It
 * used to be written once, so the record stayed `pending` and reconciliation settled it `failed`
 * when another request of the same ask had made the member (found by the exactly-once simulation,
 * runs started from 1223797067, schedule 324: `bulkResultAgrees`).
 */

let stack: TestStack;
let proxy: TableProxy;
let host: HostProcess;
let table: TableClient;
const members = '/v1.0/external/connections/settlerefused/groups/team/members';
/** The table client's tries of one call: the first and its two retries (shared/storage/table.ts). */
const storageClientTries = 3;

beforeAll(async () => {
  stack = await startTestStack();
  proxy = await startTableProxy(stack.azurite);
  host = await stack.startAnotherHost({ AuditStorage: proxy.connectionString });
  table = TableClient.fromConnectionString(stack.azurite.connectionString, stack.env.AUDIT_TABLE_NAME!, { allowInsecureConnection: true });
  expect((await stack.post('/v1.0/external/connections', { id: 'settlerefused', name: 'Settlement refused' })).status).toBe(201);
  expect((await stack.post('/v1.0/external/connections/settlerefused/groups', { id: 'team' })).status).toBe(201);
}, 90_000);

afterAll(async () => {
  await proxy?.close();
  await stack?.stop();
});

async function recordsOf(clientRequestId: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const entity of table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `clientRequestId eq '${clientRequestId}'` } })) {
    if (entity.kind === 'record') rows.push(entity);
  }
  return rows;
}

it('a bulk item answered created whose settlement was refused once is recorded succeeded', async () => {
  const member = { id: randomUUID(), type: 'user' };
  // The first write that settles the item (its record `succeeded`) is refused, each of the
  // storage client's own tries of it (three); what follows passes.
  let refused = 0;
  proxy.intercept(async (call, forward) => {
    if (refused < storageClientTries && call.method !== 'GET' && call.body.includes('"status":"succeeded"')) {
      refused += 1;
      return serviceBusy;
    }
    return forward();
  });
  try {
    const bulk = await stack.postTo(host.apiUrl, `${members}/bulk`, { members: [member] }, { 'client-request-id': 'settle-refused' });
    expect(bulk.status, JSON.stringify(bulk.body)).toBe(200);
    expect(bulk.body.results[0]).toMatchObject({ id: member.id, status: 'created' });
  } finally {
    proxy.intercept(undefined);
  }
  expect(refused).toBe(storageClientTries);
  const records = await recordsOf('settle-refused');
  expect(records.map((record) => record.status)).toEqual(['succeeded']);
}, 60_000);
