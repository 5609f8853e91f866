import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let table: TableClient;
const bulkPath = '/v1.0/external/connections/bulkconn/groups/team/members/bulk';
const users = (count: number) => Array.from({ length: count }, () => ({ id: randomUUID(), type: 'user' }));

beforeAll(async () => {
  stack = await startTestStack();
  table = TableClient.fromConnectionString(stack.azurite.connectionString, stack.env.AUDIT_TABLE_NAME!, { allowInsecureConnection: true });
  stack.graph.seedConnection('bulkconn', ['team']);
});

afterAll(async () => {
  await stack?.stop();
});

beforeEach(() => {
  stack.graph.clearFaults();
});

describe('bulk members, synchronously', () => {
  it('adds 1,000 members in at most 50 Graph HTTP calls, one batch of 20 each', async () => {
    const members = users(1000);
    const before = stack.graph.callCounts();
    const started = Date.now();
    const response = await stack.post(bulkPath, { members }, { 'client-request-id': 'bulk-thousand' });
    const after = stack.graph.callCounts();
    console.log(Date.now() - started, after, before);
    expect(response.status, JSON.stringify(response.body).slice(0, 500)).toBe(200);
    expect(response.body).toMatchObject({ created: 1000, alreadyMember: 0, failed: 0 });
    expect(after.httpCalls - before.httpCalls).toBeLessThanOrEqual(50);
  }, 120_000);
});
