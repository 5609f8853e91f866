import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGraphEmulator, type GraphEmulator } from '../../dev/graphEmulator';
import { call, type ApiResponse } from '../support/stack';

/** The Graph emulator itself, over real HTTP: its fault steps carry a request out at most once. */

let graph: GraphEmulator;

beforeAll(async () => {
  graph = await startGraphEmulator();
});

afterAll(async () => {
  await graph?.close();
});

beforeEach(() => graph.reset());

function post(path: string, body: unknown): Promise<ApiResponse> {
  return call(`${graph.baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: 'Bearer any', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const connectorGroups = '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups';

describe('a slow answer after Graph carried the request out ({ delayMs, commit })', () => {
  it('creates a connector group once and answers with that group', async () => {
    graph.addFault({ method: 'POST', path: 'connectorGroups$', steps: [{ delayMs: 200, commit: true }] });
    const response = await post(connectorGroups, { name: 'Slow but done' });
    expect(response.status).toBe(201);
    expect(graph.connectorGroups()).toHaveLength(1);
    expect(response.body.id).toBe(graph.connectorGroups()[0]!.id);
  });

  it('answers 201 for a connection, not the 409 of a second create', async () => {
    graph.addFault({ method: 'POST', path: '/external/connections$', steps: [{ delayMs: 200, commit: true }] });
    const response = await post('/v1.0/external/connections', { id: 'slowdone', name: 'Slow but done' });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ id: 'slowdone', state: 'draft' });
    expect(graph.entityCounts().connections).toBe(1);
  });

  it('takes the delay after carrying the request out: the entity exists before the answer comes', async () => {
    graph.addFault({ method: 'POST', path: '/external/connections$', steps: [{ delayMs: 600, commit: true }] });
    const answer = post('/v1.0/external/connections', { id: 'visibleearly', name: 'Visible early' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(graph.entityCounts().connections).toBe(1);
    expect((await answer).status).toBe(201);
  });
});

describe('every fault step with commit carries the request out exactly once', () => {
  it.each([
    ['status', { status: 503, commit: true }],
    ['reset', { reset: true, commit: true }],
    ['delay and status', { delayMs: 50, status: 503, commit: true }],
    ['delay alone', { delayMs: 50, commit: true }],
  ])('%s', async (_name, step) => {
    graph.addFault({ method: 'POST', path: 'connectorGroups$', steps: [step] });
    await post(connectorGroups, { name: 'Once' }).catch(() => undefined);
    expect(graph.connectorGroups()).toHaveLength(1);
  });
});

describe('an answer latency ({ latencyMs }), as a slower Graph', () => {
  it('makes every Graph answer wait, refusals included, and never the control routes', async () => {
    const slow = await startGraphEmulator({ latencyMs: 150 });
    try {
      const timed = async (path: string, init: RequestInit) => {
        const started = performance.now();
        const response = await call(`${slow.baseUrl}${path}`, init);
        return { status: response.status, ms: performance.now() - started };
      };
      const json = { authorization: 'Bearer any', 'content-type': 'application/json' };
      const created = await timed('/v1.0/external/connections', { method: 'POST', headers: json, body: JSON.stringify({ id: 'slowgraph', name: 'Slow' }) });
      const conflict = await timed('/v1.0/external/connections', { method: 'POST', headers: json, body: JSON.stringify({ id: 'slowgraph', name: 'Slow' }) });
      const unauthenticated = await timed('/v1.0/external/connections/slowgraph', { method: 'GET' });
      const control = await timed('/_emulator/faults', { method: 'GET' });
      expect([created.status, conflict.status, unauthenticated.status, control.status]).toEqual([201, 409, 401, 200]);
      for (const answer of [created, conflict, unauthenticated]) expect(answer.ms).toBeGreaterThanOrEqual(145);
      expect(control.ms).toBeLessThan(145);
    } finally {
      await slow.close();
    }
  });
});

describe("Graph's odd successes ({ status, bodyText, commit }) and faults kept for one origin", () => {
  const postFrom = (origin: string | undefined, body: unknown) =>
    call(`${graph.baseUrl}${connectorGroups}`, {
      method: 'POST',
      headers: { authorization: 'Bearer any', 'content-type': 'application/json', ...(origin ? { 'x-emulator-origin': origin } : {}) },
      body: JSON.stringify(body),
    });

  it('makes the group, then answers 201 with the body exactly as given: none, or not JSON', async () => {
    graph.addFault({ method: 'POST', path: 'connectorGroups$', steps: [{ status: 201, bodyText: '', commit: true }, { status: 201, bodyText: 'created', commit: true }] });
    const empty = await postFrom(undefined, { name: 'Made, no body' });
    const notJson = await postFrom(undefined, { name: 'Made, text body' });
    expect([empty.status, empty.body]).toEqual([201, undefined]);
    expect([notJson.status, notJson.body]).toEqual([201, 'created']);
    expect(graph.connectorGroups().map((group) => group.name).sort()).toEqual(['Made, no body', 'Made, text body']);
  });

  it('applies a fault with an origin only to requests tagged with it, and notes the tag on what a create made', async () => {
    graph.addFault({ method: 'POST', path: 'connectorGroups$', origin: 'request 1', steps: [{ status: 503 }] });
    const untagged = await postFrom(undefined, { name: 'Untagged' });
    const other = await postFrom('request 0', { name: 'Another origin' });
    const meant = await postFrom('request 1', { name: 'Meant for' });
    expect([untagged.status, other.status, meant.status]).toEqual([201, 201, 503]);
    expect(graph.creations().map((creation) => creation.origin)).toEqual([undefined, 'request 0']);
  });

  it('answers a create it refuses with its refusal, whatever success the fault step names', async () => {
    const connections = `${graph.baseUrl}/v1.0/external/connections`;
    const post = () => call(connections, { method: 'POST', headers: { authorization: 'Bearer any', 'content-type': 'application/json' }, body: JSON.stringify({ id: 'refusedtwice', name: 'Refused twice', description: 'A duplicate' }) });
    graph.addFault({ method: 'POST', path: '/connections$', steps: [{ status: 201, bodyText: '', commit: true }, { status: 201, bodyText: '', commit: true }] });
    expect((await post()).status).toBe(201);
    expect((await post()).status).toBe(409);
  });

  it('refuses bodyText without a status, and together with body', () => {
    expect(() => graph.addFault({ path: 'x', steps: [{ bodyText: '' }] })).toThrow(/bodyText/);
    expect(() => graph.addFault({ path: 'x', steps: [{ status: 201, bodyText: '', body: {} }] })).toThrow(/body/);
  });
});
