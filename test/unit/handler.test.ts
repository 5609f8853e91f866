import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExternalGroup } from '../../functions/createExternalGroup';
import { freeLoopbackPort, startAzurite } from '../../dev/azurite';
import { startGraphEmulator, type GraphEmulator } from '../../dev/graphEmulator';
import { startIdentityEndpoint, type IdentityEndpoint } from '../../dev/identityEndpoint';
import { startDevTokenIssuer, type DevTokenIssuer } from '../../dev/tokenIssuer';
import type { HttpRequest as HttpRequestType, HttpRequestInit } from '@azure/functions';
import { HttpRequest, InvocationContext } from '../../shared/azureFunctions';
import { maxBodyBytes } from '../../shared/http/jsonBody';
import { createOperationHandler, createStages } from '../../shared/pipeline/pipeline';
import { authenticate } from '../../shared/pipeline/stages/authenticate';
import { authorize } from '../../shared/pipeline/stages/authorize';
import { createRuntime, type Runtime } from '../../shared/runtime';

/**
 * The handler as the Functions host calls it: `HttpRequest` and `InvocationContext` in, an
 * `HttpResponseInit` out. Body and input checks need no runtime at all (the input cases run
 * without the auth stages, which test/unit/auth*.test.ts cover); the audit cases use a real
 * identity endpoint, Graph emulator and dev token issuer with storage that is down or missing.
 */

let graph: GraphEmulator;
let identity: IdentityEndpoint;
let tokens: DevTokenIssuer;

const savedEnvironment = { ...process.env };

beforeAll(async () => {
  identity = await startIdentityEndpoint();
  graph = await startGraphEmulator({ tokenSigningKey: identity.signingKey });
  // ManagedIdentityCredential reads the App Service protocol settings from the process environment.
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.identityHeader;
  tokens = await startDevTokenIssuer();
});

afterAll(async () => {
  process.env = savedEnvironment;
  await graph?.close();
  await identity?.close();
  await tokens?.close();
});

const withoutAuth = createStages.filter((stage) => stage !== authenticate && stage !== authorize);

const noRuntime = (): Runtime => {
  throw new Error('this request must not need the runtime');
};

function groupRequest(body: string, headers: Record<string, string> = {}, params = { version: 'v1.0', connectionId: 'contosohr' }) {
  return new HttpRequest({
    method: 'POST',
    url: `http://localhost:7071/api/${params.version}/external/connections/${params.connectionId}/groups`,
    headers: { 'content-type': 'application/json', ...headers },
    params,
    body: { string: body },
  });
}

const invocation = () => new InvocationContext({ functionName: 'createExternalGroup', logHandler: () => undefined });

describe('createExternalGroup handler', () => {
  const handler = createOperationHandler(createExternalGroup, withoutAuth, noRuntime);

  it('refuses a body that is not application/json with a Graph-shaped 415', async () => {
    const response = await handler(groupRequest('{"id":"g1"}', { 'content-type': 'text/xml', 'client-request-id': 'c-1' }), invocation());
    expect(response.status).toBe(415);
    expect(response.headers).toMatchObject({ 'client-request-id': 'c-1' });
    expect(response.jsonBody).toMatchObject({
      error: { code: 'unsupportedMediaType', innerError: { 'client-request-id': 'c-1', 'request-id': expect.any(String), date: expect.stringMatching(/Z$/) } },
    });
  });

  it('accepts application/json with a charset', async () => {
    const response = await handler(groupRequest('{"id":"bad id"}', { 'content-type': 'application/json; charset=utf-8' }), invocation());
    expect(response.status).toBe(400);
  });

  it('refuses a declared length over 1 MiB before reading the body', async () => {
    const response = await handler(groupRequest('{}', { 'content-length': String(1024 * 1024 + 1) }), invocation());
    expect(response.status).toBe(413);
  });

  it('refuses a body nested deeper than 64 levels with a Graph-shaped 400, before validation (5,000 levels used to answer 500)', async () => {
    const nested = (levels: number) => `{"id":"g1","description":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
    for (const levels of [65, 5_000, 500_000]) {
      const response = await handler(groupRequest(nested(levels), { 'client-request-id': `deep-${levels}` }), invocation());
      expect(response.status, `${levels}`).toBe(400);
      expect(response.jsonBody).toMatchObject({ error: { code: 'invalidRequest', message: expect.stringContaining('deeper than 64 levels'), innerError: { 'client-request-id': `deep-${levels}` } } });
    }
    // 64 levels are read; the body is then judged by its schema (description must be text).
    const atLimit = await handler(groupRequest(nested(64)), invocation());
    expect(atLimit.status).toBe(400);
    expect((atLimit.jsonBody as { error: { details: { target: string }[] } }).error.details.map((detail) => detail.target)).toEqual(['description']);
  });

  it('counts only structure: brackets inside strings, escaped quotes included, are text', async () => {
    const body = JSON.stringify({ id: 'g1', displayName: `${'['.repeat(100)}\\"{{{`, description: '}'.repeat(100), owner: '{'.repeat(100) });
    const response = await handler(groupRequest(body), invocation());
    expect(response.status).toBe(400);
    expect((response.jsonBody as { error: { details: { target: string }[] } }).error.details.map((detail) => detail.target)).toEqual(['owner']);
  });

  it('reports body and path violations together, each with a target', async () => {
    const response = await handler(
      groupRequest('{"id":"has space","owner":"me"}', {}, { version: 'v9', connectionId: 'x' }),
      invocation(),
    );
    expect(response.status).toBe(400);
    const details = (response.jsonBody as { error: { details: { target: string; code: string }[] } }).error.details;
    expect(details.map((detail) => `${detail.target}:${detail.code}`).sort()).toEqual([
      'connectionId:invalidValue',
      'id:invalidValue',
      'owner:unknownProperty',
      'version:invalidValue',
    ]);
  });
});

describe('audit store failures keep Graph untouched', () => {
  it('answers 503 with Retry-After when the audit store is down, and never calls Graph', async () => {
    graph.reset();
    const deadPort = await freeLoopbackPort();
    const runtime = createRuntime({
      ...tokens.env,
      GRAPH_BASE_URL: graph.baseUrl,
      IDENTITY_ENDPOINT: identity.endpoint,
      IDENTITY_HEADER: identity.identityHeader,
      AuditStorage: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from('k').toString('base64')};TableEndpoint=http://127.0.0.1:${deadPort}/devstoreaccount1;`,
    });
    const handler = createOperationHandler(createExternalGroup, undefined, () => runtime);
    const response = await handler(groupRequest('{"id":"g1"}', { authorization: `Bearer ${await tokens.mint()}` }), invocation());
    expect(response.status).toBe(503);
    expect(response.headers).toMatchObject({ 'retry-after': '10' });
    expect(response.jsonBody).toMatchObject({ error: { code: 'auditStoreUnavailable' } });
    expect(graph.graphRequests()).toEqual([]);
  });

  it('answers 503 once Azurite has stopped, after serving before, and never calls Graph then', async () => {
    const azurite = await startAzurite();
    try {
      const runtime = createRuntime({
        ...tokens.env,
        GRAPH_BASE_URL: graph.baseUrl,
        IDENTITY_ENDPOINT: identity.endpoint,
        IDENTITY_HEADER: identity.identityHeader,
        AuditStorage: azurite.connectionString,
      });
      const handler = createOperationHandler(createExternalGroup, undefined, () => runtime);
      const request = async (id: string) =>
        handler(groupRequest(JSON.stringify({ id }), { authorization: `Bearer ${await tokens.mint()}` }), invocation());
      // The connection does not exist in this emulator: Graph answers 404, which proves the call got through.
      expect((await request('before')).status).toBe(404);
      const graphCalls = graph.graphRequests().length;
      await azurite.stop();
      const response = await request('after');
      expect(response.status).toBe(503);
      expect(response.jsonBody).toMatchObject({ error: { code: 'auditStoreUnavailable' } });
      expect(graph.graphRequests().length).toBe(graphCalls);
    } finally {
      await azurite.stop();
    }
  });

  it('answers 503 when no audit storage is configured at all', async () => {
    graph.reset();
    const runtime = createRuntime({ ...tokens.env, GRAPH_BASE_URL: graph.baseUrl });
    const handler = createOperationHandler(createExternalGroup, undefined, () => runtime);
    const response = await handler(groupRequest('{"id":"g1"}', { authorization: `Bearer ${await tokens.mint()}` }), invocation());
    expect(response.status).toBe(503);
    expect(response.jsonBody).toMatchObject({ error: { code: 'auditStoreUnavailable' } });
    expect(graph.graphRequests()).toEqual([]);
  });
});

/**
 * A request as the Functions host hands it over with HTTP streaming on (`enableHttpStream`, set
 * in shared/operations/registry.ts): built the way @azure/functions builds it from the host's
 * proxied request (`createStreamRequest`: a fetch Request over the incoming stream), with a body
 * that never ends and counts what was pulled from it.
 */
function streamedGroupRequest(headers: Record<string, string> = {}) {
  const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
  let pulled = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel() {
        cancelled = true;
      },
    },
    // Nothing is pulled until someone reads.
    { highWaterMark: 0 },
  );
  const nativeRequest = new Request('https://func-api.example/api/v1.0/external/connections/contosohr/groups', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    duplex: 'half',
  } as RequestInit);
  const init = { nativeRequest, params: { version: 'v1.0', connectionId: 'contosohr' } } as HttpRequestInit;
  return {
    request: new HttpRequest(init) as HttpRequestType,
    pulled: () => pulled,
    cancelled: () => cancelled,
  };
}

describe('streamed bodies, as under the Functions host with HTTP streaming', () => {
  it('a body that goes on past 1 MiB is refused with 413 one chunk past the limit, and the rest is never read', async () => {
    const handler = createOperationHandler(createExternalGroup, withoutAuth, noRuntime);
    const streamed = streamedGroupRequest();
    const response = await handler(streamed.request, invocation());
    expect(response.status).toBe(413);
    expect(response.jsonBody).toMatchObject({ error: { code: 'requestEntityTooLarge' } });
    expect(streamed.pulled()).toBeGreaterThan(maxBodyBytes);
    expect(streamed.pulled()).toBeLessThanOrEqual(maxBodyBytes + 64 * 1024);
    expect(streamed.cancelled()).toBe(true);
  });

  it('through the whole pipeline: a caller that is not let in is answered before a byte of the body is read', async () => {
    graph.reset();
    const runtime = createRuntime({ ...tokens.env, GRAPH_BASE_URL: graph.baseUrl });
    const handler = createOperationHandler(createExternalGroup, createStages, () => runtime);
    const cases: [string, Record<string, string>, number][] = [
      ['no token', {}, 401],
      ['a bad token', { authorization: 'Bearer not-a-jwt' }, 401],
      ['a token without the role', { authorization: `Bearer ${await tokens.mint({ roles: ['ConnectorGroup.Create'] })}` }, 403],
    ];
    for (const [name, headers, status] of cases) {
      const streamed = streamedGroupRequest(headers);
      const response = await handler(streamed.request, invocation());
      expect(response.status, name).toBe(status);
      expect(streamed.pulled(), name).toBe(0);
    }

    // Let in, the same endless body is read up to the cap and refused, before Graph or storage.
    const admitted = streamedGroupRequest({ authorization: `Bearer ${await tokens.mint({ roles: ['ExternalGroup.Create'] })}` });
    const response = await handler(admitted.request, invocation());
    expect(response.status).toBe(413);
    expect(admitted.pulled()).toBeLessThanOrEqual(maxBodyBytes + 64 * 1024);
    expect(graph.graphRequests()).toEqual([]);
  });
});
