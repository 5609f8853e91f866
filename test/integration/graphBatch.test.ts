import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { maxBatchSteps, shuffled } from '../../dev/graphBatch';
import { startGraphEmulator, type GraphEmulator } from '../../dev/graphEmulator';
import { call, type ApiResponse } from '../support/stack';

/** The Graph emulator's JSON batching (`POST /{version}/$batch`), over real HTTP. */

let graph: GraphEmulator;

beforeAll(async () => {
  graph = await startGraphEmulator();
});

afterAll(async () => {
  await graph?.close();
});

beforeEach(async () => {
  graph.reset();
  expect((await send('POST', '/v1.0/external/connections', { id: 'contosohr', name: 'Contoso HR' })).status).toBe(201);
  expect((await send('POST', '/v1.0/external/connections/contosohr/groups', { id: 'marketing' })).status).toBe(201);
});

function send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<ApiResponse> {
  return call(`${graph.baseUrl}${path}`, {
    method,
    headers: { authorization: 'Bearer any', 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
  });
}

interface StepResponse {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: any;
}

const batch = (requests: unknown[], version = 'v1.0', signal?: AbortSignal) => send('POST', `/${version}/$batch`, { requests }, {}, signal);
const byId = (response: ApiResponse): Map<string, StepResponse> =>
  new Map((response.body.responses as StepResponse[]).map((step) => [step.id, step]));

const membersUrl = '/external/connections/contosohr/groups/marketing/members';
const memberStep = (id: string, memberId = randomUUID()) => ({
  id,
  method: 'POST',
  url: membersUrl,
  headers: { 'Content-Type': 'application/json' },
  body: { id: memberId, type: 'user' },
});
const memberSteps = (count: number) => Array.from({ length: count }, (_, index) => memberStep(String(index + 1)));

describe('a batch of member adds', () => {
  it('carries out 20 steps in one HTTP call and answers each by id, in another order than asked', async () => {
    const before = graph.callCounts();
    const response = await batch(memberSteps(maxBatchSteps));
    expect(response.status).toBe(200);
    const responses = response.body.responses as StepResponse[];
    expect(responses.map((step) => step.id).sort()).toEqual(memberSteps(20).map((step) => step.id).sort());
    expect(responses.map((step) => step.id)).not.toEqual(memberSteps(20).map((step) => step.id));
    for (const step of responses) {
      expect(step.status).toBe(201);
      expect(step.headers['Content-Type']).toBe('application/json');
      expect(step.body).toMatchObject({ type: 'user' });
    }
    expect(graph.entityCounts().members).toBe(20);
    const after = graph.callCounts();
    expect(after.httpCalls - before.httpCalls).toBe(1);
    expect(after.batches - before.batches).toBe(1);
    expect(after.batchSteps - before.batchSteps).toBe(20);
    const steps = graph.batchSteps({ method: 'POST', path: /\/members$/ });
    expect(steps).toHaveLength(20);
    expect(steps[0]).toMatchObject({ path: `/v1.0${membersUrl}`, batchStep: { id: expect.any(String) } });
    expect(graph.graphHttpCalls({ path: /\/members$/ })).toHaveLength(0);
    // Steps are Graph requests too: what Graph was asked, whichever way it came.
    expect(graph.graphRequests({ method: 'POST', path: /\/members$/ })).toHaveLength(20);
  });

  it('answers each step as Graph would a direct request: 409 for a member already there, 404 for a missing group', async () => {
    const existing = randomUUID();
    expect((await send('POST', `/v1.0${membersUrl}`, { id: existing, type: 'user' })).status).toBe(201);
    const response = await batch([
      memberStep('again', existing),
      { ...memberStep('nogroup'), url: '/external/connections/contosohr/groups/nosuchgroup/members' },
      memberStep('new'),
    ]);
    const steps = byId(response);
    expect(steps.get('again')).toMatchObject({ status: 409, body: { error: { code: 'Conflict' } } });
    expect(steps.get('nogroup')).toMatchObject({ status: 404, body: { error: { code: 'itemNotFound' } } });
    expect(steps.get('new')?.status).toBe(201);
  });

  it('reads back in a GET step, with the url\'s query', async () => {
    const response = await batch([
      { id: 'group', method: 'GET', url: '/external/connections/contosohr/groups/marketing' },
      { id: 'list', method: 'GET', url: '/onPremisesPublishingProfiles/applicationProxy/connectorGroups?$skiptoken=0' },
    ], 'beta');
    const steps = byId(response);
    expect(steps.get('group')).toMatchObject({ status: 200, body: { id: 'marketing' } });
    expect(steps.get('list')).toMatchObject({ status: 200, body: { value: [] } });
  });
});

describe('a malformed batch is refused whole (400) and runs nothing', () => {
  it.each([
    ['more than 20 steps', { requests: memberSteps(maxBatchSteps + 1) }],
    ['a duplicate id', { requests: [memberStep('1'), memberStep('1')] }],
    ['no requests array', { value: [] }],
    ['an empty batch', { requests: [] }],
    ['a step without an id', { requests: [{ ...memberStep('1'), id: undefined }] }],
    ['a step without a url', { requests: [{ ...memberStep('1'), url: undefined }] }],
    ['an absolute url', { requests: [{ ...memberStep('1'), url: `https://graph.microsoft.com/v1.0${membersUrl}` }] }],
    ['a nested batch', { requests: [{ id: '1', method: 'POST', url: '/$batch', headers: { 'Content-Type': 'application/json' }, body: { requests: [] } }] }],
    ['dependsOn naming no step', { requests: [{ ...memberStep('1'), dependsOn: ['9'] }] }],
    ['a dependsOn cycle', { requests: [{ ...memberStep('1'), dependsOn: ['2'] }, { ...memberStep('2'), dependsOn: ['1'] }] }],
  ])('%s', async (_name, payload) => {
    const response = await send('POST', '/v1.0/$batch', payload);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('BadRequest');
    expect(response.headers.get('request-id')).toBeTruthy();
    expect(graph.entityCounts().members).toBe(0);
    expect(graph.callCounts().batchSteps).toBe(0);
  });

  it('a body that is not JSON: 400; not declared as JSON: 415', async () => {
    expect((await send('POST', '/v1.0/$batch', '{"requests": [')).status).toBe(400);
    expect((await send('POST', '/v1.0/$batch', { requests: [memberStep('1')] }, { 'content-type': 'text/plain' })).status).toBe(415);
  });

  it('without a bearer token: 401 for the batch', async () => {
    const response = await call(`${graph.baseUrl}/v1.0/$batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requests: [memberStep('1')] }),
    });
    expect(response.status).toBe(401);
    expect(graph.entityCounts().members).toBe(0);
  });
});

describe('one step\'s own problems stay with that step', () => {
  it('a step with a body but no Content-Type answers 400; the others run', async () => {
    const response = await batch([{ ...memberStep('bare'), headers: {} }, memberStep('fine')]);
    expect(response.status).toBe(200);
    const steps = byId(response);
    expect(steps.get('bare')).toMatchObject({ status: 400, body: { error: { code: 'BadRequest' } } });
    expect(steps.get('fine')?.status).toBe(201);
    expect(graph.entityCounts().members).toBe(1);
  });
});

describe('dependsOn', () => {
  it('runs a chain in order: connection, then its group, then a member', async () => {
    const response = await batch([
      { id: 'member', method: 'POST', url: '/external/connections/chained/groups/team/members', dependsOn: ['group'],
        headers: { 'Content-Type': 'application/json' }, body: { id: randomUUID(), type: 'user' } },
      { id: 'group', method: 'POST', url: '/external/connections/chained/groups', dependsOn: ['connection'],
        headers: { 'Content-Type': 'application/json' }, body: { id: 'team' } },
      { id: 'connection', method: 'POST', url: '/external/connections',
        headers: { 'Content-Type': 'application/json' }, body: { id: 'chained', name: 'Chained' } },
    ]);
    const steps = byId(response);
    expect([steps.get('connection')?.status, steps.get('group')?.status, steps.get('member')?.status]).toEqual([201, 201, 201]);
    const order = graph.batchSteps().map((step) => step.batchStep?.id);
    expect(order).toEqual(['connection', 'group', 'member']);
  });

  it('a step whose dependency failed answers 424 without running, and so does the next in the chain', async () => {
    const response = await batch([
      { id: 'connection', method: 'POST', url: '/external/connections', headers: { 'Content-Type': 'application/json' }, body: { id: 'x', name: 'Too short an id' } },
      { id: 'group', method: 'POST', url: '/external/connections/x/groups', dependsOn: ['connection'], headers: { 'Content-Type': 'application/json' }, body: { id: 'team' } },
      { id: 'member', method: 'POST', url: '/external/connections/x/groups/team/members', dependsOn: ['group'], headers: { 'Content-Type': 'application/json' }, body: { id: randomUUID(), type: 'user' } },
      memberStep('independent'),
    ]);
    const steps = byId(response);
    expect(steps.get('connection')?.status).toBe(400);
    expect(steps.get('group')).toMatchObject({ status: 424, body: { error: { code: 'FailedDependency' } } });
    expect(steps.get('member')?.status).toBe(424);
    expect(steps.get('independent')?.status).toBe(201);
    expect(graph.batchSteps().map((step) => step.batchStep?.id).sort()).toEqual(['connection', 'independent']);
  });
});

describe('faults per step (rules match a step by method and path, version included)', () => {
  it('429 with Retry-After for one step; the others are created', async () => {
    graph.addFault({ method: 'POST', path: '^/v1\\.0/external/connections/contosohr/groups/marketing/members$', steps: [{ status: 429, retryAfter: '2.5' }] });
    const response = await batch(memberSteps(5));
    expect(response.status).toBe(200);
    const responses = response.body.responses as StepResponse[];
    const throttled = responses.filter((step) => step.status === 429);
    expect(throttled).toHaveLength(1);
    expect(throttled[0]!.headers['Retry-After']).toBe('2.5');
    expect(throttled[0]!.body.error.code).toBe('TooManyRequests');
    expect(responses.filter((step) => step.status === 201)).toHaveLength(4);
    expect(graph.entityCounts().members).toBe(4);
  });

  it('a rule for another version does not touch the batch\'s steps', async () => {
    graph.addFault({ method: 'POST', path: '^/beta/', steps: [{ status: 503 }] });
    const response = await batch(memberSteps(2));
    expect((response.body.responses as StepResponse[]).map((step) => step.status)).toEqual([201, 201]);
  });

  it('commit then 503: the step answers 503, yet the member was added (the lost answer)', async () => {
    graph.addFault({ method: 'POST', path: '/members$', steps: [{ status: 503, commit: true }] });
    const memberId = randomUUID();
    const response = await batch([memberStep('lost', memberId)]);
    expect(byId(response).get('lost')?.status).toBe(503);
    expect(graph.entityCounts().members).toBe(1);
    const retry = await batch([memberStep('retry', memberId)]);
    expect(byId(retry).get('retry')?.status).toBe(409);
  });

  it('a slow step delays the whole answer; commit with a delay adds the member once', async () => {
    graph.addFault({ method: 'POST', path: '/members$', steps: [{ delayMs: 400, commit: true }] });
    const started = Date.now();
    const response = await batch(memberSteps(3));
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect((response.body.responses as StepResponse[]).map((step) => step.status)).toEqual([201, 201, 201]);
    expect(graph.entityCounts().members).toBe(3);
  });

  it('a hanging step hangs the whole batch (one HTTP exchange); the other steps were still carried out', async () => {
    graph.addFault({ method: 'POST', path: '/members$', steps: [{ hang: true }] });
    await expect(batch(memberSteps(3), 'v1.0', AbortSignal.timeout(500))).rejects.toThrow();
    expect(graph.entityCounts().members).toBe(2);
  });

  it('a reset step resets the connection of the whole batch', async () => {
    graph.addFault({ method: 'POST', path: '/members$', steps: [{ reset: true, commit: true }] });
    await expect(batch(memberSteps(2))).rejects.toThrow();
    expect(graph.entityCounts().members).toBe(2);
  });
});

describe('faults on the batch itself (path /{version}/$batch)', () => {
  it('429 for the batch: nothing runs', async () => {
    graph.addFault({ method: 'POST', path: '/\\$batch$', steps: [{ status: 429, retryAfter: '3' }] });
    const response = await batch(memberSteps(3));
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3');
    expect(graph.entityCounts().members).toBe(0);
    expect(graph.callCounts().batchSteps).toBe(0);
  });

  it('commit then reset: every step ran, the answer is lost', async () => {
    graph.addFault({ method: 'POST', path: '/\\$batch$', steps: [{ commit: true, reset: true }] });
    await expect(batch(memberSteps(4))).rejects.toThrow();
    expect(graph.entityCounts().members).toBe(4);
    expect(graph.callCounts().batchSteps).toBe(4);
  });
});

describe('the order of responses', () => {
  it('is a reproducible shuffle that never keeps the request order', () => {
    for (let length = 2; length <= maxBatchSteps; length += 1) {
      const items = Array.from({ length }, (_, index) => index);
      for (let seed = 1; seed <= 50; seed += 1) {
        const order = shuffled(items, seed);
        expect(order).toEqual(shuffled(items, seed));
        expect(order).not.toEqual(items);
        expect([...order].sort((a, b) => a - b)).toEqual(items);
      }
    }
  });
});
