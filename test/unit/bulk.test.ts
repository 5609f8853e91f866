import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { addExternalGroupMembersInBulk } from '../../functions/addExternalGroupMembersInBulk';
import { createExternalGroupMember } from '../../functions/createExternalGroupMember';
import { createExternalGroup } from '../../functions/createExternalGroup';
import { createConnectorGroup } from '../../functions/createConnectorGroup';
import { recordRowKey } from '../../shared/audit/auditRecord';
import { bulkIdPattern, fromChunks, itemIndexOf, itemRange, itemRowKey, tally, toChunks } from '../../shared/bulk/bulkRecord';
import { resultOfRecord } from '../../shared/bulk/engine';
import { LatencyEstimate } from '../../shared/bulk/estimate';
import { prefersAsync } from '../../shared/bulk/job';
import { defineBulkOperation } from '../../shared/operations/operation';
import { validateWith } from '../../shared/schemas/validate';
import type { StoredAuditRecord } from '../../shared/audit/auditStore';

/** The parts of bulk requests that need no storage or Graph: body rules, keys, chunks, the estimate, preferences. */

const judge = (body: unknown, version = 'v1.0') => validateWith(addExternalGroupMembersInBulk.body, body, { version });
const user = () => ({ id: randomUUID(), type: 'user' });

describe('the bulk body', () => {
  it('takes 1 to 1,000 members, each by the rule of a single add, the older identitySource shape translated', () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const { value, problems } = judge({ members: [{ id: a, type: 'user' }, { id: b, type: 'group', identitySource: 'azureActiveDirectory' }, { id: 'sales', type: 'group', identitySource: 'external' }] });
    expect(problems).toEqual([]);
    expect(value).toEqual({ members: [{ id: a, type: 'user' }, { id: b, type: 'group' }, { id: 'sales', type: 'externalGroup' }] });
    expect(judge({ members: Array.from({ length: 1000 }, user) }).problems).toEqual([]);
  });

  it('reports every problem at once, each member by its index, and each repeat naming the first', () => {
    const first = user();
    const body = { members: [first, { id: 'x', type: 'user' }, { type: 'group' }, { ...first }, { id: first.id, type: 'group' }, { ...user(), color: 'red' }] };
    expect(judge(body).problems.map((problem) => [problem.target, problem.code])).toEqual([
      ['members[1].id', 'invalidValue'],
      ['members[2].id', 'missingProperty'],
      ['members[3]', 'duplicateItem'],
      ['members[4]', 'duplicateItem'],
      ['members[5].color', 'unknownProperty'],
    ]);
    expect(judge(body).problems[3]!.message).toBe(`"members[4]" repeats members[0] (id ${first.id}): each of the members may appear once`);
  });

  it('refuses no members, more than 1,000, and anything but members', () => {
    expect(judge({ members: [] }).problems[0]).toMatchObject({ target: 'members', code: 'invalidValue' });
    expect(judge({ members: Array.from({ length: 1001 }, user) }).problems[0]).toMatchObject({ target: 'members', code: 'invalidValue' });
    expect(judge({}).problems[0]).toMatchObject({ target: 'members', code: 'missingProperty' });
    expect(judge({ members: [user()], id: 'x' }).problems[0]).toMatchObject({ target: 'id', code: 'unknownProperty' });
  });
});

describe('the bulk operation', () => {
  it('is the member create repeated: its role, parameters, Graph path and entity type', () => {
    expect(addExternalGroupMembersInBulk).toMatchObject({
      kind: 'bulk',
      item: createExternalGroupMember,
      role: createExternalGroupMember.role,
      params: createExternalGroupMember.params,
      graphPath: createExternalGroupMember.graphPath,
      entityType: 'externalGroupMember',
      maxItems: 1000,
    });
  });

  it('is refused for creates whose ids Graph chooses (they cannot be told apart before they exist), and for routes with parameters the create lacks', () => {
    expect(() => defineBulkOperation({ name: 'bad', item: createConnectorGroup, itemsProperty: 'groups', maxItems: 10, routes: ['beta/connectorGroups/bulk'] })).toThrow(/ids the caller chooses/);
    expect(() => defineBulkOperation({ name: 'bad', item: createExternalGroup, itemsProperty: 'groups', maxItems: 10, routes: ['{version}/x/{other}/bulk'] })).toThrow(/\{other\}/);
  });
});

describe('the bulk record', () => {
  const bulkRowKey = recordRowKey(new Date('2026-11-22T12:00:00Z'), randomUUID());

  it('its items’ records follow it in request order, inside its range and before the next older record', () => {
    const keys = [0, 1, 9, 10, 999].map((index) => itemRowKey(bulkRowKey, index));
    expect([...keys].sort()).toEqual(keys);
    const { low, high } = itemRange(bulkRowKey);
    for (const key of keys) expect(key > low && key < high).toBe(true);
    const older = recordRowKey(new Date('2026-11-22T11:59:59Z'), randomUUID());
    expect(high < older).toBe(true);
    expect(keys.map((key) => itemIndexOf(bulkRowKey, key))).toEqual([0, 1, 9, 10, 999]);
    expect(itemIndexOf(bulkRowKey, older)).toBeUndefined();
    expect(bulkIdPattern.test(bulkRowKey)).toBe(true);
  });

  it('keeps items and results as compressed chunks that each fit a Table Storage string', () => {
    const results = tally(Array.from({ length: 1000 }, (_, index) => ({ id: randomUUID(), status: index % 2 ? 'created' : 'failed', error: { code: 'invalidRequest', message: 'm'.repeat(300), httpStatus: 400 } }) as const));
    const chunks = toChunks('results', results);
    expect(chunks.resultChunks).toBeGreaterThanOrEqual(1);
    for (const [name, chunk] of Object.entries(chunks)) if (name !== 'resultChunks') expect((chunk as string).length).toBeLessThanOrEqual(30_000);
    expect(fromChunks(chunks, 'results')).toEqual(results);
    expect(results).toMatchObject({ created: 500, failed: 500, alreadyMember: 0 });
  });

  it('says what an item’s settled record means for its result', () => {
    const record = (fields: Partial<StoredAuditRecord>) => ({ entityId: 'm1', ...fields }) as StoredAuditRecord;
    expect(resultOfRecord(record({ status: 'succeeded' }))).toEqual({ id: 'm1', status: 'created' });
    expect(resultOfRecord(record({ status: 'failed', httpStatus: 409 }))).toEqual({ id: 'm1', status: 'alreadyMember' });
    expect(resultOfRecord(record({ status: 'alreadyExisted', httpStatus: 409 }))).toEqual({ id: 'm1', status: 'alreadyMember' });
    expect(resultOfRecord(record({ status: 'failed', httpStatus: 404, errorCode: 'itemNotFound', responseBody: JSON.stringify({ error: { code: 'itemNotFound', message: 'No group.' } }) }))).toEqual({
      id: 'm1',
      status: 'failed',
      error: { code: 'itemNotFound', message: 'No group.', httpStatus: 404 },
    });
    expect(resultOfRecord(record({ status: 'pending' }))).toBeUndefined();
    expect(resultOfRecord(record({ status: 'unknown' }))).toBeUndefined();
  });
});

describe('answering at once or later', () => {
  it('reads Prefer: respond-async among other preferences (RFC 7240)', () => {
    expect(prefersAsync('respond-async')).toBe(true);
    expect(prefersAsync('return=minimal, Respond-Async; x=1, wait=10')).toBe(true);
    expect(prefersAsync('wait=10')).toBe(false);
    expect(prefersAsync(null)).toBe(false);
  });

  it('expects rounds of batches (as many as in flight) and the audit transactions, learning from what it sees', () => {
    const estimate = new LatencyEstimate();
    // 1,000 members: 50 batches, 4 at a time = 13 rounds of 2 s, and 52 transactions of 100 ms.
    expect(estimate.estimateMs(1000, 4)).toBe(13 * 2_000 + 52 * 100);
    // 4 batches are one round, 5 are two.
    expect(estimate.estimateMs(80, 4)).toBeLessThan(estimate.estimateMs(81, 4));
    for (let seen = 0; seen < 50; seen += 1) estimate.observeBatch(100);
    expect(estimate.batchMs).toBeLessThan(110);
    expect(estimate.estimateMs(1000, 4)).toBeLessThan(13 * 110 + 52 * 100);
  });
});
