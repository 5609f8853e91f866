import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack';

/**
 * Graph answers a create 409 while another request of the same ask (same caller, path and body)
 * is still waiting for Graph's answer to its own create. That attempt may have made the entity,
 * or someone outside the facade may have: its own answer will tell, soon. So the request answers
 * 503 `createInProgress` with `Retry-After` (its record `failed`: it made nothing), never 201 for
 * an entity nobody here may have made. Found by the exactly-once simulation (runs started from
 * 20261220, schedule 1,296: a connection made outside the facade, two overlapping creates of it by
 * one caller, each first answered 429; the one answered 409 first took the entity for the other's).
 */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ GRAPH_DEADLINE_MS: '8000' });
  // Group `outside` was made outside the facade (the admin centre, another tool), with this very body.
  stack.graph.seedConnection('inflight', ['outside']);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

const groups = '/v1.0/external/connections/inflight/groups';
const postsOf = (id: string) => stack.graph.graphRequests({ method: 'POST', path: /\/connections\/inflight\/groups$/ }).filter((request) => (request.body as { id?: string } | undefined)?.id === id).length;

async function recordOf(clientRequestId: string): Promise<Record<string, unknown> | undefined> {
  const records = await stack.audit.listByOperation('createExternalGroup', new Date(Date.now() - 600_000), new Date(Date.now() + 60_000));
  return records.find((record) => record.clientRequestId === clientRequestId) as Record<string, unknown> | undefined;
}

describe('a 409 beside an attempt of the same ask that is still in flight', () => {
  it('is answered 503 createInProgress with Retry-After, not 201 for the entity; once that attempt is answered, 409', async () => {
    // The first request's create is slow at Graph, then throttled: it made nothing.
    stack.graph.addFault({ method: 'POST', path: 'connections/inflight/groups$', steps: [{ delayMs: 1_500, status: 429, retryAfter: '0' }] });
    const first = stack.post(groups, { id: 'outside' }, { 'client-request-id': 'inflight-first' });
    await expect.poll(() => postsOf('outside'), { timeout: 5_000, interval: 20 }).toBe(1);

    const second = await stack.post(groups, { id: 'outside' }, { 'client-request-id': 'inflight-second' });
    expect({ status: second.status, code: second.body?.error?.code }).toEqual({ status: 503, code: 'createInProgress' });
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await recordOf('inflight-second')).toMatchObject({ status: 'failed', errorCode: 'createInProgress' });

    // The first request's retry is answered 409: nothing of this ask made the group.
    const firstAnswer = await first;
    expect({ status: firstAnswer.status, code: firstAnswer.body?.error?.code }).toEqual({ status: 409, code: 'Conflict' });
    expect(await recordOf('inflight-first')).toMatchObject({ status: 'failed' });

    // The caller retries as told: Graph's 409 is passed on, nothing claims the group.
    const retry = await stack.post(groups, { id: 'outside' }, { 'client-request-id': 'inflight-retry' });
    expect({ status: retry.status, code: retry.body?.error?.code }).toEqual({ status: 409, code: 'Conflict' });
    expect(await stack.audit.indexOf('createExternalGroup', 'external/connections/inflight/groups/outside')).toBeUndefined();
  });

  it('is the same while the attempt in flight did make it: that attempt answers 201, the request beside it 503', async () => {
    stack.graph.clearFaults();
    // Graph makes the group at once and answers the first request late.
    stack.graph.addFault({ method: 'POST', path: 'connections/inflight/groups$', steps: [{ delayMs: 1_500, commit: true }] });
    const first = stack.post(groups, { id: 'slowmade' }, { 'client-request-id': 'slowmade-first' });
    await expect.poll(() => postsOf('slowmade'), { timeout: 5_000, interval: 20 }).toBe(1);

    const beside = await stack.post(groups, { id: 'slowmade' }, { 'client-request-id': 'slowmade-beside' });
    expect({ status: beside.status, code: beside.body?.error?.code }).toEqual({ status: 503, code: 'createInProgress' });
    expect(Number(beside.headers.get('retry-after'))).toBeGreaterThan(0);

    const firstAnswer = await first;
    expect({ status: firstAnswer.status, id: firstAnswer.body?.id }).toEqual({ status: 201, id: 'slowmade' });
    expect(await recordOf('slowmade-first')).toMatchObject({ status: 'succeeded', entityId: 'slowmade' });
    expect(await recordOf('slowmade-beside')).toMatchObject({ status: 'failed', errorCode: 'createInProgress' });
    expect(postsOf('slowmade')).toBe(2);
  });
});
