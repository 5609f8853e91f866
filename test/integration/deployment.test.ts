import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRouteTemplate, routesOverlap } from '../../shared/http/routes';
import { azdPackageFiles, runUnderWorker, stageApp, type StagedApp, type WorkerRun } from '../support/functionsHost';

/**
 * What `azd up` deploys, and that the Functions worker can run it: the staged dist/ (built by the
 * global setup, as azd runs `npm run build`) is packed with azd's rules, copied to an empty
 * folder with only the stand-in `@azure/functions-core` beside it, loaded as the worker loads an
 * app, and invoked through the library's own request and response conversion.
 */

const dist = join(process.cwd(), 'dist');
let packed: string[];
let app: StagedApp;
let run: WorkerRun;

const http = (method: string, path: string, extra: { params?: Record<string, string>; headers?: Record<string, string>; body?: string } = {}) => ({
  method,
  url: `https://func-api-contoso.azurewebsites.net/api/${path}`,
  headers: { 'client-request-id': `worker-${method}-${path}`.slice(0, 128), ...extra.headers },
  params: extra.params ?? {},
  query: {},
  ...(extra.body ? { body: { string: extra.body } } : {}),
});

beforeAll(async () => {
  packed = azdPackageFiles(dist);
  app = stageApp(dist, packed);
  run = await runUnderWorker(app.folder, [
    { function: 'health', http: http('GET', 'health') },
    { function: 'unknownRoute', http: http('POST', 'v1.0/external/connectionz', { params: { path: 'v1.0/external/connectionz' } }) },
    { function: 'unknownRoute', http: http('GET', 'v1.0/external/connections', { params: { path: 'v1.0/external/connections' } }) },
    {
      function: 'createExternalGroup',
      http: http('POST', 'v1.0/external/connections/contosohr/groups', {
        params: { version: 'v1.0', connectionId: 'contosohr' },
        headers: { 'content-type': 'application/json' },
        body: '{"id":"g1"}',
      }),
    },
  ]);
}, 60_000);

afterAll(() => app?.remove());

describe('the deployment package (azure.yaml dist: dist, as azd packs it)', () => {
  it('holds the bundle and its chunks, host.json and package.json, nothing else (no source maps)', () => {
    const chunks = readdirSync(join(dist, 'chunks')).filter((name) => name.endsWith('.mjs')).map((name) => `chunks/${name}`);
    expect(chunks.length).toBeGreaterThan(0);
    expect(packed).toEqual([...chunks, 'host.json', 'index.mjs', 'package.json'].sort());
  });

  it('has a package.json whose main is the bundle, an ES module with nothing to install', () => {
    const manifest = JSON.parse(readFileSync(join(dist, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ main: 'index.mjs', type: 'module' });
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.scripts).toBeUndefined();
  });

  it('azure.yaml deploys dist/ as it is, and the root .funcignore does not turn remote build on', () => {
    const yaml = readFileSync('azure.yaml', 'utf8');
    expect(yaml).toMatch(/^ {4}dist: dist$/m);
    expect(yaml).toMatch(/^ {4}remoteBuild: false$/m);
    // azd refuses `remoteBuild: false` when the project's .funcignore excludes node_modules.
    const root = readFileSync('.funcignore', 'utf8');
    expect(root.split('\n').filter((line) => /node_modules/.test(line) && !line.trim().startsWith('#'))).toEqual([]);
  });
});

describe('the package under the Functions worker (stand-in @azure/functions-core)', () => {
  it('sets the library as the programming model and registers every function once, the catch-all last', () => {
    expect(run.programmingModel?.name).toBe('@azure/functions');
    const names = run.registrations.map((registration) => registration.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining([
      'createExternalConnection', 'createExternalConnection_2', 'createExternalGroup', 'createExternalGroup_2',
      'createExternalGroupMember', 'createExternalGroupMember_2', 'createConnectorGroup',
      'health', 'swaggerJson', 'openApiJson', 'reconcile', 'unknownRoute',
    ]));
    expect(names.at(-1)).toBe('unknownRoute');
    // The host tries routes in the order it lists functions (by name), not by specificity: the
    // catch-all must sort after every other function, whatever the comparison.
    for (const name of names.slice(0, -1)) {
      expect(name < 'unknownRoute' && name.toLowerCase() < 'unknownroute', name).toBe(true);
    }
    expect(run.stderr).not.toMatch(/test mode/);
  });

  it('registers each HTTP function with its route, methods and anonymous authLevel', () => {
    const triggers = run.registrations.map((registration) => ({
      name: registration.name,
      trigger: Object.values(registration.bindings).find((binding) => binding.direction === 'in')!,
    }));
    const byName = Object.fromEntries(triggers.map(({ name, trigger }) => [name, trigger]));
    expect(byName.createExternalGroup).toMatchObject({ type: 'httpTrigger', route: '{version}/external/connections/{connectionId}/groups', methods: ['POST'], authLevel: 'anonymous' });
    expect(byName.createConnectorGroup).toMatchObject({ route: 'beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups', methods: ['POST'] });
    expect(byName.health).toMatchObject({ route: 'health', methods: ['GET'], authLevel: 'anonymous' });
    expect(byName.unknownRoute).toMatchObject({ route: '{*path}', authLevel: 'anonymous' });
    expect(byName.unknownRoute!.methods).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']));
    expect(byName.reconcile).toMatchObject({ type: 'timerTrigger', schedule: '0 */5 * * * *' });
    for (const { name, trigger } of triggers) {
      if (trigger.type === 'httpTrigger') expect(trigger.authLevel, name).toBe('anonymous');
    }
  });

  it('has no two routes the host could confuse: only the catch-all overlaps the others', () => {
    const routes = run.registrations.flatMap((registration) => {
      const trigger = Object.values(registration.bindings).find((binding) => binding.type === 'httpTrigger');
      return trigger ? [{ name: registration.name, route: parseRouteTemplate(String(trigger.route)), methods: trigger.methods as string[] }] : [];
    });
    const confusable: string[] = [];
    for (const [index, a] of routes.entries()) {
      for (const b of routes.slice(index + 1)) {
        if (a.name === 'unknownRoute' || b.name === 'unknownRoute') continue;
        if (routesOverlap(a.route, b.route) && a.methods.some((method) => b.methods.includes(method))) confusable.push(`${a.name} ~ ${b.name}`);
      }
    }
    expect(confusable).toEqual([]);
  });

  it('carries a request through the library to the handler and back: health', () => {
    const [health] = run.results;
    expect(health).toMatchObject({ function: 'health', status: 200 });
    expect(health!.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(health!.body)).toEqual({ status: 'healthy' });
  });

  it('the catch-all answers a typo with a Graph-shaped 404 and one request log line', () => {
    const typo = run.results[1]!;
    expect(typo.status).toBe(404);
    expect(typo.headers['request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(typo.headers['client-request-id']).toBe('worker-POST-v1.0/external/connectionz');
    const body = JSON.parse(typo.body) as { error: { code: string; message: string; innerError: Record<string, string> } };
    expect(body.error.code).toBe('UnknownRoute');
    expect(body.error.message).toContain('/api/v1.0/external/connectionz');
    expect(body.error.message).toContain('POST /api/v1.0/external/connections.');
    expect(body.error.innerError['request-id']).toBe(typo.headers['request-id']);
    const lines = typo.logs.filter((line) => line.category === 'user');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!.message)).toMatchObject({ event: 'facade.request', operation: 'unknownRoute', status: 404, code: 'UnknownRoute', outcome: 'rejected' });
  });

  it('the catch-all answers another method on a known route with 405 and Allow', () => {
    const wrongMethod = run.results[2]!;
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');
    expect(JSON.parse(wrongMethod.body)).toMatchObject({ error: { code: 'MethodNotAllowed' } });
  });

  it('loads what the bundle imports on first use from the package alone: the OpenAPI generator and reconciliation', () => {
    const script = [
      `const app = await import(${JSON.stringify(pathToFileURL(join(app.folder, 'index.mjs')).href)});`,
      "const swagger = await app.swaggerJson({ url: 'https://func-api-contoso.azurewebsites.net/api/swagger.json', headers: new Headers() });",
      'const logs = [];',
      "const summary = await app.reconcileAuditRecords(undefined, { info: (line) => logs.push(line), warn: (line) => logs.push(line) }).catch((error) => ({ error: error.message }));",
      'process.stdout.write(JSON.stringify({ status: swagger.status, swagger: swagger.jsonBody.swagger, reconciled: summary }));',
    ].join('\n');
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app.folder, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    const result = JSON.parse(output) as { status: number; swagger: string; reconciled: { errors?: string[] } };
    expect(result).toMatchObject({ status: 200, swagger: '2.0' });
    // Reconciliation's own module loaded and ran: without storage settings each operation stops at the audit store.
    expect(result.reconciled.errors?.join('\n')).toMatch(/audit storage|AuditStorage/i);
  });

  it('an operation runs its pipeline under the worker: without settings it refuses, Graph-shaped, with one log line', () => {
    const create = run.results[3]!;
    expect(create.status).toBe(503);
    expect(JSON.parse(create.body)).toMatchObject({ error: { code: 'authNotConfigured' } });
    expect(create.headers['client-request-id']).toBe('worker-POST-v1.0/external/connections/contosohr/groups');
    const requestLines = create.logs.filter((line) => line.category === 'user' && line.message.includes('"event":"facade.request"'));
    expect(requestLines).toHaveLength(1);
    expect(JSON.parse(requestLines[0]!.message)).toMatchObject({ operation: 'createExternalGroup', status: 503 });
  });
});
