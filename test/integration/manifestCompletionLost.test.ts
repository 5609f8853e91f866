import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestStack, type HostProcess, type TestStack } from '../support/stack';
import { startTableAnswerProxy, type TableAnswerProxy } from '../support/tableAnswerProxy';

/**
 * A small apply answered at once whose completion write (the apply's record set `completed` with
 * its results) lands but loses its answer: the apply is done and its results are known, so its 200
 * says `completed` with them — not `running` without results, which no caller can act on (found
 * by the exactly-once simulation's manifest step). The record is completed all the same.
 */

const tableTimeoutMs = 1_500;
let stack: TestStack;
let proxy: TableAnswerProxy;
let host: HostProcess;
let table: TableClient;

beforeAll(async () => {
  // Every request goes through the proxy, which can lose a table call's answer.
  stack = await startTestStack({ AUDIT_TABLE_TIMEOUT_MS: String(tableTimeoutMs) });
  await stack.host.stop();
  proxy = await startTableAnswerProxy(stack.azurite.port, stack.azurite.connectionString);
  host = await stack.startAnotherHost({ AuditStorage: proxy.connectionString });
  table = TableClient.fromConnectionString(stack.azurite.connectionString, stack.env.AUDIT_TABLE_NAME!, { allowInsecureConnection: true });
}, 90_000);

afterAll(async () => {
  await proxy?.close();
  await stack?.stop();
});

it('answers 200 with the results when the completion write of its record loses its answer', { timeout: 60_000 }, async () => {
  const manifest = { connection: { id: 'completionlost', name: 'Contoso completion', description: 'Tickets' }, groups: [{ id: 'completionlostg1', displayName: 'Sales' }] };
  const lost = proxy.loseAnswers({
    matches: (call) => call.path.includes("PartitionKey='applyConnectorManifest'") && call.body.includes('"status":"completed"'),
  });
  const answer = await stack.postTo(host.apiUrl, '/v1.0/external/connectorManifests/apply', manifest);
  expect(lost.lost(), 'the completion write was made and its answer lost').toHaveLength(1);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body, JSON.stringify(answer.body)).toMatchObject({
    status: 'completed',
    outcome: 'succeeded',
    counts: { created: 2, exists: 0, failed: 0, notAttempted: 0 },
    connection: { id: 'completionlost', outcome: 'created' },
    groups: [{ id: 'completionlostg1', outcome: 'created' }],
  });
  const record = await table.getEntity<Record<string, unknown>>('applyConnectorManifest', answer.body.id);
  expect(record).toMatchObject({ status: 'completed', outcome: 'succeeded', created: 2 });
});
