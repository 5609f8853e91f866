import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('follows @odata.nextLink only on Graph itself', () => {
    const client = new GraphClient({ baseUrl: `${graph.baseUrl}`, tokens, attemptTimeoutMs: 1_000 });
    expect(client.relativePath(`${graph.baseUrl}/beta/things?$skiptoken=2`)).toBe('/beta/things?$skiptoken=2');
    expect(() => client.relativePath('https://elsewhere.example/beta/things')).toThrow(/away from Graph/);
  });
});
