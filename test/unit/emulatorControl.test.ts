import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { redactAuthorization, validateFaultRule } from '../../dev/emulatorControl';
import { startGraphEmulator, type GraphEmulator } from '../../dev/graphEmulator';
import { call } from '../support/stack';

/** The Graph emulator's control routes (`/_emulator/*`), over HTTP, as docs/local.md shows them. */

let graph: GraphEmulator;
const token = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzZWNyZXQtcGF5bG9hZCJ9.c2lnbmF0dXJl';

beforeAll(async () => {
  graph = await startGraphEmulator({ requestLogLimit: 5 });
});

afterAll(async () => {
  await graph?.close();
});

beforeEach(() => graph.reset());

const control = (method: string, path: string, body?: unknown) =>
  call(`${graph.baseUrl}/_emulator/${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });

const createConnection = (id: string) =>
  call(`${graph.baseUrl}/v1.0/external/connections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ id, name: id }),
  });

describe('POST /_emulator/faults', () => {
  it.each([
    ['an unknown step field', { path: '/connections$', steps: [{ stauts: 503 }] }, '"steps[0].stauts" is not allowed'],
    ['a status that is not one', { path: '/connections$', steps: [{ status: 700 }] }, '"steps[0].status" must be less than or equal to 599'],
    ['a status that is text', { path: '/connections$', steps: [{ status: 'busy' }] }, '"steps[0].status" must be a number'],
    ['a path that is not a regular expression', { path: '/connections(', steps: [{ status: 503 }] }, '"path" is not a valid regular expression'],
    ['a path too long to be one', { path: 'a'.repeat(201), steps: [{ status: 503 }] }, '"path" length must be less than or equal to 200'],
    ['no steps', { path: '/connections$', steps: [] }, '"steps" must contain at least 1 items'],
    ['a step that does nothing', { path: '/connections$', steps: [{ commit: true }] }, 'does nothing: give it status, delayMs, hang, reset or garbage'],
    ['two endings at once', { path: '/connections$', steps: [{ reset: true, garbage: true }] }, 'only one of'],
    ['contradictory steps', { path: '/connections$', steps: [{ status: 503, reset: true }] }, 'only one of [status, hang, reset, garbage]'],
    ['Retry-After without a status', { path: '/connections$', steps: [{ delayMs: 10, retryAfter: '2' }] }, 'retryAfter needs status'],
    ['an unknown method', { method: 'FETCH', path: '/connections$', steps: [{ status: 503 }] }, '"method" must be one of'],
    ['an unknown rule field', { path: '/connections$', steps: [{ status: 503 }], times: 2 }, '"times" is not allowed'],
  ])('refuses %s with 400 and the reason, and adds nothing', async (_, spec, reason) => {
    const response = await control('POST', 'faults', spec);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalidFault');
    expect(response.body.error.message).toContain(reason);
    expect((await control('GET', 'faults')).body).toEqual({ value: [] });
    // The create the bad fault would have broken still works.
    expect((await createConnection('stillworks')).status).toBe(201);
  });

  it('gives every reason at once', async () => {
    const response = await control('POST', 'faults', { path: '(', steps: [{ status: 99 }, {}] });
    expect(response.body.error.details.map((detail: { message: string }) => detail.message)).toHaveLength(3);
  });

  it('refuses a body that is not JSON', async () => {
    const response = await control('POST', 'faults', '{"path":');
    expect(response.status).toBe(400);
    expect(response.body.error.message).toMatch(/^The fault is not valid JSON/);
  });

  it('accepts a good fault with 201, lists it while it lasts, and applies it', async () => {
    const added = await control('POST', 'faults', { method: 'post', path: '/external/connections$', steps: [{ status: 429, retryAfter: '2' }, { status: 503, commit: true }] });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ id: expect.any(Number), method: 'POST', path: '/external/connections$', applied: 0 });
    expect((await control('GET', 'faults')).body.value).toEqual([added.body]);

    const throttled = await createConnection('faulted');
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('2');
    expect((await control('GET', 'faults')).body.value[0].applied).toBe(1);
    expect((await createConnection('faulted')).status).toBe(503);
    expect((await control('GET', 'faults')).body.value).toEqual([]);
    expect((await createConnection('faulted')).status).toBe(409); // the 503 hid a create
  });

  it('removes one fault by id, or all', async () => {
    const first = (await control('POST', 'faults', { path: 'a', steps: [{ status: 503 }] })).body;
    await control('POST', 'faults', { path: 'b', steps: [{ status: 503 }] });
    expect((await control('DELETE', `faults/${first.id}`)).status).toBe(204);
    expect((await control('GET', 'faults')).body.value.map((fault: { path: string }) => fault.path)).toEqual(['b']);
    expect((await control('DELETE', `faults/${first.id}`)).status).toBe(404);
    expect((await control('DELETE', 'faults')).status).toBe(204);
    expect((await control('GET', 'faults')).body.value).toEqual([]);
  });

  it('answers an unknown control route with 404 and a wrong method with 405', async () => {
    expect((await control('GET', 'fault')).status).toBe(404);
    const wrong = await control('PUT', 'faults');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, POST, DELETE');
  });

  it('checks faults added in-process the same way', () => {
    expect(() => graph.addFault({ path: 'x', steps: [{ status: 1000 }] })).toThrow(/must be less than or equal to 599/);
    expect(validateFaultRule({ path: 'connections/faults/groups$', steps: [{ commit: true, reset: true }, { hang: true }, { delayMs: 5 }] })).toBeTruthy();
  });
});

describe('GET /_emulator/requests', () => {
  it('shows each request with the status answered and the fault applied', async () => {
    await control('POST', 'faults', { path: '/external/connections$', steps: [{ status: 503, retryAfter: '1' }] });
    await createConnection('first');
    await createConnection('first');
    const requests = (await control('GET', 'requests')).body as { status: number; fault: unknown; path: string }[];
    expect(requests.map((request) => [request.path, request.status])).toEqual([
      ['/v1.0/external/connections', 503],
      ['/v1.0/external/connections', 201],
    ]);
    expect(requests[0]!.fault).toEqual({ faultId: expect.any(Number), step: { status: 503, retryAfter: '1' } });
    expect(requests[1]!.fault).toBeNull();
  });

  it('never keeps a bearer token: the Authorization header is redacted', async () => {
    await createConnection('redacted');
    const [request] = (await control('GET', 'requests')).body as { headers: Record<string, string> }[];
    expect(request!.headers.authorization).toBe('Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.[redacted]');
    expect(JSON.stringify(graph.requests)).not.toContain('c2lnbmF0dXJl');
    expect(redactAuthorization('Basic dXNlcjpwYXNz')).toBe('Basic [redacted]');
    expect(redactAuthorization('garbage')).toBe('[redacted]');
  });

  it('keeps only the last N requests (here 5), and counts them all', async () => {
    for (let index = 0; index < 8; index += 1) await createConnection(`conn${index}`);
    const requests = (await control('GET', 'requests')).body as { body: { id: string } }[];
    expect(requests.map((request) => request.body.id)).toEqual(['conn3', 'conn4', 'conn5', 'conn6', 'conn7']);
    expect(graph.receivedCount).toBe(8);
    expect((await control('GET', 'requests?last=2')).body).toHaveLength(2);
  });
});
