import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IdempotencyStore } from '../../shared/idempotency/idempotencyStore';
import { startTestStack, type HostProcess, type TestStack } from '../support/stack';

/** Idempotency-Key across two host instances that share one Azurite. */

let stack: TestStack;
let second: HostProcess;

beforeAll(async () => {
  stack = await startTestStack({ GRAPH_DEADLINE_MS: '10000', GRAPH_ATTEMPT_TIMEOUT_MS: '5000' });
  second = await stack.startAnotherHost();
  expect((await stack.post('/v1.0/external/connections', { id: 'idem', name: 'Idempotency' })).status).toBe(201);
});

afterAll(async () => {
  await stack?.stop();
});

beforeEach(() => stack.graph.clearFaults());

const path = '/v1.0/external/connections/idem/groups';
const postsOf = (groupId: string) =>
  stack.graph.graphRequests({ method: 'POST', path: /\/connections\/idem\/groups$/ }).filter(
    (request) => (request.body as { id?: string }).id === groupId,
  ).length;

/** The key store straight on Azurite, as another instance would see it. */
function directStore(): IdempotencyStore {
  return new IdempotencyStore(stack.table, 24 * 3_600_000);
}

describe('Idempotency-Key', () => {
  it('replays the stored answer on another instance without calling Graph again', async () => {
    const first = await stack.post(path, { id: 'replayed', displayName: 'Once' }, { 'idempotency-key': 'run-1' });
    expect(first.status).toBe(201);
    const again = await stack.postTo(second.apiUrl, path, { displayName: 'Once', id: 'replayed' }, { 'idempotency-key': 'run-1' });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(postsOf('replayed')).toBe(1);
  });

  it('answers 422 when the key comes back with a different body', async () => {
    await stack.post(path, { id: 'keyed1' }, { 'idempotency-key': 'run-2' });
    const other = await stack.postTo(second.apiUrl, path, { id: 'keyed2' }, { 'idempotency-key': 'run-2' });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotencyKeyReused');
    expect(postsOf('keyed2')).toBe(0);
  });

  it('answers 409 with Retry-After while the first request is in flight, then replays', async () => {
    stack.graph.addFault({ method: 'POST', path: 'connections/idem/groups$', steps: [{ delayMs: 3_000 }] });
    const first = stack.post(path, { id: 'slowgroup' }, { 'idempotency-key': 'run-3' });
    await expect.poll(() => postsOf('slowgroup'), { timeout: 5_000, interval: 20 }).toBe(1);
    const concurrent = await stack.postTo(second.apiUrl, path, { id: 'slowgroup' }, { 'idempotency-key': 'run-3' });
    expect(concurrent.status).toBe(409);
    expect(concurrent.body.error.code).toBe('idempotencyKeyInUse');
    expect(Number(concurrent.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await first).status).toBe(201);
    const later = await stack.postTo(second.apiUrl, path, { id: 'slowgroup' }, { 'idempotency-key': 'run-3' });
    expect(later.status).toBe(201);
    expect(later.headers.get('idempotent-replayed')).toBe('true');
    expect(postsOf('slowgroup')).toBe(1);
  });

  it('replays a final Graph error too, Graph-shaped with this request’s ids', async () => {
    const first = await stack.post('/v1.0/external/connections/nosuch/groups', { id: 'orphan' }, { 'idempotency-key': 'run-4' });
    expect(first.status).toBe(404);
    const again = await stack.postTo(second.apiUrl, '/v1.0/external/connections/nosuch/groups', { id: 'orphan' }, {
      'idempotency-key': 'run-4',
      'client-request-id': 'replay-404',
    });
    expect(again.status).toBe(404);
    expect(again.body.error).toMatchObject({ code: 'itemNotFound', innerError: { 'client-request-id': 'replay-404' } });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  it('stores nothing for invalid input: the key stays free', async () => {
    const invalid = await stack.post(path, { id: 'not valid!' }, { 'idempotency-key': 'run-5' });
    expect(invalid.status).toBe(400);
    const valid = await stack.post(path, { id: 'nowvalid' }, { 'idempotency-key': 'run-5' });
    expect(valid.status).toBe(201);
  });

  it('frees the key after a transient failure so the retry runs', async () => {
    stack.graph.addFault({ method: 'POST', path: 'connections/idem/groups$', steps: [{ status: 429, retryAfter: '60' }] });
    expect((await stack.post(path, { id: 'transient' }, { 'idempotency-key': 'run-6' })).status).toBe(429);
    const retried = await stack.postTo(second.apiUrl, path, { id: 'transient' }, { 'idempotency-key': 'run-6' });
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
  });

  it('refuses a key that is empty or longer than 255 characters', async () => {
    expect((await stack.post(path, { id: 'k1' }, { 'idempotency-key': 'x'.repeat(256) })).status).toBe(400);
  });

  it('a request whose lease ran out cannot overwrite the request that took its key over', async () => {
    const keys = directStore();
    const scope = { operation: 'createExternalGroup', callerId: 'lease-test', key: 'lease-1' };
    const first = await keys.claim(scope, 'body-a', 1, new Date(), 'record-of-first');
    expect(first.kind).toBe('claimed');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await keys.claim(scope, 'body-a', 60_000, new Date(), 'record-of-second');
    // The first request died with its lease: it may have created the entity, so the successor accounts for it.
    expect(second).toMatchObject({ kind: 'claimed', earlierAttempts: ['record-of-first'] });
    if (first.kind !== 'claimed' || second.kind !== 'claimed') return;
    expect(await keys.complete(scope, first.etag, { status: 201, headers: {}, jsonBody: { from: 'first' } })).toBe(false);
    expect(await keys.release(scope, first.etag)).toBe(false);
    expect(await keys.complete(scope, second.etag, { status: 201, headers: {}, jsonBody: { from: 'second' } })).toBe(true);
    expect(await keys.claim(scope, 'body-a', 60_000, new Date(), 'record-of-third')).toEqual({ kind: 'replay', answer: { status: 201, headers: {}, jsonBody: { from: 'second' } } });
  });

  it('stores and replays an answer larger than one table property', async () => {
    const keys = directStore();
    const scope = { operation: 'createExternalConnection', callerId: 'size-test', key: 'big-1' };
    const claim = await keys.claim(scope, 'body-b', 60_000, new Date(), 'record-big');
    if (claim.kind !== 'claimed') throw new Error('not claimed');
    const jsonBody = { id: 'big', description: 'é'.repeat(100_000) };
    expect(await keys.complete(scope, claim.etag, { status: 201, headers: {}, jsonBody })).toBe(true);
    expect(await keys.claim(scope, 'body-b', 60_000, new Date(), 'record-big-2')).toEqual({ kind: 'replay', answer: { status: 201, headers: {}, jsonBody } });
  });

  it('deletes keys past their retention, after which a key may be used afresh', async () => {
    const keys = directStore();
    await stack.post(path, { id: 'retained' }, { 'idempotency-key': 'run-8' });
    expect(await keys.purgeExpired('createExternalGroup', new Date(), 100)).toBe(0);
    const dayAfter = new Date(Date.now() + 25 * 3_600_000);
    expect(await keys.purgeExpired('createExternalGroup', dayAfter, 100)).toBeGreaterThanOrEqual(1);
    const fresh = await stack.post(path, { id: 'retainedagain' }, { 'idempotency-key': 'run-8' });
    expect(fresh.status).toBe(201);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
  });

  it('keeps the lost-answer mark through a retry that fails on the way, so the next one still looks', async () => {
    const connectorGroups = '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups';
    stack.graph.addFault({ method: 'POST', path: 'connectorGroups$', steps: [{ commit: true, reset: true }] });
    expect((await stack.post(connectorGroups, { name: 'Twice lost' }, { 'idempotency-key': 'run-9' })).status).toBe(502);
    // The retry cannot list the groups (Graph keeps failing), so it can neither find nor create.
    stack.graph.addFault({ method: 'GET', path: 'connectorGroups$', steps: Array(8).fill({ status: 500 }) });
    const failed = await stack.postTo(second.apiUrl, connectorGroups, { name: 'Twice lost' }, { 'idempotency-key': 'run-9' });
    expect(failed.status).toBe(503);
    stack.graph.clearFaults();
    const found = await stack.post(connectorGroups, { name: 'Twice lost' }, { 'idempotency-key': 'run-9' });
    expect(found.status).toBe(201);
    expect(stack.graph.connectorGroups().filter((group) => group.name === 'Twice lost')).toHaveLength(1);
  });

  it('keeps one connector group when a lost answer is retried with the same key', async () => {
    const connectorGroups = '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups';
    stack.graph.addFault({ method: 'POST', path: 'connectorGroups$', steps: [{ commit: true, reset: true }] });
    const lost = await stack.post(connectorGroups, { name: 'Keyed group' }, { 'idempotency-key': 'run-7' });
    expect(lost.status).toBe(502);
    const retried = await stack.postTo(second.apiUrl, connectorGroups, { name: 'Keyed group' }, { 'idempotency-key': 'run-7' });
    expect(retried.status).toBe(201);
    expect(retried.body).toMatchObject({ name: 'Keyed group' });
    expect(stack.graph.connectorGroups().filter((group) => group.name === 'Keyed group')).toHaveLength(1);
  });
});
