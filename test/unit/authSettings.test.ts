import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExternalGroup } from '../../functions/createExternalGroup';
import { startGraphEmulator, type GraphEmulator } from '../../dev/graphEmulator';
import { startIdentityEndpoint, type IdentityEndpoint } from '../../dev/identityEndpoint';
import { startLocalStack } from '../../dev/localStack';
import { devIdentities, startDevTokenIssuer, type DevTokenIssuer } from '../../dev/tokenIssuer';
import { HttpRequest } from '../../shared/azureFunctions';
import { loadSettings, type Environment } from '../../shared/config';
import { createOperationHandler } from '../../shared/pipeline/pipeline';
import { createRuntime } from '../../shared/runtime';
import { capturingInvocation, errorOf } from '../support/handlerCalls';

/** The AUTH_* settings, and failing closed whenever they are missing or wrong. */

const tenant = devIdentities.tenantId;
const auth = (env: Environment) => loadSettings(env).auth;

describe('AUTH_* settings', () => {
  it('jwt (the default): v1 and v2 issuers and the keys URL derive from the tenant; audiences are a list', () => {
    expect(auth({ AUTH_TENANT_ID: tenant.toUpperCase(), AUTH_AUDIENCE: ' api://facade , 1234 ' })).toEqual({
      mode: 'jwt',
      tenantId: tenant,
      audiences: ['api://facade', '1234'],
      issuers: [`https://sts.windows.net/${tenant}/`, `https://login.microsoftonline.com/${tenant}/v2.0`],
      jwksUri: `https://login.microsoftonline.com/${tenant}/discovery/v2.0/keys`,
      policy: { acceptedScopes: ['user_impersonation'], allowedClientApps: undefined },
    });
  });

  it('AUTH_ACCEPTED_SCOPES and AUTH_ALLOWED_CLIENT_APPS: lists separated by commas or spaces; a scope URI counts by its value', () => {
    const apps = ['D310D35D-72EC-47DD-92F2-FB9C40936555', 'de8bc8b5-d9f9-48b1-a8ad-b748da725064'];
    expect(
      auth({
        AUTH_TENANT_ID: tenant,
        AUTH_AUDIENCE: 'a',
        AUTH_ACCEPTED_SCOPES: ' api://facade/user_impersonation, Connectors.Write  Other ',
        AUTH_ALLOWED_CLIENT_APPS: `${apps[0]}, ${apps[1]}`,
      }),
    ).toMatchObject({ policy: { acceptedScopes: ['user_impersonation', 'Connectors.Write', 'Other'], allowedClientApps: apps.map((app) => app.toLowerCase()) } });
    expect(auth({ AUTH_MODE: 'appservice', WEBSITE_AUTH_ENABLED: 'True', AUTH_TENANT_ID: tenant, AUTH_ALLOWED_CLIENT_APPS: apps[1] })).toMatchObject({
      policy: { acceptedScopes: ['user_impersonation'], allowedClientApps: [apps[1]] },
    });
  });

  it('AUTH_ISSUER and AUTH_JWKS_URI override the defaults (sovereign clouds, tests)', () => {
    expect(
      auth({
        AUTH_TENANT_ID: tenant,
        AUTH_AUDIENCE: 'a',
        AUTH_ISSUER: `https://login.microsoftonline.us/${tenant}/v2.0,https://sts.windows.net/${tenant}/`,
        AUTH_JWKS_URI: 'http://127.0.0.1:4000/keys',
      }),
    ).toMatchObject({ issuers: [`https://login.microsoftonline.us/${tenant}/v2.0`, `https://sts.windows.net/${tenant}/`], jwksUri: 'http://127.0.0.1:4000/keys' });
  });

  it.each([
    ['nothing set', {}, 'AUTH_TENANT_ID is not set'],
    ['no audience', { AUTH_TENANT_ID: tenant }, 'AUTH_AUDIENCE is not set'],
    ['a tenant name instead of its id', { AUTH_TENANT_ID: 'contoso.onmicrosoft.com', AUTH_AUDIENCE: 'a' }, 'a GUID'],
    ['"common"', { AUTH_TENANT_ID: 'common', AUTH_AUDIENCE: 'a' }, 'a GUID'],
    ['keys over plain http off loopback', { AUTH_TENANT_ID: tenant, AUTH_AUDIENCE: 'a', AUTH_JWKS_URI: 'http://keys.example/keys' }, 'https'],
    ['AUTH_MODE=none', { AUTH_MODE: 'none', AUTH_TENANT_ID: tenant, AUTH_AUDIENCE: 'a' }, 'AUTH_MODE must be'],
    ['AUTH_MODE=off', { AUTH_MODE: 'off' }, 'AUTH_MODE must be'],
    ['AUTH_MODE=anonymous', { AUTH_MODE: 'anonymous' }, 'AUTH_MODE must be'],
    ['appservice without Easy Auth on', { AUTH_MODE: 'appservice', AUTH_TENANT_ID: tenant }, 'WEBSITE_AUTH_ENABLED'],
    ['appservice without a tenant', { AUTH_MODE: 'appservice', WEBSITE_AUTH_ENABLED: 'True' }, 'AUTH_TENANT_ID is not set'],
    ['accepted scopes that name no scope', { AUTH_TENANT_ID: tenant, AUTH_AUDIENCE: 'a', AUTH_ACCEPTED_SCOPES: ' , ' }, 'AUTH_ACCEPTED_SCOPES names no scope'],
    ['client apps by name instead of id', { AUTH_TENANT_ID: tenant, AUTH_AUDIENCE: 'a', AUTH_ALLOWED_CLIENT_APPS: 'logic-app' }, 'AUTH_ALLOWED_CLIENT_APPS must list'],
    ['client apps that name no app', { AUTH_TENANT_ID: tenant, AUTH_AUDIENCE: 'a', AUTH_ALLOWED_CLIENT_APPS: ',' }, 'AUTH_ALLOWED_CLIENT_APPS names no client app'],
  ])('%s → notConfigured, saying why', (_, env, why) => {
    const settings = auth(env);
    expect(settings.mode).toBe('notConfigured');
    expect(settings.mode === 'notConfigured' && settings.reason).toContain(why);
  });

  it('knows when it runs in Azure', () => {
    expect(auth({ WEBSITE_INSTANCE_ID: 'abc' })).toMatchObject({ mode: 'notConfigured', runningInAzure: true });
    expect(auth({})).toMatchObject({ mode: 'notConfigured', runningInAzure: false });
  });
});

describe('fail closed', () => {
  let graph: GraphEmulator;
  let identity: IdentityEndpoint;
  let tokens: DevTokenIssuer;
  beforeAll(async () => {
    identity = await startIdentityEndpoint();
    graph = await startGraphEmulator({ tokenSigningKey: identity.signingKey });
    tokens = await startDevTokenIssuer();
  });
  afterAll(async () => {
    await Promise.allSettled([graph?.close(), identity?.close(), tokens?.close()]);
  });

  const groupRequest = async () =>
    new HttpRequest({
      method: 'POST',
      url: 'http://localhost:7071/api/v1.0/external/connections/contosohr/groups',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokens.mint()}` },
      params: { version: 'v1.0', connectionId: 'contosohr' },
      body: { string: '{"id":"g1"}' },
    });

  const platform = () => ({
    GRAPH_BASE_URL: graph.baseUrl,
    IDENTITY_ENDPOINT: identity.endpoint,
    IDENTITY_HEADER: identity.identityHeader,
    AuditStorage: 'UseDevelopmentStorage=true',
  });

  it.each([
    ['in Azure without any AUTH_* setting', { WEBSITE_INSTANCE_ID: 'instance-1' }, true],
    ['in Azure with a tenant but no audience', { WEBSITE_INSTANCE_ID: 'instance-1', AUTH_TENANT_ID: tenant }, true],
    ['in Azure with AUTH_MODE=none', { WEBSITE_INSTANCE_ID: 'instance-1', AUTH_MODE: 'none' }, true],
    ['outside Azure without any AUTH_* setting', {}, false],
  ])('%s: every operation answers 503 authNotConfigured, even to a good token, and the log says why', async (_, env, inAzure) => {
    const runtime = createRuntime({ ...platform(), ...env });
    const handler = createOperationHandler(createExternalGroup, undefined, () => runtime);
    const { invocation, logs } = capturingInvocation('createExternalGroup');
    const response = await handler(await groupRequest(), invocation);

    expect(response.status).toBe(503);
    expect(errorOf(response)).toMatchObject({ code: 'authNotConfigured' });
    expect(errorOf(response).message).not.toContain('AUTH_');
    const logged = logs.find((entry) => entry.message === 'authentication is not configured, so every operation is refused');
    expect(logged?.level).toBe('error');
    expect(logged?.fields).toMatchObject({ runningInAzure: inAzure, reason: expect.stringMatching(/AUTH_/) });
    expect(graph.graphRequests()).toEqual([]);
    expect(identity.requestCount).toBe(0);
  });

  it('the local stack never starts a dev token issuer on an Azure instance', async () => {
    const stack = await startLocalStack({ ...platform(), WEBSITE_INSTANCE_ID: 'instance-1' }, { devKeyFile: '/nonexistent/never-written.json' });
    try {
      expect(stack.started).toEqual({});
      expect(stack.env.AUTH_JWKS_URI).toBeUndefined();
    } finally {
      await stack.stop();
    }
  });

  it.each([['AUTH_TENANT_ID', tenant], ['AUTH_ALLOWED_CLIENT_APPS', devIdentities.callerAppId]])(
    'the local stack leaves auth alone when any AUTH_* setting is given (%s)',
    async (name, value) => {
      const stack = await startLocalStack({ ...platform(), [name]: value }, { devKeyFile: '/nonexistent/never-written.json' });
      try {
        expect(stack.started.tokenIssuer).toBeUndefined();
        expect(stack.env.AUTH_AUDIENCE).toBeUndefined();
      } finally {
        await stack.stop();
      }
    },
  );

  it('without AUTH_* settings locally, the stack starts the dev issuer, keeps its key (0600) and configures the app for it', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'dev-issuer-'));
    const devKeyFile = join(folder, 'nested', 'key.json');
    try {
      const first = await startLocalStack(platform(), { devKeyFile });
      let token: string;
      try {
        expect(first.env).toMatchObject({ AUTH_TENANT_ID: tenant, AUTH_AUDIENCE: devIdentities.facadeClientId, AUTH_JWKS_URI: first.started.tokenIssuer?.jwksUri });
        expect(statSync(devKeyFile).mode & 0o777).toBe(0o600);
        token = await first.started.tokenIssuer!.mint();
      } finally {
        await first.stop();
      }
      // A restart reuses the key: the token minted before still passes.
      const second = await startLocalStack(platform(), { devKeyFile });
      try {
        const runtime = createRuntime({ ...second.env, AuditStorage: '' });
        const handler = createOperationHandler(createExternalGroup, undefined, () => runtime);
        const request = new HttpRequest({
          method: 'POST',
          url: 'http://localhost:7071/api/v1.0/external/connections/contosohr/groups',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          params: { version: 'v1.0', connectionId: 'contosohr' },
          body: { string: '{"id":"g1"}' },
        });
        const response = await handler(request, capturingInvocation().invocation);
        // Past authentication and authorization: refused for want of a Graph token (no identity here), not by auth.
        expect(errorOf(response).code).toBe('managedIdentityUnavailable');
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
