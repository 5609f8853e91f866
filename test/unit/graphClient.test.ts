import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../../dev/azurite';
import { startGraphEmulator, type GraphEmulator } from '../../dev/graphEmulator';
import { FacadeError } from '../../shared/errors';
import { GraphClient } from '../../shared/graph/graphClient';

let graph: GraphEmulator;
const tokens = { getToken: async () => 'token' };

beforeAll(async () => {
  graph = await startGraphEmulator();
});

afterAll(async () => {
  await graph?.close();
});

describe('GraphClient', () => {
  it('says a request that never left the process is not an unknown outcome', async () => {
    const client = new GraphClient({ baseUrl: graph.baseUrl, tokens, attemptTimeoutMs: 1_000 });
    const before = graph.requests.length;
    const failure = await client
      .send(
        { method: 'POST', path: '/beta/external/connections', body: { id: 'abc', name: 'n' }, headers: { 'graphconnectors-ticket': 'caf\u0100' } },
        { deadlineAt: Date.now() + 5_000, retryMode: 'all' },
      )
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(FacadeError);
    expect(failure).toMatchObject({ status: 500, outcomeUnknown: false });
    expect(graph.requests.length).toBe(before);
  });

  it('answers 503 deadlineExceeded, not a Graph timeout, when the deadline passed before any attempt', async () => {
    const client = new GraphClient({ baseUrl: graph.baseUrl, tokens, attemptTimeoutMs: 1_000 });
    const failure = await client
      .send({ method: 'GET', path: '/v1.0/external/connections/abc' }, { deadlineAt: Date.now() - 1, retryMode: 'all' })
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ status: 503, code: 'deadlineExceeded', outcomeUnknown: false });
  });

  it('reports its retries through the progress it was given, also when it ends in an error', async () => {
    graph.addFault({ method: 'GET', path: 'nosuch', steps: [{ status: 503, retryAfter: '0' }, { reset: true }, { reset: true }, { reset: true }] });
    const client = new GraphClient({ baseUrl: graph.baseUrl, tokens, attemptTimeoutMs: 1_000, backoffBaseMs: 10 });
    const progress = { retries: 0, uncertain: false };
    const failure = await client
      .send({ method: 'GET', path: '/v1.0/external/connections/nosuch' }, { deadlineAt: Date.now() + 5_000, retryMode: 'all', progress })
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ status: 502, code: 'badGateway', outcomeUnknown: true });
    expect(progress).toEqual({ retries: 3, uncertain: true });
  });

  it('takes an answer that is not HTTP for a lost answer (Graph may have carried the request out), not a local failure', async () => {
    graph.addFault({ method: 'POST', path: 'garbled$', steps: [{ garbage: true }] });
    const client = new GraphClient({ baseUrl: graph.baseUrl, tokens, attemptTimeoutMs: 1_000 });
    const failure = await client
      .send({ method: 'POST', path: '/v1.0/garbled', body: {} }, { deadlineAt: Date.now() + 5_000, retryMode: 'throttlingOnly' })
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ status: 502, code: 'badGateway', outcomeUnknown: true });
    expect((failure as FacadeError).retryAfterSeconds).toBeGreaterThan(0);
  });

  it('once an attempt was lost, a token that cannot be had for the next one is an unknown outcome too', async () => {
    graph.addFault({ method: 'POST', path: 'flaky$', steps: [{ reset: true }] });
    let calls = 0;
    const failingAfterFirst = {
      getToken: async () => {
        calls += 1;
        if (calls > 1) throw new FacadeError(503, 'managedIdentityUnavailable', 'no token', { retryAfterSeconds: 5 });
        return 'token';
      },
    };
    const client = new GraphClient({ baseUrl: graph.baseUrl, tokens: failingAfterFirst, attemptTimeoutMs: 1_000, backoffBaseMs: 10 });
    const failure = await client
      .send({ method: 'POST', path: '/v1.0/flaky', body: {} }, { deadlineAt: Date.now() + 5_000, retryMode: 'all' })
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ status: 503, code: 'managedIdentityUnavailable', outcomeUnknown: true });
  });

  it('names the deadline spent when Graph never answers', async () => {
    graph.addFault({ method: 'GET', path: 'slow$', steps: Array(5).fill({ hang: true }) });
    const client = new GraphClient({ baseUrl: graph.baseUrl, tokens, attemptTimeoutMs: 300, backoffBaseMs: 10 });
    const failure = await client
      .send({ method: 'GET', path: '/v1.0/slow' }, { deadlineAt: Date.now() + 1_500, deadlineMs: 1_500, retryMode: 'all' })
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ status: 504, code: 'gatewayTimeout' });
    expect((failure as Error).message).toMatch(/deadline of 1500 ms/);
  });

  it('retries a connection that was never made even where an unknown outcome is never retried: nothing was sent', async () => {
    const closedPort = await freeLoopbackPort();
    const client = new GraphClient({ baseUrl: `http://127.0.0.1:${closedPort}`, tokens, attemptTimeoutMs: 1_000, backoffBaseMs: 10 });
    const progress = { retries: 0, uncertain: false };
    const failure = await client
      .send({ method: 'POST', path: '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups', body: { name: 'n' } }, { deadlineAt: Date.now() + 5_000, retryMode: 'throttlingOnly', progress })
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ status: 502, code: 'badGateway', outcomeUnknown: false });
    expect((failure as Error).message).toMatch(/could not be reached \(4 attempts\)/);
    expect(progress).toEqual({ retries: 3, uncertain: false });
  });

  it('takes a connection that closes halfway through Graph’s answer for a lost answer, and does not repeat it where that could duplicate', async () => {
    const server = await rawServer((socket) =>
      socket.once('data', () => socket.end('HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{"id":"half')),
    );
    try {
      const client = new GraphClient({ baseUrl: server.url, tokens, attemptTimeoutMs: 1_000, backoffBaseMs: 10 });
      const progress = { retries: 0, uncertain: false };
      const failure = await client
        .send({ method: 'POST', path: '/v1.0/halfway', body: {} }, { deadlineAt: Date.now() + 5_000, retryMode: 'throttlingOnly', progress })
        .catch((error: unknown) => error);
      expect(failure).toMatchObject({ status: 502, code: 'badGateway', outcomeUnknown: true });
      expect(server.requests()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('takes an answer that stops coming for a timeout of the attempt, with the outcome unknown', async () => {
    const server = await rawServer((socket) => socket.once('data', () => socket.write('HTTP/1.1 201 Created\r\ncontent-length: 50\r\n\r\n{"id":')));
    try {
      const client = new GraphClient({ baseUrl: server.url, tokens, attemptTimeoutMs: 300, backoffBaseMs: 10 });
      const failure = await client
        .send({ method: 'POST', path: '/v1.0/stalls', body: {} }, { deadlineAt: Date.now() + 5_000, retryMode: 'throttlingOnly' })
        .catch((error: unknown) => error);
      expect(failure).toMatchObject({ status: 504, code: 'gatewayTimeout', outcomeUnknown: true });
    } finally {
      await server.close();
    }
  });

  it('sends a path as a URL would: encoded', async () => {
    const client = new GraphClient({ baseUrl: graph.baseUrl, tokens, attemptTimeoutMs: 1_000 });
    await client.send({ method: 'GET', path: '/v1.0/external/connections/with space' }, { deadlineAt: Date.now() + 5_000, retryMode: 'all' });
    expect(graph.requests.at(-1)?.path).toBe('/v1.0/external/connections/with%20space');
  });

  it('follows @odata.nextLink only on Graph itself', () => {
    const client = new GraphClient({ baseUrl: `${graph.baseUrl}`, tokens, attemptTimeoutMs: 1_000 });
    expect(client.relativePath(`${graph.baseUrl}/beta/things?$skiptoken=2`)).toBe('/beta/things?$skiptoken=2');
    expect(() => client.relativePath('https://elsewhere.example/beta/things')).toThrow(/away from Graph/);
  });
});

/** A TCP server that answers every connection as `onConnection` says (what a broken Graph front end might do). */
async function rawServer(onConnection: (socket: import('node:net').Socket) => void): Promise<{ url: string; requests(): number; close(): Promise<void> }> {
  let connections = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
