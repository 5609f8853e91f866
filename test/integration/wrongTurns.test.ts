import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestStack, type HostProcess, type TestStack } from '../support/stack';
import { wrongTurns } from '../support/wrongTurns';

/**
 * A caller's wrong turns over real HTTP, against the local host process: each gets a Graph-shaped
 * answer it can act on, never an empty 404, a text/plain error or a reset connection.
 */

let stack: TestStack;
let loggingHost: HostProcess;
const mib = 1024 * 1024;

beforeAll(async () => {
  stack = await startTestStack();
  // A second instance that logs, piped: one plain JSON object per line.
  loggingHost = await stack.startAnotherHost({ LOCAL_HOST_QUIET: '0' });
});

afterAll(async () => {
  await stack?.stop();
});

const origin = () => new URL(stack.host.apiUrl).origin;

describe('wrong routes and methods, over HTTP', () => {
  it.each(wrongTurns.map((turn) => [turn.name, turn] as const))('%s', async (_, turn) => {
    const graphCallsBefore = stack.graph.receivedCount;
    const response = await call(`${origin()}${turn.path}`, {
      method: turn.method,
      headers: { 'client-request-id': 'wrong-turn-http', 'content-type': 'application/json', authorization: `Bearer ${await stack.token()}` },
      ...(turn.method === 'POST' ? { body: '{"id":"contosohr","name":"Contoso HR"}' } : {}),
    });
    expect(response.status).toBe(turn.status);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('allow')).toBe(turn.allow ?? null);
    expect(response.headers.get('client-request-id')).toBe('wrong-turn-http');
    expect(response.headers.get('request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.body.error.code).toBe(turn.code);
    expect(response.body.error.message).toContain(turn.namedPath);
    if (turn.nearest) expect(response.body.error.message).toContain(`The nearest supported route is ${turn.nearest}.`);
    expect(response.body.error.innerError['request-id']).toBe(response.headers.get('request-id'));
    expect(stack.graph.receivedCount).toBe(graphCallsBefore);
  });

  it('writes one request log line each, a plain JSON object per line when piped', async () => {
    const origin = new URL(loggingHost.apiUrl).origin;
    const before = loggingHost.output().split('\n').length;
    for (const turn of wrongTurns) {
      await call(`${origin}${turn.path}`, { method: turn.method, headers: { 'client-request-id': `logged-${turn.method}` } });
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const lines = loggingHost.output().split('\n').slice(before - 1).filter((line) => line.startsWith('{'));
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const requestLines = parsed.filter((line) => line.event === 'facade.request');
    expect(requestLines.map((line) => [line.status, line.method, line.path])).toEqual(wrongTurns.map((turn) => [turn.status, turn.method, turn.namedPath]));
    for (const line of requestLines) {
      expect(line).toMatchObject({ level: 'warning', operation: 'unknownRoute', outcome: 'rejected' });
      expect(line.message).toBeUndefined();
    }
    expect(parsed).toHaveLength(requestLines.length);
  });
});

describe('the local host at its edges', () => {
  it('answers a malformed percent-encoding in the path with a Graph-shaped 400', async () => {
    const response = await call(`${stack.host.apiUrl}/v1.0/external/connections/%zz/groups`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'client-request-id': 'bad-escape' },
      body: '{"id":"g1"}',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('client-request-id')).toBe('bad-escape');
    expect(response.body.error).toMatchObject({ code: 'invalidRequest', target: '/api/v1.0/external/connections/%zz/groups' });
    expect(response.body.error.message).toMatch(/malformed percent-encoding/);
  });

  it('delivers the 413 for a declared Content-Length over 1 MiB: the client reads it, no reset', async () => {
    const body = JSON.stringify({ id: 'big', description: 'x'.repeat(6 * mib) });
    const response = await call(`${stack.host.apiUrl}/v1.0/external/connections/contosohr/groups`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), authorization: `Bearer ${await stack.token()}` },
      body,
    });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('requestEntityTooLarge');
    expect(response.headers.get('request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('delivers the 413 for a chunked body that passes 1 MiB: the client reads it, no reset', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"id":"big","description":"'));
        if (sent >= 3 * mib) {
          controller.enqueue(new TextEncoder().encode('"}'));
          controller.close();
          return;
        }
        controller.enqueue(chunk);
        sent += chunk.length;
      },
    });
    const response = await fetch(`${stack.host.apiUrl}/v1.0/external/connections/contosohr/groups`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await stack.token()}` },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('requestEntityTooLarge');
  });
});
