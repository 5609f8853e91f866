import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { recordRowKey } from '../../shared/audit/auditRecord';
import { toChunks } from '../../shared/bulk/bulkRecord';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestStack, type ApiResponse, type TestStack } from '../support/stack';

/**
 * registerConnectionSchema over real HTTP, with the queue-triggered follow-up served by the local
 * host from Azurite's queue: 202 with a status URL, followed until Graph's operation completed or
 * failed, and an audit record that stays open until then.
 */

let stack: TestStack;
let table: TableClient;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const schema = {
  baseType: 'microsoft.graph.externalItem',
  properties: [
    { name: 'ticketTitle', type: 'String', isSearchable: true, isRetrievable: true, labels: ['title'] },
    { name: 'priority', type: 'String', isQueryable: true, isRetrievable: true, isSearchable: false },
    { name: 'assignee', type: 'String', isRetrievable: true },
  ],
};

beforeAll(async () => {
  stack = await startTestStack();
  table = TableClient.fromConnectionString(stack.azurite.connectionString, stack.env.AUDIT_TABLE_NAME!, { allowInsecureConnection: true });
  stack.graph.seedConnection('schemadone');
  stack.graph.seedConnection('schemafails');
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

async function pollUntilDone(location: string, timeoutMs = 30_000): Promise<{ final: ApiResponse; running: ApiResponse[] }> {
  const token = await stack.token();
  const running: ApiResponse[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await call(location, { headers: { authorization: `Bearer ${token}` } });
    if (answer.status !== 202) return { final: answer, running };
    running.push(answer);
    if (Date.now() > deadline) throw new Error(`still 202 after ${timeoutMs} ms: ${JSON.stringify(answer.body)}`);
    await sleep(200);
  }
}

const patches = (connection: string) => stack.graph.graphRequests({ method: 'PATCH', path: new RegExp(`/external/connections/${connection}/schema$`) });

describe('registerConnectionSchema', () => {
  it('answers 202 with a status URL; the registration is followed to completed and its audit record stays pending/running until then', async () => {
    stack.graph.schemaRegistrations.provisioningMs = 1_500;
    const accepted = await stack.post('/v1.0/external/connections/schemadone/schema', schema);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const location = accepted.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^${stack.host.apiUrl}/schemaRegistrations/\\d{13}_[0-9a-f-]{36}$`));
    expect(accepted.body).toMatchObject({ connectionId: 'schemadone', status: 'running', operationStatus: 'inprogress' });
    const record = await table.getEntity<Record<string, unknown>>('registerConnectionSchema', accepted.body.id);
    expect(record.status).toBe('running');
    expect(record.operationPath).toMatch(/^\/v1\.0\/external\/connections\/schemadone\/operations\/[0-9a-f-]{36}$/);

    const { final, running } = await pollUntilDone(location);
    expect(running.length).toBeGreaterThan(0);
    expect(final.status).toBe(200);
    expect(final.body).toMatchObject({ id: accepted.body.id, connectionId: 'schemadone', status: 'succeeded', operationStatus: 'completed' });
    const settled = await table.getEntity<Record<string, unknown>>('registerConnectionSchema', accepted.body.id);
    expect(settled.status).toBe('succeeded');
    expect(Number(settled.polls)).toBeGreaterThan(0);
    // The PATCH was sent once, as validated; the connection is ready.
    expect(patches('schemadone')).toHaveLength(1);
    expect(patches('schemadone')[0]!.body).toEqual(schema);
    expect(stack.graph.schemaRegistrations.list().filter((operation) => operation.connectionId === 'schemadone').map((operation) => operation.status)).toEqual(['completed']);
  }, 60_000);

  it('reports a failed operation as failed, with Graph’s error, in the status and the audit record', async () => {
    stack.graph.schemaRegistrations.provisioningMs = 300;
    stack.graph.schemaRegistrations.failNext(1, 'Server error, something went wrong');
    const accepted = await stack.post('/v1.0/external/connections/schemafails/schema', schema);
    expect(accepted.status).toBe(202);
    const { final } = await pollUntilDone(accepted.headers.get('location')!);
    expect(final.status).toBe(200);
    expect(final.body).toMatchObject({ status: 'failed', operationStatus: 'failed', error: { code: 'schemaProvisioningFailed', message: 'Server error, something went wrong' } });
    const settled = await table.getEntity<Record<string, unknown>>('registerConnectionSchema', accepted.body.id);
    expect(settled).toMatchObject({ status: 'failed', errorMessage: 'Server error, something went wrong' });
  }, 60_000);

  it('refuses a schema against Graph’s rules with every problem and its path, sending nothing', async () => {
    const before = stack.graph.graphRequests({ method: 'PATCH' }).length;
    const invalid = await stack.post('/v1.0/external/connections/schemadone/schema', {
      baseType: 'microsoft.graph.externalItem',
      properties: [
        { name: 'has space', type: 'String' },
        { name: 'count', type: 'Int64', isSearchable: true },
        { name: 'title', type: 'String', labels: ['title'] },
      ],
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.details.map((detail: { target: string }) => detail.target).sort()).toEqual(['properties[0].name', 'properties[1]', 'properties[2]']);
    expect(stack.graph.graphRequests({ method: 'PATCH' }).length).toBe(before);
  });

  it('answers Graph’s 404 for a connection that does not exist, and records the registration failed', async () => {
    const missing = await stack.post('/v1.0/external/connections/nosuchconn/schema', schema);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('itemNotFound');
  });

  it('is queued again by its status URL when no run has looked at it for long (its message gone, e.g. to the poison queue)', async () => {
    stack.graph.seedConnection('schemaabandoned');
    stack.graph.schemaRegistrations.provisioningMs = 500;
    const token = await stack.token();
    const callerId = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).oid as string;
    const requestedAt = new Date(Date.now() - 10 * 60_000);
    const requestId = randomUUID();
    const rowKey = recordRowKey(requestedAt, requestId);
    await table.createTable();
    // A registration recorded and never sent, its message gone: pending, its request's time long over.
    await table.createEntity({
      partitionKey: 'registerConnectionSchema',
      rowKey,
      kind: 'schemaRegistration',
      operation: 'registerConnectionSchema',
      entityType: 'connectionSchema',
      entityId: 'schemaabandoned',
      graphVersion: 'v1.0',
      graphPath: '/v1.0/external/connections/schemaabandoned/schema',
      requestId,
      clientRequestId: 'schema-abandoned',
      callerId,
      requestedAt,
      status: 'pending',
      sendingUntil: new Date(requestedAt.getTime() + 30_000),
      polls: 0,
      ...toChunks('items', schema),
    });
    const { final } = await pollUntilDone(`${stack.host.apiUrl}/schemaRegistrations/${rowKey}`);
    expect(final.status).toBe(200);
    expect(final.body).toMatchObject({ status: 'succeeded', operationStatus: 'completed' });
    expect(patches('schemaabandoned')).toHaveLength(1);
    const record = await table.getEntity<Record<string, unknown>>('registerConnectionSchema', rowKey);
    expect(record.resumedAt).toBeInstanceOf(Date);
  });
});
