import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemAssignedPrincipalId } from '../../dev/identityEndpoint';
import { devIdentities } from '../../dev/tokenIssuer';
import { call, startTestStack, type TestStack } from '../support/stack';
import { documentedExamples, graphCollectionOf } from '../support/documentedExamples';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.stop();
});

const memberId = 'e811976d-83df-4cbd-8b9b-5215b18aa874';

describe('the four operations end to end (local host, Graph emulator, identity endpoint, Azurite)', () => {
  it('creates each documented example on its documented route: connection → groups → member → connector group', async () => {
    for (const example of documentedExamples) {
      const response = await stack.post(`/${example.version}${example.path}`, example.concrete);
      expect(response.status, `${example.name}: ${JSON.stringify(response.body)}`).toBe(201);
      expect(response.headers.get('graph-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.headers.get('request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }

    // Graph received the current shapes on the /external paths, never the older ones.
    const received = stack.graph.graphRequests({ method: 'POST' }).map((request) => [request.path, request.body]);
    expect(received).toEqual(documentedExamples.map((example) => [`/${example.version}${graphCollectionOf(example)}`, example.sentToGraph]));
    expect(received.length).toBeGreaterThanOrEqual(5);
  });

  it('keeps a succeeded audit record of each created entity, found from its entity path', async () => {
    const connection = await stack.audit.findByEntity('createExternalConnection', 'external/connections/contosohr');
    expect(connection).toMatchObject({
      operation: 'createExternalConnection',
      entityId: 'contosohr',
      graphPath: '/beta/external/connections',
      graphVersion: 'beta',
      status: 'succeeded',
      httpStatus: 201,
      callerId: devIdentities.callerObjectId,
      callerAppId: devIdentities.callerAppId,
      requestBodyTruncated: false,
      responseBodyTruncated: false,
    });
    expect(connection?.graphRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(connection?.clientRequestId).toBeTruthy();
    expect(connection?.durationMs).toBeGreaterThanOrEqual(0);
    expect(new Date(connection!.completedAt!).getTime()).toBeGreaterThanOrEqual(new Date(connection!.requestedAt).getTime());
    expect(JSON.parse(connection!.responseBody!)).toMatchObject({ id: 'contosohr', state: 'draft' });

    const member = await stack.audit.findByEntity(
      'createExternalGroupMember',
      `external/connections/contosohr/groups/31bea3d537902000/members/${memberId}`,
    );
    expect(member).toMatchObject({ operation: 'createExternalGroupMember', status: 'succeeded', entityId: memberId });

    const [connectorGroup] = await stack.audit.listByOperation('createConnectorGroup', new Date(0), new Date(Date.now() + 60_000));
    expect(connectorGroup).toMatchObject({ status: 'succeeded', graphVersion: 'beta' });
    expect(connectorGroup?.entityId).toMatch(/^[0-9a-f-]{36}$/);
    const byId = await stack.audit.findByEntity(
      'createConnectorGroup',
      `onPremisesPublishingProfiles/applicationProxy/connectorGroups/${connectorGroup?.entityId}`,
    );
    expect(byId?.rowKey).toBe(connectorGroup?.rowKey);
  });

  it('caps stored bodies at 32 KiB and says so', async () => {
    const description = 'é'.repeat(40_000);
    const response = await stack.post('/v1.0/external/connections', { id: 'bigdesc', name: 'Big', description });
    expect(response.status).toBe(201);
    const record = await stack.audit.findByEntity('createExternalConnection', 'external/connections/bigdesc');
    expect(record).toMatchObject({ requestBodyTruncated: true, responseBodyTruncated: true });
    expect(Buffer.byteLength(record!.requestBody)).toBeLessThanOrEqual(32 * 1024);
    expect(record!.requestBody).not.toContain('\uFFFD');
  });

  it('serves the canonical /external routes on v1.0 and beta', async () => {
    for (const version of ['v1.0', 'beta']) {
      const id = `conn${version.replace('.', '')}`;
      expect((await stack.post(`/${version}/external/connections`, { id, name: 'Canonical' })).status).toBe(201);
      expect((await stack.post(`/${version}/external/connections/${id}/groups`, { id: 'everyone' })).status).toBe(201);
      const member = await stack.post(`/${version}/external/connections/${id}/groups/everyone/members`, {
        id: 'nestedGroup',
        type: 'externalGroup',
      });
      expect(member.status).toBe(201);
      expect(member.body).toMatchObject({ id: 'nestedGroup', type: 'externalGroup' });
    }
  });

  it('lists an operation’s audit records by time, newest first, from one partition', async () => {
    const records = await stack.audit.listByOperation('createExternalGroup', new Date(Date.now() - 60_000), new Date(Date.now() + 60_000));
    expect(records.length).toBeGreaterThanOrEqual(4);
    const times = records.map((record) => new Date(record.requestedAt).getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(new Set(records.map((record) => record.partitionKey))).toEqual(new Set(['createExternalGroup']));
  });
});

describe('what Graph documents, met as Graph does it', () => {
  const connectorGroups = '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups';

  it('a connection created without configuration comes back with the creating app authorized, as Graph’s example answers', async () => {
    const response = await stack.post('/v1.0/external/connections', { id: 'appauthorized', name: 'n' });
    expect(response.status).toBe(201);
    // The facade calls Graph with its managed identity (here the system-assigned one).
    expect(response.body.configuration).toEqual({ authorizedAppIds: [systemAssignedPrincipalId] });
    expect(stack.graph.graphRequests({ method: 'POST' }).at(-1)?.body).toEqual({ id: 'appauthorized', name: 'n' });
    const record = await stack.audit.findByEntity('createExternalConnection', 'external/connections/appauthorized');
    expect(record).toMatchObject({ status: 'succeeded', httpStatus: 201 });
  });

  it('a connector group with isDefault false is created, and isDefault is not forwarded (Graph sets it)', async () => {
    const response = await stack.post(connectorGroups, { name: 'Not default', isDefault: false });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ name: 'Not default', isDefault: false });
    expect(stack.graph.graphRequests({ method: 'POST' }).at(-1)?.body).toEqual({ name: 'Not default' });
  });

  it('a connector group with isDefault true is refused before Graph: a new group cannot be the default', async () => {
    const before = stack.graph.graphRequests({ method: 'POST' }).length;
    const response = await stack.post(connectorGroups, { name: 'Default', isDefault: true });
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual([expect.objectContaining({ target: 'isDefault', message: expect.stringContaining('cannot be the default') })]);
    expect(stack.graph.graphRequests({ method: 'POST' }).length).toBe(before);
  });

  it('any 2xx is a create: a connector group answered 200 (as a tenant was seen doing) is 201 and audited as created', async () => {
    const id = '0a8f1d2c-3b4e-4f60-8a7b-9c0d1e2f3a4b';
    stack.graph.addFault({ method: 'POST', path: '/connectorGroups$', steps: [{ status: 200, body: { id, name: 'Answered 200', connectorGroupType: 'applicationProxy', isDefault: false, region: 'nam' } }] });
    const response = await stack.post(connectorGroups, { name: 'Answered 200' }, { 'client-request-id': 'answered-200' });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ id, name: 'Answered 200' });
    const [record] = (await stack.audit.listByOperation('createConnectorGroup', new Date(0), new Date(Date.now() + 60_000))).filter(
      (candidate) => candidate.clientRequestId === 'answered-200',
    );
    expect(record).toMatchObject({ status: 'succeeded', httpStatus: 200, entityId: id });
    expect((await stack.audit.findByEntity('createConnectorGroup', `onPremisesPublishingProfiles/applicationProxy/connectorGroups/${id}`))?.rowKey).toBe(record?.rowKey);
  });

  it('any 2xx is a create: a connection answered 200 is 201 and audited as created', async () => {
    stack.graph.addFault({ method: 'POST', path: '/external/connections$', steps: [{ status: 200, commit: true, body: { id: 'answered200', name: 'n', state: 'draft' } }] });
    const response = await stack.post('/v1.0/external/connections', { id: 'answered200', name: 'n' });
    expect(response.status).toBe(201);
    expect(await stack.audit.findByEntity('createExternalConnection', 'external/connections/answered200')).toMatchObject({ status: 'succeeded', httpStatus: 200 });
  });
});

describe('Graph errors pass through with Graph’s status, code and message', () => {
  it('404 for a group in a connection that does not exist, recorded as failed', async () => {
    const response = await stack.post('/v1.0/external/connections/nosuchconn/groups', { id: 'g1' }, { 'client-request-id': 'missing-parent-1' });
    expect(response.status).toBe(404);
    expect(response.body.error).toMatchObject({ code: 'itemNotFound', message: 'The requested connection was not found.' });
    expect(response.body.error.innerError).toMatchObject({ 'client-request-id': 'missing-parent-1' });
    const [record] = (await stack.audit.listByOperation('createExternalGroup', new Date(0), new Date(Date.now() + 60_000))).filter(
      (candidate) => candidate.clientRequestId === 'missing-parent-1',
    );
    expect(record).toMatchObject({ status: 'failed', httpStatus: 404, errorCode: 'itemNotFound' });
  });

  it('409 for a duplicate connection id', async () => {
    await stack.post('/v1.0/external/connections', { id: 'dupconn', name: 'First' });
    const response = await stack.post('/v1.0/external/connections', { id: 'dupconn', name: 'Second' });
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe('nameAlreadyExists');
  });

  it('409 for a member added twice', async () => {
    const path = '/v1.0/external/connections/contosohr/groups/31bea3d537902000/members';
    const response = await stack.post(path, { id: memberId, type: 'user' });
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe('Conflict');
  });
});

describe('invalid input never reaches Graph', () => {
  const posts = () => stack.graph.graphRequests({ method: 'POST' }).length;

  it.each([
    ['an invalid body', '/v1.0/external/connections', { id: 'x', name: '' }, {}, 400, 'invalidRequest'],
    ['an invalid connection id in the path', '/v1.0/external/connections/Microsoft1/groups', { id: 'g1' }, {}, 400, 'invalidRequest'],
    ['an unknown version', '/v2.0/external/connections', { id: 'abc', name: 'n' }, {}, 400, 'invalidRequest'],
    ['a connector group on v1.0', '/v1.0/onPremisesPublishingProfiles/applicationProxy/connectorGroups', { name: 'g' }, {}, 404, undefined],
    ['text/plain', '/v1.0/external/connections', '{"id":"abc","name":"n"}', { 'content-type': 'text/plain' }, 415, 'unsupportedMediaType'],
    ['malformed JSON', '/v1.0/external/connections', '{"id":', {}, 400, 'invalidRequest'],
    ['a JSON array', '/v1.0/external/connections', '[]', {}, 400, 'invalidRequest'],
    ['an empty body', '/v1.0/external/connections', '', {}, 400, 'invalidRequest'],
    ['a body nested 5,000 levels deep', '/v1.0/external/connections', `{"id":"deep1","name":"n","description":${'['.repeat(5_000)}${']'.repeat(5_000)}}`, {}, 400, 'invalidRequest'],
  ])('%s', async (_, path, body, headers, status, code) => {
    const before = posts();
    const response = await stack.post(path, body, headers);
    expect(response.status).toBe(status);
    if (code) {
      expect(response.body.error.code).toBe(code);
      expect(response.body.error.innerError['request-id']).toBe(response.headers.get('request-id'));
    }
    expect(posts()).toBe(before);
  });

  it('reports every violation at once, each with its target', async () => {
    const response = await stack.post('/beta/connections/contosohr/groups/bad%20group/members', {
      type: 'robot',
      extra: true,
    });
    expect(response.status).toBe(400);
    expect(response.body.error.details.map((detail: { target: string }) => detail.target).sort()).toEqual(
      ['extra', 'groupId', 'id', 'type'],
    );
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const before = posts();
    const response = await stack.post('/v1.0/external/connections', { id: 'bigbody', name: 'n', description: 'x'.repeat(1024 * 1024) });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('requestEntityTooLarge');
    expect(posts()).toBe(before);
  });

  it('refuses a streamed body over 1 MiB without Content-Length', async () => {
    const chunk = new TextEncoder().encode(`{"id":"stream1","name":"n","description":"${'y'.repeat(700_000)}`);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        controller.enqueue(chunk);
        controller.enqueue(new TextEncoder().encode('"}'));
        controller.close();
      },
    });
    const response = await call(`${stack.host.apiUrl}/v1.0/external/connections`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await stack.token()}` },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
  });

  it('writes no audit record for rejected input', async () => {
    await stack.post('/v1.0/external/connections', { id: 'noaudit', name: '' }, { 'client-request-id': 'rejected-1' });
    const records = await stack.audit.listByOperation('createExternalConnection', new Date(0), new Date(Date.now() + 60_000));
    expect(records.filter((record) => record.clientRequestId === 'rejected-1')).toEqual([]);
  });
});

describe('correlation and pass-through headers', () => {
  it('forwards the caller’s client-request-id to Graph and echoes it', async () => {
    const response = await stack.post('/v1.0/external/connections', { id: 'corr1', name: 'n' }, { 'client-request-id': 'flow-run-42' });
    expect(response.status).toBe(201);
    expect(response.headers.get('client-request-id')).toBe('flow-run-42');
    const sent = stack.graph.graphRequests({ method: 'POST', path: /\/external\/connections$/ }).at(-1);
    expect(sent?.headers['client-request-id']).toBe('flow-run-42');
  });

  it('generates a client-request-id when the caller sends none', async () => {
    const response = await stack.post('/v1.0/external/connections', { id: 'corr2', name: 'n' });
    const generated = response.headers.get('client-request-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    expect(stack.graph.graphRequests({ method: 'POST' }).at(-1)?.headers['client-request-id']).toBe(generated);
  });

  it('passes the Teams admin center GraphConnectors-Ticket through unchanged', async () => {
    await stack.post('/beta/external/connections', { id: 'ticketed', name: 'n' }, { 'GraphConnectors-Ticket': 'ticket-value-123' });
    expect(stack.graph.graphRequests({ method: 'POST' }).at(-1)?.headers['graphconnectors-ticket']).toBe('ticket-value-123');
  });

  it('calls Graph with a bearer token from the managed identity endpoint', async () => {
    const sent = stack.graph.graphRequests({ method: 'POST' }).at(-1);
    expect(sent?.headers.authorization).toMatch(/^Bearer ey/);
    expect(stack.identity.requestCount).toBeGreaterThanOrEqual(1);
  });

  it('keeps its connection to Graph alive between requests', async () => {
    await stack.post('/v1.0/external/connections', { id: 'keepalive1', name: 'n' });
    await stack.post('/v1.0/external/connections', { id: 'keepalive2', name: 'n' });
    const [first, second] = stack.graph.graphRequests({ method: 'POST' }).slice(-2);
    expect(second?.remotePort).toBe(first?.remotePort);
  });

  it('answers the readiness probe', async () => {
    const response = await call(`${stack.host.apiUrl}/health`);
    expect(response.status).toBe(200);
  });
});
