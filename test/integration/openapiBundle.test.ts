import { pathToFileURL } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPI } from 'openapi-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalHost, type LocalHost } from '../../dev/localHost';
import type { FunctionDefinition } from '../../shared/operations/registry';

/**
 * The deployed bundle (dist/index.mjs, built by the global setup) serves both documents over HTTP:
 * the generator it imports on first use is inside the bundle, and the documents name the host.
 */

let host: LocalHost;

beforeAll(async () => {
  const bundle = (await import(pathToFileURL('dist/index.mjs').href)) as { functionDefinitions: FunctionDefinition[] };
  host = await startLocalHost({ definitions: bundle.functionDefinitions, logHandler: () => undefined });
});

afterAll(async () => {
  await host?.close();
});

describe('GET /api/swagger.json and /api/openapi.json from the bundle', () => {
  it('answers valid documents naming the host that was called, anonymously', async () => {
    const swaggerResponse = await fetch(`${host.apiUrl}/swagger.json`);
    expect(swaggerResponse.status).toBe(200);
    expect(swaggerResponse.headers.get('content-type')).toContain('application/json');
    const swagger = (await swaggerResponse.json()) as OpenAPI.Document & { host: string; schemes: string[] };
    expect(swagger.host).toBe(new URL(host.apiUrl).host);
    expect(swagger.schemes).toEqual(['http']);
    await expect(SwaggerParser.validate(swagger)).resolves.toBeTruthy();

    const openApiResponse = await fetch(`${host.apiUrl}/openapi.json`);
    const openApi = (await openApiResponse.json()) as OpenAPI.Document & { servers: { url: string }[] };
    expect(openApi.servers).toEqual([{ url: host.apiUrl }]);
    await expect(SwaggerParser.validate(openApi)).resolves.toBeTruthy();
  });
});
