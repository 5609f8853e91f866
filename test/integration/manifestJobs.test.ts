import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordRowKey } from '../../shared/audit/auditRecord';
import { toChunks } from '../../shared/bulk/bulkRecord';
import type { HostProcess, TestStack } from '../support/stack';
import { pollUntilDone, startProxiedStack, type ProxiedStack } from '../support/proxiedStack';
import type { TableAnswerProxy, TableCall } from '../support/tableAnswerProxy';

/**
 * An accepted manifest apply always ends, over real HTTP (the local host, Azurite, the Graph
 * emulator), by the rules an accepted bulk job keeps: a 412 after a write of the run's own whose
 * answer was lost is checked against the row, and an apply no run has held for long is queued
 * again by its status URL. Lost storage answers come from a proxy in front of Azurite's table
 * service that carries a chosen write out and never delivers its answer.
 */

const tableTimeoutMs = 1_500;
let proxied: ProxiedStack;
let stack: TestStack;
let proxy: TableAnswerProxy;
let host: HostProcess;
let table: TableClient;
const apply = '/v1.0/external/connectorManifests/apply';
const users = (count: number) => Array.from({ length: count }, () => ({ id: randomUUID(), type: 'user' }));

beforeAll(async () => {
  // The stack's own host takes no part: every request and every queued run goes through the proxy.
  proxied = await startProxiedStack(tableTimeoutMs);
  ({ stack, proxy, host, table } = proxied);
}, 90_000);

afterAll(async () => {
  await proxied?.stop();
});

beforeEach(() => {
  stack.graph.clearFaults();
});

/** A lease renewal of an apply's record: its lease alone, nothing of its progress. */
const applyLeaseRenewal = (tableCall: TableCall) =>
  (tableCall.method === 'PATCH' || tableCall.method === 'MERGE') &&
  tableCall.path.includes("PartitionKey='applyConnectorManifest'") &&
  tableCall.body.includes('"leaseUntil"') &&
  !['"status"', '"state"', '"step"'].some((property) => tableCall.body.includes(property));

describe('an accepted manifest apply always ends', () => {
  it('carries on when a lease renewal landed but its answer was lost (the next write’s 412 is its own)', async () => {
    const manifest = { connection: { id: 'leasedapply', name: 'Leased apply' }, groups: [{ id: 'leasedg', displayName: 'Leased', members: users(200) }] };
    // Graph is slow with the member batches, so the run holds its lease long enough to renew it.
    stack.graph.addFault({ method: 'POST', path: '\\$batch$', steps: Array(10).fill({ delayMs: 2_500 }) });
    const lost = proxy.loseAnswers({ matches: applyLeaseRenewal });
    const accepted = await stack.postTo(host.apiUrl, apply, manifest, { prefer: 'respond-async', 'client-request-id': 'leased-apply' });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const { final, last } = await pollUntilDone(accepted.headers.get('location')!, await stack.token(), 60_000);
    expect(lost.lost().length).toBe(1);
    expect(final.status, JSON.stringify(last?.body)).toBe(200);
    expect(final.body).toMatchObject({ status: 'completed', outcome: 'succeeded', counts: { created: 202, failed: 0, notAttempted: 0 } });
    const made = stack.graph.creations().filter((creation) => creation.clientRequestId === 'leased-apply');
    expect(new Set(made.map((creation) => creation.path)).size).toBe(202);
    expect(made).toHaveLength(202);
  }, 90_000);

  it('is queued again by its status URL when no run has held it for long (its message gone, e.g. to the poison queue)', async () => {
    const manifest = { connection: { id: 'abandonedapply', name: 'Abandoned apply' }, groups: [{ id: 'abandonedg', displayName: 'Abandoned', members: users(3) }] };
    const requestedAt = new Date(Date.now() - 10 * 60_000);
    const requestId = randomUUID();
    const rowKey = recordRowKey(requestedAt, requestId);
    const caller = await stack.token();
    const callerId = JSON.parse(Buffer.from(caller.split('.')[1]!, 'base64url').toString('utf8')).oid as string;
    // An apply whose run died and whose queue message is gone: running, its lease long over, no message.
    await table.createEntity({
      partitionKey: 'applyConnectorManifest',
      rowKey,
      kind: 'manifestApply',
      operation: 'applyConnectorManifest',
      entityType: 'connectorManifest',
      entityId: manifest.connection.id,
      graphVersion: 'v1.0',
      requestId,
      clientRequestId: 'abandoned-apply',
      callerId,
      callerKind: 'app',
      callerRoles: JSON.stringify(['ExternalConnection.Create', 'ExternalGroup.Create', 'ExternalGroupMember.Create']),
      callerScopes: '[]',
      requestedAt,
      async: true,
      status: 'running',
      state: JSON.stringify({ memberRuns: {} }),
      runs: 1,
      leaseUntil: new Date(requestedAt.getTime() + 10_000),
      leaseOwner: 'pid-0/gone',
      ...toChunks('items', manifest),
    });
    const { final, last } = await pollUntilDone(`${host.apiUrl}/connectorManifestApplies/${rowKey}`, caller, 30_000);
    expect(final.status, JSON.stringify(last?.body)).toBe(200);
    expect(final.body).toMatchObject({ status: 'completed', outcome: 'succeeded', counts: { created: 5, failed: 0 } });
    const record = await table.getEntity<Record<string, unknown>>('applyConnectorManifest', rowKey);
    expect(record).toMatchObject({ status: 'completed', runs: 2 });
    expect(record.resumedAt).toBeInstanceOf(Date);
  }, 60_000);
});
