import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devIdentities } from '../../dev/tokenIssuer';
import { startHostProcess, startTestStack, type HostProcess, type TestStack } from '../support/stack';
import { allowedDevClientApps, tokenDefects } from '../support/tokenDefects';

/**
 * Authentication and app roles over real HTTP: the local host as a child process trusting the dev
 * token issuer, Graph emulator, identity endpoint and Azurite. Denied calls reach neither Graph
 * nor the audit table; allowed ones are audited with who the caller was.
 */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ AUTH_ALLOWED_CLIENT_APPS: allowedDevClientApps });
});

afterAll(async () => {
  await stack?.stop();
});

const everyRecord = async () => {
  const all = await Promise.all(
    ['createExternalConnection', 'createExternalGroup', 'createExternalGroupMember', 'createConnectorGroup'].map((operation) =>
      stack.audit.listByOperation(operation, new Date(0), new Date(Date.now() + 60_000)),
    ),
  );
  return all.flat();
};

describe('denied calls reach neither Graph nor the audit table', () => {
  it('answers every token defect 401/403, Graph-shaped', async () => {
    const defects = await tokenDefects(stack.tokens, 'ExternalConnection.Create', 'ConnectorGroup.Create');
    expect(defects.length).toBeGreaterThanOrEqual(24);
    const postsBefore = stack.graph.graphRequests().length;
    const identityBefore = stack.identity.requestCount;

    for (const [index, defect] of defects.entries()) {
      const headers: Record<string, string> = { 'client-request-id': `denied-${index}` };
      if (defect.authorization !== undefined) headers.authorization = defect.authorization;
      const response = await stack.post('/v1.0/external/connections', { id: `denied${index}`, name: 'n' }, headers, { token: null });

      expect(response.status, defect.name).toBe(defect.status);
      expect(response.headers.get('content-type'), defect.name).toMatch(/^application\/json/);
      expect(response.body.error.code, defect.name).toBe(defect.status === 401 ? 'InvalidAuthenticationToken' : 'Authorization_RequestDenied');
      expect(response.body.error.innerError, defect.name).toMatchObject({ 'request-id': response.headers.get('request-id'), 'client-request-id': `denied-${index}` });
      const challenge = response.headers.get('www-authenticate') ?? '';
      if (defect.status === 401) expect(challenge, defect.name).toMatch(defect.invalidToken ? /^Bearer .*error="invalid_token"/ : /^Bearer realm="[^"]+"$/);
      else expect(challenge, defect.name).toContain('error="insufficient_scope"');
    }

    expect(stack.graph.graphRequests().length).toBe(postsBefore);
    expect(stack.identity.requestCount).toBe(identityBefore);
    const records = await everyRecord();
    expect(records.filter((record) => record.clientRequestId.startsWith('denied-'))).toEqual([]);
  });

  it('a role holder of one operation cannot run another', async () => {
    const token = await stack.token({ roles: ['ExternalGroup.Create'] });
    const connection = await stack.post('/v1.0/external/connections', { id: 'onlygroups', name: 'n' }, {}, { token });
    expect(connection.status).toBe(403);
    expect(connection.body.error.message).toContain('ExternalConnection.Create');
    const connectorGroup = await stack.post('/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups', { name: 'g' }, {}, { token });
    expect(connectorGroup.status).toBe(403);
    expect(stack.graph.graphRequests({ method: 'POST' })).toEqual([]);
  });
});

describe('allowed calls are audited with the caller', () => {
  it('app-only (Logic App managed identity): callerId is its service principal (oid), callerAppId the client app, callerTenantId the tenant', async () => {
    const token = await stack.token({ roles: ['ExternalConnection.Create'] });
    const response = await stack.post('/v1.0/external/connections', { id: 'byapp', name: 'n' }, { 'client-request-id': 'by-app' }, { token });
    expect(response.status).toBe(201);
    const record = await stack.audit.findByEntity('createExternalConnection', 'external/connections/byapp');
    expect(record).toMatchObject({
      status: 'succeeded',
      clientRequestId: 'by-app',
      callerId: devIdentities.callerObjectId,
      callerAppId: devIdentities.callerAppId,
      callerTenantId: devIdentities.tenantId,
    });
    expect(record?.callerName).toBeUndefined();
  });

  it('delegated (Power Automate connector): callerId is the user, callerName their sign-in name, callerAppId the connector', async () => {
    const token = await stack.token({ user: true, roles: ['ExternalGroup.Create'] });
    const response = await stack.post('/v1.0/external/connections/byapp/groups', { id: 'byuser' }, {}, { token });
    expect(response.status).toBe(201);
    const record = await stack.audit.findByEntity('createExternalGroup', 'external/connections/byapp/groups/byuser');
    expect(record).toMatchObject({
      status: 'succeeded',
      callerId: devIdentities.userObjectId,
      callerAppId: devIdentities.connectorAppId,
      callerName: devIdentities.userName,
      callerTenantId: devIdentities.tenantId,
    });
  });

  it('an Idempotency-Key belongs to the caller (oid), not to its client app: another principal of the same app is not replayed', async () => {
    const otherPrincipal = 'facade00-0000-4000-8000-0000000000aa';
    const first = await stack.token({ roles: ['ExternalConnection.Create'] });
    const second = await stack.token({ roles: ['ExternalConnection.Create'], claims: { oid: otherPrincipal, sub: otherPrincipal } });
    const body = { id: 'keyedbyoid', name: 'n' };
    const headers = { 'idempotency-key': 'same-key-for-both' };

    expect((await stack.post('/v1.0/external/connections', body, headers, { token: first })).status).toBe(201);
    const replay = await stack.post('/v1.0/external/connections', body, headers, { token: first });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    // Same client app (azp), same key and body, another principal: its own request, which Graph answers.
    const other = await stack.post('/v1.0/external/connections', body, headers, { token: second });
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    expect(other.status).toBe(409);
    const records = await stack.audit.listByOperation('createExternalConnection', new Date(0), new Date(Date.now() + 60_000));
    const callers = records.filter((record) => record.entityId === 'keyedbyoid').map((record) => [record.callerId, record.callerAppId]);
    // Newest first.
    expect(callers).toEqual([
      [otherPrincipal, devIdentities.callerAppId],
      [devIdentities.callerObjectId, devIdentities.callerAppId],
    ]);
  });

  it('the readiness probe needs no token', async () => {
    const response = await fetch(`${stack.host.apiUrl}/health`);
    expect(response.status).toBe(200);
  });
});

describe('an Azure instance without auth settings', () => {
  let host: HostProcess | undefined;
  afterAll(async () => {
    await host?.stop();
  });

  it('refuses every operation with 503 authNotConfigured, even to a good token, and starts no dev issuer', async () => {
    const { AUTH_TENANT_ID: _tenant, AUTH_AUDIENCE: _audience, AUTH_JWKS_URI: _keys, ...withoutAuth } = stack.env;
    host = await startHostProcess({ ...withoutAuth, WEBSITE_INSTANCE_ID: 'integration-instance' });
    expect(host.output()).not.toContain('local dev issuer');
    const postsBefore = stack.graph.graphRequests().length;
    const response = await fetch(`${host.apiUrl}/v1.0/external/connections`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await stack.token()}` },
      body: JSON.stringify({ id: 'unconfigured', name: 'n' }),
    });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('authNotConfigured');
    expect(stack.graph.graphRequests().length).toBe(postsBefore);
  });
});
