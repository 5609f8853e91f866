import { describe, expect, it } from 'vitest';
import type { EntityIndexRow, OpenAttemptRow } from '../../shared/audit/auditRecord';
import type { StoredAuditRecord } from '../../shared/audit/auditStore';
import { FacadeError } from '../../shared/errors';
import type { GraphRequest, SendOptions } from '../../shared/graph/graphClient';
import { createConnectorGroup } from '../../functions/createConnectorGroup';
import { createExternalConnection } from '../../functions/createExternalConnection';
import { createExternalGroup } from '../../functions/createExternalGroup';
import { createExternalGroupMember } from '../../functions/createExternalGroupMember';
import type { OperationDefinition } from '../../shared/operations/operation';
import type { OwnAttempt, RecoveryDependencies } from '../../shared/recovery/attribution';
import { attemptsAnsweredByCreate, resolveConflict } from '../../shared/recovery/conflict';
import { accountForEarlierAttempts } from '../../shared/recovery/earlierAttempts';
import { judgeRecord } from '../../shared/recovery/settleRecord';

/**
 * The lost-answer rules, one decision at a time, against a small audit table and Graph kept in
 * memory (the fault simulation runs the same rules against Azurite and the Graph emulator).
 */

const now = Date.parse('2026-11-28T12:00:00Z');
const hour = 3_600_000;
const retentionMs = 24 * hour;

interface Scene {
  records: StoredAuditRecord[];
  index?: EntityIndexRow;
  /** Graph's answers to reads, by path. */
  reads?: Record<string, { status: number; body?: unknown }>;
}

function depsOf(scene: Scene): RecoveryDependencies & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    clock: { now: () => now },
    retentionMs,
    reconcileAfterMs: 10 * 60_000,
    audit: {
      get: async ({ rowKey }) => scene.records.find((record) => record.rowKey === rowKey),
      indexOf: async () => scene.index,
      openAttempts: async (): Promise<OpenAttemptRow[]> =>
        scene.records
          .filter((record) => record.status === 'pending' || record.status === 'unknown')
          .map((record) => ({
            partitionKey: record.partitionKey,
            rowKey: `open_x_${record.rowKey}`,
            kind: 'attempt',
            state: 'open',
            recordRowKey: record.rowKey,
            askKey: record.askKey,
            callerId: record.callerId,
            requestedAt: record.requestedAt,
            expiresAt: new Date(new Date(record.requestedAt).getTime() + retentionMs),
          })),
    },
    graph: {
      relativePath: (link: string) => new URL(link).pathname,
      send: async (request: GraphRequest, _options: SendOptions) => {
        if (request.method !== 'GET') throw new Error(`recovery sent a ${request.method}`);
        reads.push(request.path);
        const answer = scene.reads?.[request.path] ?? { status: 404 };
        return { response: { status: answer.status, body: answer.body, requestId: 'graph-1', retryAfter: undefined }, retries: 0, earlierAttemptUncertain: false };
      },
    },
  };
}

let sequence = 0;
function record(operation: OperationDefinition, fields: Partial<StoredAuditRecord> & Pick<StoredAuditRecord, 'graphPath' | 'askKey' | 'entityKey'>): StoredAuditRecord {
  sequence += 1;
  const body = (fields.requestBody as string | undefined) ?? JSON.stringify({ id: 'c1', name: 'Mine' });
  return {
    partitionKey: operation.name,
    rowKey: `rk${sequence}`,
    kind: 'record',
    operation: operation.name,
    entityType: operation.entityType,
    entityId: 'c1',
    graphVersion: 'v1.0',
    requestId: `req${sequence}`,
    clientRequestId: `crid${sequence}`,
    callerId: 'caller-a',
    requestedAt: new Date(now - 20 * 60_000 + sequence),
    deadlineAt: new Date(now - 19 * 60_000),
    status: 'unknown',
    requestBodyTruncated: false,
    reconcileAfter: new Date(now - 20 * 60_000),
    etag: `etag${sequence}`,
    ...fields,
    requestBody: body,
  };
}

const connection = { graphPath: '/v1.0/external/connections', entityKey: 'external/connections/c1' };
function ownConnection(fields: Partial<OwnAttempt> = {}): OwnAttempt {
  return {
    operation: createExternalConnection,
    rowKey: 'own',
    askKey: 'ask-a',
    entityKey: connection.entityKey,
    graphPath: connection.graphPath,
    body: { id: 'c1', name: 'Mine' },
    entity: { id: 'c1', path: 'external/connections/c1' },
    headers: {},
    deadlineAt: now + 30_000,
    ...fields,
  };
}
const held = (body: Record<string, unknown>) => ({ '/v1.0/external/connections/c1': { status: 200, body: { ...body, state: 'draft' } } });

describe('after a 409: is the entity this ask’s?', () => {
  it('not when the entity index names another request as its maker', async () => {
    const deps = depsOf({ records: [], index: { partitionKey: 'p', rowKey: 'entity_x', kind: 'entity', auditRowKey: 'someone-else', proof: 'answered', entityPath: 'external/connections/c1' } });
    expect(await resolveConflict(deps, ownConnection(), true)).toEqual({ kind: 'notOurs' });
  });

  it('undecided when the index names the maker of another spelling of the id (Graph may count them as one entity, or not)', async () => {
    const deps = depsOf({ records: [], index: { partitionKey: 'p', rowKey: 'entity_x', kind: 'entity', auditRowKey: 'someone-else', proof: 'answered', entityPath: 'external/connections/C1' } });
    expect(await resolveConflict(deps, ownConnection(), true)).toMatchObject({ kind: 'undecided', reason: expect.stringMatching(/letter case/) });
    expect(await resolveConflict(deps, ownConnection(), false)).toEqual({ kind: 'notOurs' });
  });

  it('not when no attempt of this ask may have made it (Graph’s 409 is passed on, nothing is read)', async () => {
    const deps = depsOf({ records: [], reads: held({ id: 'c1', name: 'Mine' }) });
    expect(await resolveConflict(deps, ownConnection(), false)).toEqual({ kind: 'notOurs' });
    expect(deps.reads).toEqual([]);
  });

  it('yes when this request’s own attempt was lost and the entity holds what it sent', async () => {
    const deps = depsOf({ records: [], reads: held({ id: 'c1', name: 'Mine', configuration: { authorizedAppIds: ['app'] } }) });
    const verdict = await resolveConflict(deps, ownConnection(), true);
    expect(verdict).toMatchObject({ kind: 'ours', attribution: { recovery: 'readBack', settles: [] } });
    expect(verdict.kind === 'ours' && verdict.attribution.madeBy).toBeUndefined();
  });

  it('yes, made by the earlier request of the same ask, which this answer settles', async () => {
    const earlier = record(createExternalConnection, { ...connection, askKey: 'ask-a' });
    const deps = depsOf({ records: [earlier], reads: held({ id: 'c1', name: 'Mine' }) });
    const verdict = await resolveConflict(deps, ownConnection(), false);
    expect(verdict).toMatchObject({
      kind: 'ours',
      attribution: { recovery: 'earlierAttempt', madeBy: earlier.rowKey, settles: [{ record: { rowKey: earlier.rowKey }, outcome: { status: 'succeeded', recovery: 'laterRequest' } }] },
    });
  });

  it('undecided when another ask’s open attempt could have made the same entity', async () => {
    const rival = record(createExternalConnection, { ...connection, askKey: 'ask-b', callerId: 'caller-b' });
    const deps = depsOf({ records: [rival], reads: held({ id: 'c1', name: 'Mine' }) });
    expect(await resolveConflict(deps, ownConnection(), true)).toMatchObject({ kind: 'undecided' });
    expect(await resolveConflict(deps, ownConnection(), false)).toEqual({ kind: 'notOurs' });
  });

  it('undecided, never another’s 409, when an open earlier attempt of this ask (a keyed retry’s, an apply’s earlier run) and another ask’s could each have made it', async () => {
    const earlier = record(createExternalConnection, { ...connection, askKey: 'ask-a' });
    const rival = record(createExternalConnection, { ...connection, askKey: 'ask-b', callerId: 'caller-b' });
    const deps = depsOf({ records: [earlier, rival], reads: held({ id: 'c1', name: 'Mine' }) });
    // This request's own attempt was answered (409): the earlier attempt of its ask may still have made the entity.
    expect(await resolveConflict(deps, ownConnection(), false)).toMatchObject({ kind: 'undecided', reason: expect.stringContaining(rival.rowKey) });
  });

  it('ours when the other ask’s body is not what Graph holds', async () => {
    const rival = record(createExternalConnection, { ...connection, askKey: 'ask-b', requestBody: JSON.stringify({ id: 'c1', name: 'Theirs' }) });
    const deps = depsOf({ records: [rival], reads: held({ id: 'c1', name: 'Mine' }) });
    expect(await resolveConflict(deps, ownConnection(), true)).toMatchObject({ kind: 'ours' });
  });

  it('not ours when the entity holds something else', async () => {
    const deps = depsOf({ records: [], reads: held({ id: 'c1', name: 'Theirs' }) });
    expect(await resolveConflict(deps, ownConnection(), true)).toEqual({ kind: 'notOurs' });
  });

  it('an attempt of the same ask past the retention no longer counts as this request’s: it is a rival', async () => {
    const old = record(createExternalConnection, { ...connection, askKey: 'ask-a', requestedAt: new Date(now - 25 * hour) });
    const deps = depsOf({ records: [old], reads: held({ id: 'c1', name: 'Mine' }) });
    expect(await resolveConflict(deps, ownConnection(), true)).toMatchObject({ kind: 'undecided' });
  });

  it('for members (no read), any open attempt of another ask leaves it undecided; the ask’s own is recovered by its 409', async () => {
    const member = { graphPath: '/v1.0/external/connections/c1/groups/g1/members', entityKey: 'external/connections/c1/groups/g1/members/m1' };
    const own = ownConnection({
      operation: createExternalGroupMember,
      entityKey: member.entityKey,
      graphPath: member.graphPath,
      body: { id: 'm1', type: 'user' },
      entity: { id: 'm1', path: member.entityKey },
    });
    const rival = record(createExternalGroupMember, { ...member, askKey: 'ask-b' });
    expect(await resolveConflict(depsOf({ records: [rival] }), own, true)).toMatchObject({ kind: 'undecided' });
    const earlier = record(createExternalGroupMember, { ...member, askKey: 'ask-a' });
    const verdict = await resolveConflict(depsOf({ records: [earlier] }), own, false);
    expect(verdict).toMatchObject({ kind: 'ours', attribution: { entity: { id: 'm1', type: 'user' }, madeBy: earlier.rowKey } });
  });

  it('reads a beta group back on v1.0, where Graph documents the read', async () => {
    const group = { graphPath: '/beta/external/connections/c1/groups', entityKey: 'external/connections/c1/groups/g1' };
    const deps = depsOf({ records: [], reads: { '/v1.0/external/connections/c1/groups/g1': { status: 200, body: { id: 'g1' } } } });
    const own = ownConnection({ operation: createExternalGroup, ...group, body: { id: 'g1' }, entity: { id: 'g1', path: group.entityKey } });
    expect(await resolveConflict(deps, own, true)).toMatchObject({ kind: 'ours' });
    expect(deps.reads).toEqual(['/v1.0/external/connections/c1/groups/g1']);
  });

  it('a create Graph answered settles every other open attempt at the entity as having made nothing', async () => {
    const earlier = record(createExternalConnection, { ...connection, askKey: 'ask-a' });
    const deps = depsOf({ records: [earlier] });
    const attempts = await deps.audit.openAttempts('createExternalConnection', connection.entityKey);
    expect(await attemptsAnsweredByCreate(deps, ownConnection(), attempts)).toMatchObject([{ record: { rowKey: earlier.rowKey }, outcome: { status: 'failed', errorCode: 'notCreated' } }]);
  });
});

describe('a request that takes an Idempotency-Key over accounts for its earlier attempts', () => {
  const groups = '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups';
  const named = { graphPath: groups, entityKey: 'onPremisesPublishingProfiles/applicationProxy/connectorGroups?name="Apps"', askKey: 'ask-a', entityId: '' };
  const ownGroup = (): OwnAttempt => ({
    operation: createConnectorGroup,
    rowKey: 'own',
    askKey: 'ask-a',
    entityKey: named.entityKey,
    graphPath: groups,
    body: { name: 'Apps' },
    headers: {},
    deadlineAt: now + 30_000,
  });
  const listing = (...ids: string[]) => ({ [groups]: { status: 200, body: { value: ids.map((id) => ({ id, name: 'Apps' })) } } });

  it('with none, it sends', async () => {
    expect(await accountForEarlierAttempts(depsOf({ records: [] }), ownGroup(), [])).toEqual({ kind: 'send' });
  });

  it('one that made the entity is the answer, and nothing is sent', async () => {
    const made = record(createConnectorGroup, { ...named, status: 'succeeded', entityId: 'g1', responseBody: JSON.stringify({ id: 'g1', name: 'Apps' }) });
    const verdict = await accountForEarlierAttempts(depsOf({ records: [made] }), ownGroup(), [made.rowKey]);
    expect(verdict).toMatchObject({ kind: 'answered', attribution: { entity: { id: 'g1' }, madeBy: made.rowKey } });
  });

  it('for a connector group an open attempt made, it answers with the one new group of that name', async () => {
    const open = record(createConnectorGroup, { ...named, preexistingIds: JSON.stringify(['old']), requestBody: JSON.stringify({ name: 'Apps' }) });
    const verdict = await accountForEarlierAttempts(depsOf({ records: [open], reads: listing('old', 'new') }), ownGroup(), [open.rowKey]);
    expect(verdict).toMatchObject({ kind: 'answered', attribution: { entity: { id: 'new' }, madeBy: open.rowKey, settles: [{ outcome: { status: 'succeeded', entityId: 'new' } }] } });
  });

  it('never sends again when it cannot tell: no new group yet, two new groups, or no snapshot', async () => {
    const body = JSON.stringify({ name: 'Apps' });
    const cases: [StoredAuditRecord, Scene['reads']][] = [
      [record(createConnectorGroup, { ...named, preexistingIds: JSON.stringify(['old']), requestBody: body }), listing('old')],
      [record(createConnectorGroup, { ...named, preexistingIds: JSON.stringify(['old']), requestBody: body }), listing('old', 'a', 'b')],
      [record(createConnectorGroup, { ...named, requestBody: body }), listing('old', 'new')],
    ];
    for (const [open, reads] of cases) {
      const failure = await accountForEarlierAttempts(depsOf({ records: [open], ...(reads ? { reads } : {}) }), ownGroup(), [open.rowKey]).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(FacadeError);
      expect(failure).toMatchObject({ status: 409, code: 'createOutcomeUnknown' });
    }
  });

  it('for ids the caller chooses, open earlier attempts let it send: Graph refuses a second entity with the id', async () => {
    const open = record(createExternalConnection, { ...connection, askKey: 'ask-a' });
    expect(await accountForEarlierAttempts(depsOf({ records: [open] }), ownConnection(), [open.rowKey])).toEqual({ kind: 'send' });
  });
});

describe('reconciliation settles a record by reading, never by creating', () => {
  it('a member cannot be read: it waits, looked at again within the hour, until the retention ends', async () => {
    const member = record(createExternalGroupMember, { graphPath: '/v1.0/external/connections/c1/groups/g1/members', entityKey: 'm', askKey: 'a', entityId: 'm1' });
    const verdict = await judgeRecord(depsOf({ records: [member] }), createExternalGroupMember, member, now + 30_000);
    expect(verdict).toMatchObject({ kind: 'wait', reason: expect.stringMatching(/no read/) });
    expect(verdict.kind === 'wait' && verdict.recheckAt.getTime()).toBeLessThanOrEqual(now + hour);
  });

  it('the index naming another request Graph answered means this one made nothing', async () => {
    const open = record(createExternalConnection, { ...connection, askKey: 'a' });
    const deps = depsOf({ records: [open], index: { partitionKey: 'p', rowKey: 'e', kind: 'entity', auditRowKey: 'other', proof: 'answered', entityPath: 'external/connections/c1' } });
    expect(await judgeRecord(deps, createExternalConnection, open, now + 30_000)).toMatchObject({ kind: 'settle', settles: [{ outcome: { status: 'failed', errorCode: 'notCreated' } }] });
  });

  it('absent → failed notCreated; something else → failed entityDiffers; what was sent → succeeded and indexed', async () => {
    const open = record(createExternalConnection, { ...connection, askKey: 'a' });
    expect(await judgeRecord(depsOf({ records: [open] }), createExternalConnection, open, now)).toMatchObject({ settles: [{ outcome: { status: 'failed', errorCode: 'notCreated' } }] });
    expect(await judgeRecord(depsOf({ records: [open], reads: held({ id: 'c1', name: 'Theirs' }) }), createExternalConnection, open, now)).toMatchObject({
      settles: [{ outcome: { status: 'failed', errorCode: 'entityDiffers' } }],
    });
    expect(await judgeRecord(depsOf({ records: [open], reads: held({ id: 'c1', name: 'Mine' }) }), createExternalConnection, open, now)).toMatchObject({
      kind: 'settle',
      settles: [{ outcome: { status: 'succeeded', recovery: 'reconciliation' } }],
      index: { entityPath: 'external/connections/c1', auditRowKey: open.rowKey },
    });
  });

  it('a connector group found among the new ones is orphaned: its id never reached a caller', async () => {
    const groups = '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups';
    const open = record(createConnectorGroup, { graphPath: groups, entityKey: 'k', askKey: 'a', entityId: '', preexistingIds: '[]', requestBody: JSON.stringify({ name: 'Apps' }) });
    const deps = depsOf({ records: [open], reads: { [groups]: { status: 200, body: { value: [{ id: 'g9', name: 'Apps' }] } } } });
    expect(await judgeRecord(deps, createConnectorGroup, open, now)).toMatchObject({ settles: [{ outcome: { status: 'orphaned', entityId: 'g9' } }] });
  });
});
