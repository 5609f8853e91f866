import { describe, expect, it } from 'vitest';
import { functionDefinitions } from '../../functions/index';
import { HttpRequest, InvocationContext } from '../../shared/azureFunctions';
import { matchRoute, parseRouteTemplate, pathSegments } from '../../shared/http/routes';
import type { HttpFunctionDefinition } from '../../shared/operations/registry';
import { acceptedMethods, routeRequest, routeTable } from '../../shared/operations/routeTable';
import { wrongTurns } from '../support/wrongTurns';

/**
 * The catch-all function as the Functions host reaches it. The host resolves `.`/`..` segments
 * (Kestrel, as the URL standard does), then tries the routes in the order it lists the functions,
 * by name, not by specificity (azure-functions-host#9876): the first whose route matches and
 * whose methods include the request's gets it. Its handler is then called with the route values.
 */

const host = 'https://func-api-contoso.azurewebsites.net';
const httpFunctions = functionDefinitions.filter((definition): definition is HttpFunctionDefinition => definition.kind === 'http');

function asFunctionsHostRoutes(method: string, path: string) {
  const url = new URL(path, host);
  const segments = pathSegments(url.pathname.replace(/^\/api\//, ''));
  const byName = [...httpFunctions].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const definition of byName) {
    if (!acceptedMethods(definition).includes(method)) continue;
    const params = matchRoute(parseRouteTemplate(definition.options.route), segments);
    if (params) return { definition, params, url };
  }
  throw new Error(`no function takes ${method} ${path}`);
}

async function callAsFunctionsHost(method: string, path: string, headers: Record<string, string> = {}) {
  const { definition, params, url } = asFunctionsHostRoutes(method, path);
  const lines: { level: string; text: string }[] = [];
  const context = new InvocationContext({
    functionName: definition.name,
    logHandler: (level, ...args) => lines.push({ level, text: args.map(String).join(' ') }),
  });
  const request = new HttpRequest({ method, url: url.toString(), headers, params });
  const response = await definition.options.handler(request, context);
  return { definition, params, response: response as { status: number; headers: Record<string, string>; jsonBody: any }, lines };
}

describe('wrong routes and methods, through the catch-all as the Functions host routes them', () => {
  it.each(wrongTurns.map((turn) => [turn.name, turn] as const))('%s', async (_, turn) => {
    const { definition, params, response, lines } = await callAsFunctionsHost(turn.method, turn.path, { 'client-request-id': 'wrong-turn-1' });
    expect(definition.name).toBe('unknownRoute');
    expect(definition.options.route).toBe('{*path}');
    expect(params.path).toBe(turn.namedPath.replace(/^\/api\//, ''));

    expect(response.status).toBe(turn.status);
    expect(response.headers).toMatchObject({ 'client-request-id': 'wrong-turn-1', 'request-id': expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(response.headers.allow).toBe(turn.allow);
    const error = response.jsonBody.error;
    expect(error.code).toBe(turn.code);
    expect(error.message).toContain(turn.namedPath);
    if (turn.nearest) expect(error.message).toContain(`The nearest supported route is ${turn.nearest}.`);
    expect(error.innerError).toMatchObject({ 'request-id': response.headers['request-id'], 'client-request-id': 'wrong-turn-1' });

    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('warning');
    const line = JSON.parse(lines[0]!.text);
    expect(Object.keys(line)).toEqual(expect.arrayContaining(['event', 'invocationId', 'operation', 'requestId', 'clientRequestId', 'retries', 'outcome', 'status', 'code', 'durationMs']));
    expect(line).toMatchObject({
      event: 'facade.request',
      operation: 'unknownRoute',
      requestId: response.headers['request-id'],
      clientRequestId: 'wrong-turn-1',
      outcome: 'rejected',
      status: turn.status,
      code: turn.code,
      method: turn.method,
      path: turn.namedPath,
    });
  });

  it('names the nearest route in details[] too, with its template', async () => {
    const { response } = await callAsFunctionsHost('POST', '/api/beta/external/connections/contosohr/group');
    expect(response.jsonBody.error.details).toEqual([
      { code: 'nearestRoute', target: '/api/beta/external/connections/contosohr/groups', message: 'POST /api/{version}/external/connections/{connectionId}/groups' },
    ]);
  });

  it('routes HEAD to a GET function, as the host adds HEAD wherever GET is', () => {
    expect(asFunctionsHostRoutes('HEAD', '/api/health').definition.name).toBe('health');
  });

  it('gives every right route to its own function, in the host order and in the local host order alike', () => {
    const table = routeTable(functionDefinitions);
    const right: [string, string, string][] = [
      ['POST', '/api/v1.0/external/connections', 'createExternalConnection'],
      ['POST', '/api/beta/connections', 'createExternalConnection_2'],
      ['POST', '/api/V1.0/EXTERNAL/connections/contosohr/groups', 'createExternalGroup'],
      ['POST', '/api/v1.0/external/connections/c%20x/groups/g1/members', 'createExternalGroupMember'],
      ['POST', '/api/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups', 'createConnectorGroup'],
      ['GET', '/api/health', 'health'],
      ['GET', '/api/swagger.json', 'swaggerJson'],
      ['GET', '/api/audit', 'listAuditRecords'],
      ['GET', '/api/audit/createExternalGroup/31bea3d537902000', 'getEntityAuditRecords'],
      // An audit path that is also a create path with version `audit`: GET reads, POST is refused by the create's own rules.
      ['GET', '/api/audit/external/connections', 'getEntityAuditRecords'],
      ['POST', '/api/audit/external/connections', 'createExternalConnection'],
    ];
    for (const [method, path, name] of right) {
      expect(asFunctionsHostRoutes(method, path).definition.name, path).toBe(name);
      const segments = pathSegments(new URL(path, host).pathname.replace(/^\/api\//, ''));
      expect(routeRequest(table, method, segments)?.target.definition.name, path).toBe(name);
    }
  });
});
