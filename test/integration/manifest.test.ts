import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestStack, type ApiResponse, type TestStack } from '../support/stack';

/**
 * Connector manifests over real HTTP (local host, Azurite, Graph emulator, identity endpoint):
 * plan on an empty tenant, apply, plan again (all exists), apply again (only reads reach Graph),
 * invalid manifests, roles, Idempotency-Key, and a manifest with a schema followed to its end.
 */

let stack: TestStack;
let table: TableClient;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const users = (count: number) => Array.from({ length: count }, () => ({ id: randomUUID(), type: 'user' }));

const plan = '/v1.0/external/connectorManifests/plan';
const apply = '/v1.0/external/connectorManifests/apply';

function manifestFor(connectionId: string, membersPerGroup = 5) {
  return {
    connection: { id: connectionId, name: `Contoso ${connectionId}`, description: 'Tickets' },
    groups: [
      { id: `${connectionId}g1`, displayName: 'Marketing', members: users(membersPerGroup) },
      { id: `${connectionId}g2`, displayName: 'Sales', members: [...users(membersPerGroup), { id: `${connectionId}g1`, type: 'externalGroup' }] },
      { id: `${connectionId}g3`, displayName: 'Empty' },
    ],
    connectorGroups: [{ name: `On-premises ${connectionId}`, region: 'eur' }],
  };
}

beforeAll(async () => {
  stack = await startTestStack();
  table = TableClient.fromConnectionString(stack.azurite.connectionString, stack.env.AUDIT_TABLE_NAME!, { allowInsecureConnection: true });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

async function pollUntilDone(location: string, timeoutMs = 60_000): Promise<{ final: ApiResponse; waiting: ApiResponse[] }> {
  const token = await stack.token();
  const waiting: ApiResponse[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await call(location, { headers: { authorization: `Bearer ${token}` } });
    if (answer.status !== 202) return { final: answer, waiting };
    waiting.push(answer);
    if (Date.now() > deadline) throw new Error(`still 202 after ${timeoutMs} ms: ${JSON.stringify(answer.body)}`);
    await sleep(250);
  }
}

const graphCallsSince = (count: number) => stack.graph.requests.slice(count - (stack.graph.receivedCount - stack.graph.requests.length));

describe('plan and apply a manifest', () => {
  const manifest = manifestFor('manifestone');
  const memberCount = 11;
  const entityCount = 1 + 3 + memberCount + 1;

  it('plans every entity create on an empty tenant, writing nothing', async () => {
    const before = stack.graph.receivedCount;
    const answer = await stack.post(plan, manifest);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.connection).toMatchObject({ id: 'manifestone', action: 'create' });
    expect(answer.body.groups.map((group: { action: string }) => group.action)).toEqual(['create', 'create', 'create']);
    expect(answer.body.groups[1].members).toHaveLength(6);
    expect(answer.body.connectorGroups).toEqual([{ name: 'On-premises manifestone', action: 'create' }]);
    expect(answer.body.counts).toEqual({ create: entityCount, exists: 0, differs: 0 });
    const sent = graphCallsSince(before);
    expect(sent.every((request) => request.method === 'GET'), JSON.stringify(sent.map((request) => `${request.method} ${request.path}`))).toBe(true);
    expect(stack.graph.entityCounts()).toMatchObject({ connections: 0, groups: 0, members: 0 });
  });

  it('applies it: creates every entity once, each with its own audit record, and one record for the apply', async () => {
    const answer = await stack.post(apply, manifest, { 'client-request-id': 'manifest-apply-one' });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ status: 'completed', outcome: 'succeeded', counts: { created: entityCount, exists: 0, differs: 0, failed: 0, notAttempted: 0 } });
    expect(answer.body.connection).toMatchObject({ id: 'manifestone', outcome: 'created' });
    expect(answer.body.connection.auditRecordId).toMatch(/^\d{13}_/);
    expect(answer.body.groups[1].members.every((member: { outcome: string }) => member.outcome === 'created')).toBe(true);
    const made = stack.graph.creations().filter((creation) => creation.clientRequestId === 'manifest-apply-one');
    expect(made).toHaveLength(entityCount);
    expect(new Set(made.map((creation) => creation.path)).size).toBe(entityCount);
    // A group that is a member of another is created before it is added to it.
    const groupMade = made.find((creation) => creation.path.endsWith('/groups/manifestoneg1'))!;
    const addedAsMember = made.find((creation) => creation.path.endsWith('/groups/manifestoneg2/members/manifestoneg1'))!;
    expect(Date.parse(addedAsMember.at)).toBeGreaterThanOrEqual(Date.parse(groupMade.at));

    const record = await table.getEntity<Record<string, unknown>>('applyConnectorManifest', answer.body.id);
    expect(record).toMatchObject({ status: 'completed', outcome: 'succeeded', created: entityCount, failed: 0 });
    const connection = await table.getEntity<Record<string, unknown>>('createExternalConnection', answer.body.connection.auditRecordId);
    expect(connection).toMatchObject({ status: 'succeeded', entityId: 'manifestone', clientRequestId: 'manifest-apply-one' });
    const group = await table.getEntity<Record<string, unknown>>('createExternalGroup', answer.body.groups[0].auditRecordId);
    expect(group).toMatchObject({ status: 'succeeded', entityId: 'manifestoneg1' });
  });

  it('lists the apply in the audit trail with its outcome and counts, beside the records of the creates it made', async () => {
    const reader = `Bearer ${await stack.token({ roles: ['Audit.Read'] })}`;
    const audit = async (query: string) => call(`${stack.host.apiUrl}/audit?${query}`, { headers: { authorization: reader } });
    const applies = await audit('operation=applyConnectorManifest');
    expect(applies.status, JSON.stringify(applies.body)).toBe(200);
    const applyRecord = applies.body.value.find((record: { clientRequestId: string }) => record.clientRequestId === 'manifest-apply-one');
    expect(applyRecord).toMatchObject({ operation: 'applyConnectorManifest', entityId: 'manifestone', status: 'completed', outcome: 'succeeded', created: entityCount, failed: 0, notAttempted: 0 });

    // One client-request-id names the apply and everything it made.
    const all = await audit('clientRequestId=manifest-apply-one&$top=100');
    expect(all.status).toBe(200);
    const operations = all.body.value.map((record: { operation: string }) => record.operation);
    expect(operations).toContain('applyConnectorManifest');
    expect(operations.filter((operation: string) => operation === 'createExternalConnection')).toHaveLength(1);
    expect(operations.filter((operation: string) => operation === 'createExternalGroup')).toHaveLength(3);
    expect(operations.filter((operation: string) => operation === 'createConnectorGroup')).toHaveLength(1);
    expect(operations.filter((operation: string) => operation === 'createExternalGroupMember')).toHaveLength(memberCount);
    expect(all.body.value.every((record: { clientRequestId: string }) => record.clientRequestId === 'manifest-apply-one')).toBe(true);
  });

  it('plans every entity exists afterwards, saying who made it', async () => {
    const answer = await stack.post(plan, manifest);
    expect(answer.status).toBe(200);
    expect(answer.body.counts).toEqual({ create: 0, exists: entityCount, differs: 0 });
    expect(answer.body.connection.madeBy).toMatchObject({ operation: 'createExternalConnection', callerId: expect.any(String) });
    expect(answer.body.groups[0].madeBy).toMatchObject({ operation: 'createExternalGroup' });
    expect(answer.body.connectorGroups[0]).toMatchObject({ action: 'exists', madeBy: { operation: 'createConnectorGroup' } });
  });

  it('applies it again: creates nothing, sends Graph nothing but reads, and answers every entity exists', async () => {
    const before = stack.graph.receivedCount;
    const answer = await stack.post(apply, manifest, { 'client-request-id': 'manifest-apply-again' });
    expect(answer.status).toBe(200);
    expect(answer.body.counts).toEqual({ created: 0, exists: entityCount, differs: 0, failed: 0, notAttempted: 0 });
    const sent = graphCallsSince(before);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.filter((request) => request.method !== 'GET').map((request) => `${request.method} ${request.path}`)).toEqual([]);
    expect(stack.graph.creations().filter((creation) => creation.clientRequestId === 'manifest-apply-again')).toEqual([]);
  });

  it('reports an existing entity with other values as differs and changes nothing', async () => {
    const changed = { ...manifest, connection: { ...manifest.connection, name: 'Another name' } };
    const answer = await stack.post(plan, changed);
    expect(answer.body.connection).toMatchObject({ action: 'differs', differences: ['name'] });
    const applied = await stack.post(apply, changed);
    expect(applied.body.connection).toMatchObject({ outcome: 'differs', differences: ['name'] });
  });
});

describe('an invalid manifest', () => {
  it('is refused with every problem and its path, and nothing is sent to Graph', async () => {
    const manifest = manifestFor('manifestbad', 13);
    manifest.groups[1]!.members![12] = { id: 'not-a-guid', type: 'user' };
    (manifest.groups[0] as Record<string, unknown>).id = 'has space';
    (manifest.connectorGroups[0] as Record<string, unknown>).region = 'mars';
    const before = stack.graph.receivedCount;
    for (const path of [plan, apply]) {
      const answer = await stack.post(path, manifest);
      expect(answer.status).toBe(400);
      expect(answer.body.error.details.map((detail: { target: string }) => detail.target).sort()).toEqual(['connectorGroups[0].region', 'groups[0].id', 'groups[1].members[12].id']);
    }
    expect(stack.graph.receivedCount).toBe(before);
  });
});

describe('roles', () => {
  it('apply needs the role of every create the manifest contains; plan needs one of them', async () => {
    const manifest = manifestFor('manifestroles', 2);
    const token = await stack.token({ roles: ['ExternalConnection.Create', 'ExternalGroup.Create'] });
    const before = stack.graph.receivedCount;
    const refused = await stack.post(apply, manifest, {}, { token });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('ExternalGroupMember.Create');
    expect(refused.body.error.message).toContain('ConnectorGroup.Create');
    expect(stack.graph.receivedCount).toBe(before);
    const planned = await stack.post(plan, manifest, {}, { token: await stack.token({ roles: ['ConnectorGroup.Create'] }) });
    expect(planned.status).toBe(200);
    const none = await stack.post(plan, manifest, {}, { token: await stack.token({ roles: ['Audit.Read'] }) });
    expect(none.status).toBe(403);
  });
});

describe('Idempotency-Key', () => {
  it('replays the answer of an apply without reading or writing Graph again', async () => {
    const manifest = manifestFor('manifestkeyed', 2);
    const first = await stack.post(apply, manifest, { 'idempotency-key': 'manifest-key-1' });
    expect(first.status).toBe(200);
    const before = stack.graph.receivedCount;
    const again = await stack.post(apply, manifest, { 'idempotency-key': 'manifest-key-1' });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(stack.graph.receivedCount).toBe(before);
  });
});

describe('a manifest with a schema', () => {
  it('answers 202; its status says it waits on the schema, then the groups follow once Graph completed it', async () => {
    stack.graph.schemaRegistrations.provisioningMs = 2_000;
    const manifest = {
      ...manifestFor('manifestschema', 3),
      schema: { baseType: 'microsoft.graph.externalItem', properties: [{ name: 'title', type: 'String', isSearchable: true, isRetrievable: true, labels: ['title'] }] },
    };
    const accepted = await stack.post(apply, manifest, { 'client-request-id': 'manifest-schema' });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const location = accepted.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^${stack.host.apiUrl}/connectorManifestApplies/\\d{13}_[0-9a-f-]{36}$`));
    const { final, waiting } = await pollUntilDone(location);
    expect(waiting.some((answer) => answer.body.step === 'schema')).toBe(true);
    expect(final.status).toBe(200);
    expect(final.body).toMatchObject({ status: 'completed', outcome: 'succeeded', schema: { outcome: 'created' } });
    // Groups were created only after Graph's operation completed.
    const operation = stack.graph.schemaRegistrations.list().find((candidate) => candidate.connectionId === 'manifestschema')!;
    const groupsMade = stack.graph.creations().filter((creation) => creation.clientRequestId === 'manifest-schema' && /\/groups\/[^/]+$/.test(creation.path));
    expect(groupsMade).toHaveLength(3);
    expect(groupsMade.every((creation) => Date.parse(creation.at) >= operation.endsAt)).toBe(true);

    // The schema registration's record is listed too, naming the apply it belongs to.
    const reader = `Bearer ${await stack.token({ roles: ['Audit.Read'] })}`;
    const registrations = await call(`${stack.host.apiUrl}/audit?operation=registerConnectionSchema&clientRequestId=manifest-schema`, { headers: { authorization: reader } });
    expect(registrations.status, JSON.stringify(registrations.body)).toBe(200);
    expect(registrations.body.value).toEqual([
      expect.objectContaining({ operation: 'registerConnectionSchema', entityId: 'manifestschema', status: 'succeeded', operationStatus: 'completed', partOf: String(final.body.id).replace(/^\d{13}_/, '') }),
    ]);
  }, 90_000);

  it('reports a failed schema operation as failed, and creates nothing that depends on it', async () => {
    stack.graph.schemaRegistrations.provisioningMs = 300;
    stack.graph.schemaRegistrations.failNext(1, 'Server error, something went wrong');
    const manifest = {
      ...manifestFor('manifestschemafail', 2),
      schema: { baseType: 'microsoft.graph.externalItem', properties: [{ name: 'title', type: 'String', isRetrievable: true }] },
    };
    const accepted = await stack.post(apply, manifest, { 'client-request-id': 'manifest-schema-fail' });
    expect(accepted.status).toBe(202);
    const { final } = await pollUntilDone(accepted.headers.get('location')!);
    expect(final.body).toMatchObject({ status: 'completed', outcome: 'failed', schema: { outcome: 'failed', error: { message: 'Server error, something went wrong' } } });
    expect(final.body.groups.every((group: { outcome: string }) => group.outcome === 'notAttempted')).toBe(true);
    expect(stack.graph.creations().filter((creation) => creation.clientRequestId === 'manifest-schema-fail' && creation.path.includes('/groups/'))).toEqual([]);
  }, 90_000);
});
