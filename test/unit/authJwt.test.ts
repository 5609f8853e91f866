import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeJwt, importJWK, SignJWT } from 'jose';
import { createExternalConnection } from '../../functions/createExternalConnection';
import { startGraphEmulator, type GraphEmulator } from '../../dev/graphEmulator';
import { startIdentityEndpoint, type IdentityEndpoint } from '../../dev/identityEndpoint';
import { devIdentities, generateDevSigningKey, startDevTokenIssuer, type DevTokenIssuer } from '../../dev/tokenIssuer';
import { JwtValidator } from '../../shared/auth/jwtValidator';
import { appRoles } from '../../shared/auth/roles';
import { createOperationHandler } from '../../shared/pipeline/pipeline';
import { createRuntime, type Runtime } from '../../shared/runtime';
import { authStages, capturingInvocation, connectionRequest, errorOf, headerOf } from '../support/handlerCalls';
import { allowedDevClientApps, otherClientAppId, tokenDefects, type TokenDefect } from '../support/tokenDefects';

/**
 * Microsoft Entra ID bearer tokens, checked against a local key set (the dev token issuer on
 * loopback): the defect matrix through the real pipeline, what a good token yields, and key
 * rollover without a restart.
 */

let tokens: DevTokenIssuer;
let graph: GraphEmulator;
let identity: IdentityEndpoint;
let defects: TokenDefect[];

beforeAll(async () => {
  tokens = await startDevTokenIssuer();
  identity = await startIdentityEndpoint();
  graph = await startGraphEmulator({ tokenSigningKey: identity.signingKey });
  defects = await tokenDefects(tokens, 'ExternalConnection.Create', 'ExternalGroup.Create');
});

afterAll(async () => {
  await Promise.allSettled([tokens?.close(), graph?.close(), identity?.close()]);
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('the token defect matrix, through every stage of the create pipeline', () => {
  // Graph is the emulator and no audit storage is configured: a request that got past the auth
  // stages would end in 503 auditStoreUnavailable, never in 401/403.
  let runtime: Runtime;
  beforeAll(() => {
    runtime = createRuntime({
      ...tokens.env,
      AUTH_ALLOWED_CLIENT_APPS: allowedDevClientApps,
      GRAPH_BASE_URL: graph.baseUrl,
      IDENTITY_ENDPOINT: identity.endpoint,
      IDENTITY_HEADER: identity.identityHeader,
    });
  });

  it('covers at least the twelve defects, and each wrong kind of delegated token', () => {
    expect(defects.length).toBeGreaterThanOrEqual(24);
  });

  it('answers each defect 401/403, Graph-shaped, without saying why, and calls nothing further', async () => {
    const handler = createOperationHandler(createExternalConnection, undefined, () => runtime);
    for (const defect of defects) {
      const { invocation, logs } = capturingInvocation();
      const headers: Record<string, string> = { 'client-request-id': `defect-${defects.indexOf(defect)}` };
      if (defect.authorization !== undefined) headers.authorization = defect.authorization;
      const response = await handler(connectionRequest(headers), invocation);

      expect(response.status, defect.name).toBe(defect.status);
      const error = errorOf(response);
      expect(error.code, defect.name).toBe(defect.status === 401 ? 'InvalidAuthenticationToken' : 'Authorization_RequestDenied');
      expect(error.innerError['client-request-id'], defect.name).toBe(headers['client-request-id']);
      expect(error.innerError['request-id'], defect.name).toBe(headerOf(response, 'request-id'));
      expect(error.message, defect.name).not.toMatch(/signature|expired|kid|audience|issuer|tenant|alg|nbf|exp\b/i);
      const challenge = headerOf(response, 'www-authenticate') ?? '';
      if (defect.status === 401) {
        expect(challenge, defect.name).toMatch(/^Bearer realm="[^"]+"/);
        if (defect.invalidToken) expect(challenge, defect.name).toContain('error="invalid_token"');
        else expect(challenge, defect.name).not.toContain('error=');
      } else {
        const says = { role: "'ExternalConnection.Create'", scope: 'user_impersonation', clientApp: 'client application' }[defect.denied!];
        expect(error.message, defect.name).toContain(says);
        expect(challenge, defect.name).toContain('error="insufficient_scope"');
      }
      const denied = logs.find((entry) => entry.level === 'warning');
      expect(denied?.message, defect.name).toMatch(/^request denied/);
      expect(denied?.fields, defect.name).toMatchObject({ operation: 'createExternalConnection', status: defect.status, clientRequestId: headers['client-request-id'] });
    }
    expect(graph.graphRequests()).toEqual([]);
    expect(identity.requestCount).toBe(0);
  });

  it('logs a denied caller with the audit record’s caller fields', async () => {
    const handler = createOperationHandler(createExternalConnection, undefined, () => runtime);
    const { invocation, logs } = capturingInvocation();
    await handler(connectionRequest(bearer(await tokens.mint({ user: true, roles: ['ExternalGroup.Create'] }))), invocation);
    expect(logs.find((entry) => entry.level === 'warning')?.fields).toMatchObject({
      status: 403,
      requiredRole: 'ExternalConnection.Create',
      callerRoles: 'ExternalGroup.Create',
      callerId: devIdentities.userObjectId,
      callerAppId: devIdentities.connectorAppId,
      callerName: devIdentities.userName,
      callerTenantId: devIdentities.tenantId,
    });
  });

  it('lets a good token through to the stages after authorization', async () => {
    const handler = createOperationHandler(createExternalConnection, undefined, () => runtime);
    const response = await handler(connectionRequest(bearer(await tokens.mint({ roles: ['ExternalConnection.Create'] }))), capturingInvocation().invocation);
    // Past authentication, authorization and validation: the next stage wants a Graph token, and this runtime has no identity.
    expect(errorOf(response).code).toBe('managedIdentityUnavailable');
  });
});

describe('a good token', () => {
  let runtime: Runtime;
  beforeAll(() => {
    runtime = createRuntime({ ...tokens.env, AUTH_AUDIENCE: `api://graph-connectors-facade,${tokens.audience}` });
  });
  const callerFor = async (token: string) => {
    const handler = createOperationHandler(createExternalConnection, authStages, () => runtime);
    const response = await handler(connectionRequest(bearer(token)), capturingInvocation().invocation);
    expect(response.status, JSON.stringify(response.jsonBody)).toBe(200);
    return (response.jsonBody as { caller: Record<string, unknown> }).caller;
  };

  it('app-only (v2, Logic App managed identity): the caller is its service principal (oid), the client app beside it', async () => {
    expect(await callerFor(await tokens.mint())).toEqual({
      kind: 'app',
      id: devIdentities.callerObjectId,
      appId: devIdentities.callerAppId,
      tenantId: devIdentities.tenantId,
      roles: [...appRoles],
      scopes: [],
    });
  });

  it('app-only v1 without the idtyp claim: appid, no scp, and sub = oid (its own service principal)', async () => {
    const token = await tokens.mint({
      claims: { idtyp: undefined, azp: undefined, appid: devIdentities.callerAppId, ver: '1.0', iss: `https://sts.windows.net/${devIdentities.tenantId}/` },
    });
    expect(await callerFor(token)).toMatchObject({ kind: 'app', id: devIdentities.callerObjectId, appId: devIdentities.callerAppId });
  });

  it('delegated (v2, Power Automate connector): the caller is the user, named by preferred_username', async () => {
    expect(await callerFor(await tokens.mint({ user: true, roles: ['ExternalConnection.Create'] }))).toEqual({
      kind: 'user',
      id: devIdentities.userObjectId,
      appId: devIdentities.connectorAppId,
      name: devIdentities.userName,
      tenantId: devIdentities.tenantId,
      roles: ['ExternalConnection.Create'],
      scopes: ['user_impersonation'],
    });
  });

  it('delegated with idtyp user and several scopes, one of them accepted', async () => {
    const token = await tokens.mint({ user: true, claims: { idtyp: 'user', scp: 'User.Read user_impersonation' } });
    expect(await callerFor(token)).toMatchObject({ kind: 'user', id: devIdentities.userObjectId, scopes: ['User.Read', 'user_impersonation'] });
  });

  it('without AUTH_ALLOWED_CLIENT_APPS any client app of the tenant may call', async () => {
    expect(await callerFor(await tokens.mint({ claims: { azp: otherClientAppId } }))).toMatchObject({ kind: 'app', appId: otherClientAppId });
    expect(await callerFor(await tokens.mint({ user: true, claims: { azp: otherClientAppId } }))).toMatchObject({ kind: 'user', appId: otherClientAppId });
  });

  it('v1 (sts.windows.net issuer, appid, app id URI audience, upn)', async () => {
    const token = await tokens.mint({
      user: true,
      claims: {
        iss: `https://sts.windows.net/${devIdentities.tenantId}/`,
        ver: '1.0',
        aud: 'api://graph-connectors-facade',
        azp: undefined,
        appid: devIdentities.connectorAppId,
        upn: 'jane@contoso.example',
        preferred_username: undefined,
      },
    });
    expect(await callerFor(token)).toMatchObject({ id: devIdentities.userObjectId, appId: devIdentities.connectorAppId, name: 'jane@contoso.example' });
  });

  it('AUTH_ACCEPTED_SCOPES (comma or space separated) replaces the default scope, and AUTH_ALLOWED_CLIENT_APPS admits only its apps', async () => {
    const custom = createRuntime({
      ...tokens.env,
      AUTH_ACCEPTED_SCOPES: 'Connectors.Write, api://graph-connectors-facade/Connectors.Admin',
      AUTH_ALLOWED_CLIENT_APPS: `${devIdentities.connectorAppId.toUpperCase()} ${devIdentities.callerAppId}`,
    });
    const statusOf = async (token: string) => {
      const handler = createOperationHandler(createExternalConnection, authStages, () => custom);
      return (await handler(connectionRequest(bearer(token)), capturingInvocation().invocation)).status;
    };
    expect(await statusOf(await tokens.mint({ user: true, claims: { scp: 'Connectors.Write' } }))).toBe(200);
    // A full scope URI in the setting names the scope by its value, as `scp` carries it.
    expect(await statusOf(await tokens.mint({ user: true, claims: { scp: 'Connectors.Admin' } }))).toBe(200);
    expect(await statusOf(await tokens.mint({ user: true }))).toBe(403);
    expect(await statusOf(await tokens.mint())).toBe(200);
    expect(await statusOf(await tokens.mint({ claims: { azp: otherClientAppId } }))).toBe(403);
  });

  it('within the 5 minute skew: expired 4 minutes ago, valid from 4 minutes on', async () => {
    const now = Math.floor(Date.now() / 1000);
    await callerFor(await tokens.mint({ claims: { iat: now - 4000, nbf: now - 4000, exp: now - 240 } }));
    await callerFor(await tokens.mint({ claims: { nbf: now + 240 } }));
  });

  it('the tenant id compares case-insensitively', async () => {
    await callerFor(await tokens.mint({ claims: { tid: devIdentities.tenantId.toUpperCase() } }));
  });

  it('RS256 only: a token signed with the very key under RS384 or PS256 is refused', async () => {
    const key = await generateDevSigningKey();
    const issuer = await startDevTokenIssuer({ key });
    try {
      const validator = new JwtValidator({ tenantId: issuer.tenantId, audiences: [issuer.audience], issuers: [issuer.issuer], jwksUri: issuer.jwksUri });
      const good = await issuer.mint();
      await expect(validator.verify(good)).resolves.toMatchObject({ tid: issuer.tenantId });
      for (const alg of ['RS384', 'PS256']) {
        const other = await new SignJWT(decodeJwt(good)).setProtectedHeader({ alg, typ: 'JWT', kid: key.kid }).sign(await importJWK(key.privateJwk, alg));
        await expect(validator.verify(other), alg).rejects.toMatchObject({ name: 'AuthenticationFailed', reason: expect.stringContaining('ERR_JOSE_ALG_NOT_ALLOWED') });
      }
    } finally {
      await issuer.close();
    }
  });
});

describe('signing key rollover', () => {
  it('accepts a token signed with a new key once the key set is fetched again, without a restart', async () => {
    const issuer = await startDevTokenIssuer();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      // The production runtime with its default cooldown (30 s) between unknown-kid refetches.
      const runtime = createRuntime({ ...issuer.env });
      const handler = createOperationHandler(createExternalConnection, authStages, () => runtime);
      const send = async (token: string) => (await handler(connectionRequest(bearer(token)), capturingInvocation().invocation)).status;

      const oldToken = await issuer.mint();
      expect(await send(oldToken)).toBe(200);
      expect(issuer.jwksRequests).toBe(1);

      await issuer.rotateKey();
      const newToken = await issuer.mint();
      expect(decodeJwt(newToken).tid).toBe(issuer.tenantId);

      // Within the cooldown an unknown kid causes no fetch: flooding it costs the tenant nothing.
      for (let attempt = 0; attempt < 5; attempt += 1) expect(await send(newToken)).toBe(401);
      expect(issuer.jwksRequests).toBe(1);

      // Past the cooldown, the unknown kid fetches the key set once and the new key is accepted.
      vi.setSystemTime(Date.now() + 31_000);
      expect(await send(newToken)).toBe(200);
      expect(issuer.jwksRequests).toBe(2);
      expect(await send(await issuer.mint())).toBe(200);
      expect(await send(oldToken)).toBe(200);
      expect(issuer.jwksRequests).toBe(2);
    } finally {
      vi.useRealTimers();
      await issuer.close();
    }
  });

  it('answers 503 authenticationUnavailable (not 401) when the key set cannot be fetched', async () => {
    const issuer = await startDevTokenIssuer();
    const token = await issuer.mint();
    await issuer.close();
    const runtime = createRuntime({ ...issuer.env });
    const handler = createOperationHandler(createExternalConnection, authStages, () => runtime);
    const response = await handler(connectionRequest(bearer(token)), capturingInvocation().invocation);
    expect(response.status).toBe(503);
    expect(errorOf(response).code).toBe('authenticationUnavailable');
    expect(headerOf(response, 'retry-after')).toBe('10');
  });
});
