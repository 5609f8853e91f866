import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExternalConnection } from '../../functions/createExternalConnection';
import { devIdentities, startDevTokenIssuer, type DevTokenIssuer } from '../../dev/tokenIssuer';
import { principalClaims } from '../../shared/auth/easyAuth';
import { createOperationHandler } from '../../shared/pipeline/pipeline';
import { createRuntime, type Runtime } from '../../shared/runtime';
import { authStages, capturingInvocation, connectionRequest, errorOf } from '../support/handlerCalls';
import { allowedDevClientApps, otherClientAppId } from '../support/tokenDefects';

/**
 * `AUTH_MODE=appservice`: App Service Authentication has checked the token and forwards the
 * caller as X-MS-CLIENT-PRINCIPAL. That header is read in this mode only, and this mode works only
 * when the platform says Easy Auth is on.
 */

let tokens: DevTokenIssuer;
beforeAll(async () => {
  tokens = await startDevTokenIssuer();
});
afterAll(async () => {
  await tokens?.close();
});

const tenantId = devIdentities.tenantId;
const easyAuthEnv = { AUTH_MODE: 'appservice', AUTH_TENANT_ID: tenantId, WEBSITE_AUTH_ENABLED: 'True', WEBSITE_INSTANCE_ID: 'instance-1' };

function principal(claims: [string, string][], extra: Record<string, unknown> = {}): string {
  const body = {
    auth_typ: 'aad',
    name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
    role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
    claims: claims.map(([typ, val]) => ({ typ, val })),
    ...extra,
  };
  return Buffer.from(JSON.stringify(body)).toString('base64');
}

const claimType = {
  oid: 'http://schemas.microsoft.com/identity/claims/objectidentifier',
  tid: 'http://schemas.microsoft.com/identity/claims/tenantid',
  scp: 'http://schemas.microsoft.com/identity/claims/scope',
  sub: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier',
  upn: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn',
  role: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
};

/** A user's principal as Easy Auth forwards it: the token's claims, some under their long names. */
const userPrincipal = (roles: string[], tid: string = tenantId, overrides: { scope?: string | null; azp?: string } = {}) =>
  principal([
    [claimType.oid, devIdentities.userObjectId],
    [claimType.sub, 'dev-user-pairwise-subject'],
    [claimType.tid, tid],
    ...(overrides.scope === null ? [] : [[claimType.scp, overrides.scope ?? 'user_impersonation'] as [string, string]]),
    ['azp', overrides.azp ?? devIdentities.connectorAppId],
    ['aud', devIdentities.facadeClientId],
    [claimType.upn, 'jane@contoso.example'],
    ['name', 'Jane'],
    ...roles.map((role): [string, string] => ['roles', role]),
  ]);

/** An app-only principal (a Logic App's managed identity, v1 token): appid, and sub = oid, its service principal. */
const appPrincipal = (roles: string[], appId: string = devIdentities.callerAppId) =>
  principal([
    [claimType.oid, devIdentities.callerObjectId],
    [claimType.sub, devIdentities.callerObjectId],
    [claimType.tid, tenantId],
    ['appid', appId],
    ...roles.map((role): [string, string] => [claimType.role, role]),
  ]);

async function send(runtime: Runtime, headers: Record<string, string>) {
  const handler = createOperationHandler(createExternalConnection, authStages, () => runtime);
  const { invocation, logs } = capturingInvocation();
  const response = await handler(connectionRequest(headers), invocation);
  return { response, logs, caller: (response.jsonBody as { caller?: unknown }).caller };
}

describe('Easy Auth mode', () => {
  const runtime = createRuntime(easyAuthEnv);

  it('takes the caller and roles from X-MS-CLIENT-PRINCIPAL', async () => {
    const { response, caller } = await send(runtime, { 'x-ms-client-principal': userPrincipal(['ExternalConnection.Create', 'ExternalGroup.Create']) });
    expect(response.status).toBe(200);
    expect(caller).toEqual({
      kind: 'user',
      id: devIdentities.userObjectId,
      appId: devIdentities.connectorAppId,
      name: 'jane@contoso.example',
      tenantId,
      roles: ['ExternalConnection.Create', 'ExternalGroup.Create'],
      scopes: ['user_impersonation'],
    });
  });

  it('an app-only principal (role claims under role_typ) is its service principal, beside its client app', async () => {
    const { response, caller } = await send(runtime, { 'x-ms-client-principal': appPrincipal(['ExternalConnection.Create']) });
    expect(response.status).toBe(200);
    expect(caller).toMatchObject({ kind: 'app', id: devIdentities.callerObjectId, appId: devIdentities.callerAppId, roles: ['ExternalConnection.Create'] });
  });

  it('applies the scope and client app rules of JWT mode to the principal', async () => {
    const strict = createRuntime({ ...easyAuthEnv, AUTH_ALLOWED_CLIENT_APPS: allowedDevClientApps });
    const cases: [string, string, number, string][] = [
      ['a user principal without a scope (an ID token)', userPrincipal(['ExternalConnection.Create'], tenantId, { scope: null }), 401, 'InvalidAuthenticationToken'],
      ['a user principal with another scope', userPrincipal(['ExternalConnection.Create'], tenantId, { scope: 'User.Read' }), 403, 'Authorization_RequestDenied'],
      ['a user principal through another client app', userPrincipal(['ExternalConnection.Create'], tenantId, { azp: otherClientAppId }), 403, 'Authorization_RequestDenied'],
      ['an app-only principal of another client app', appPrincipal(['ExternalConnection.Create'], otherClientAppId), 403, 'Authorization_RequestDenied'],
    ];
    for (const [name, header, status, code] of cases) {
      const { response } = await send(strict, { 'x-ms-client-principal': header });
      expect(response.status, name).toBe(status);
      expect(errorOf(response).code, name).toBe(code);
    }
    expect((await send(strict, { 'x-ms-client-principal': appPrincipal(['ExternalConnection.Create']) })).response.status).toBe(200);
    expect((await send(strict, { 'x-ms-client-principal': userPrincipal(['ExternalConnection.Create']) })).response.status).toBe(200);
  });

  it('403 without the operation’s role', async () => {
    const { response } = await send(runtime, { 'x-ms-client-principal': userPrincipal(['ExternalGroup.Create']) });
    expect(response.status).toBe(403);
    expect(errorOf(response).code).toBe('Authorization_RequestDenied');
  });

  it('401 for a principal of another tenant, a malformed one, or none (a bearer token is not read)', async () => {
    const cases: Record<string, string>[] = [
      { 'x-ms-client-principal': userPrincipal(['ExternalConnection.Create'], 'abcd0000-0000-4000-8000-000000000000') },
      { 'x-ms-client-principal': 'not base64 json' },
      { 'x-ms-client-principal': principal([['roles', 'ExternalConnection.Create']], { auth_typ: 'github' }) },
      { authorization: `Bearer ${await tokens.mint()}` },
    ];
    for (const headers of cases) {
      const { response } = await send(runtime, headers);
      expect(response.status, JSON.stringify(headers)).toBe(401);
      expect(errorOf(response).code).toBe('InvalidAuthenticationToken');
    }
  });

  it('checks the audience when AUTH_AUDIENCE is set', async () => {
    const strict = createRuntime({ ...easyAuthEnv, AUTH_AUDIENCE: 'api://someone-else' });
    expect((await send(strict, { 'x-ms-client-principal': userPrincipal(['ExternalConnection.Create']) })).response.status).toBe(401);
  });

  it('refuses every call (503 authNotConfigured) when the platform does not say Easy Auth is on', async () => {
    const { WEBSITE_AUTH_ENABLED: _, ...withoutEasyAuth } = easyAuthEnv;
    for (const env of [withoutEasyAuth, { ...withoutEasyAuth, WEBSITE_AUTH_ENABLED: 'False' }]) {
      const { response, logs } = await send(createRuntime(env), { 'x-ms-client-principal': userPrincipal(['ExternalConnection.Create']) });
      expect(response.status).toBe(503);
      expect(errorOf(response).code).toBe('authNotConfigured');
      expect(JSON.stringify(logs)).toContain('WEBSITE_AUTH_ENABLED');
    }
  });
});

describe('JWT mode never trusts X-MS-CLIENT-PRINCIPAL', () => {
  it('401 for a principal header alone; with a token, the caller is the token’s', async () => {
    const runtime = createRuntime({ ...tokens.env });
    const header = { 'x-ms-client-principal': userPrincipal(['ExternalConnection.Create']) };
    expect((await send(runtime, header)).response.status).toBe(401);

    const { response, caller } = await send(runtime, { ...header, authorization: `Bearer ${await tokens.mint({ roles: ['ExternalConnection.Create'] })}` });
    expect(response.status).toBe(200);
    expect(caller).toMatchObject({ id: devIdentities.callerObjectId, appId: devIdentities.callerAppId, roles: ['ExternalConnection.Create'] });

    const noRole = await send(runtime, { ...header, authorization: `Bearer ${await tokens.mint({ roles: [] })}` });
    expect(noRole.response.status).toBe(403);
  });
});

describe('principalClaims', () => {
  it('keeps the first value of a repeated claim and every role', () => {
    const claims = principalClaims(principal([['name', 'A'], ['name', 'B'], ['roles', 'r1'], ['roles', 'r2'], ['groups', 'g1']]));
    expect(claims).toMatchObject({ name: 'A', roles: ['r1', 'r2'] });
  });
});
