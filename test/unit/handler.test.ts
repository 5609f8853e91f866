import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExternalGroup } from '../../functions/createExternalGroup';
import { freeLoopbackPort, startAzurite } from '../../dev/azurite';
import { startGraphEmulator, type GraphEmulator } from '../../dev/graphEmulator';
import { startIdentityEndpoint, type IdentityEndpoint } from '../../dev/identityEndpoint';
import { startDevTokenIssuer, type DevTokenIssuer } from '../../dev/tokenIssuer';
import { HttpRequest, InvocationContext } from '../../shared/azureFunctions';
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
