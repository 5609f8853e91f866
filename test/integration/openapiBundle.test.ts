import { request as httpRequest } from 'node:http';
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
  it('answers valid documents naming the loopback host that was called, anonymously', async () => {
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

/** A GET with a Host header of our choosing (fetch sets its own). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, { headers: { host } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('the documents never reflect the Host header a request carries', () => {
  it('Host: evil.example is named nowhere: without PUBLIC_BASE_URL or WEBSITE_HOSTNAME, no host at all', async () => {
    for (const path of ['swagger.json', 'openapi.json']) {
      const { status, body } = await getWithHost(`${host.apiUrl}/${path}`, 'evil.example');
      expect(status).toBe(200);
      expect(JSON.stringify(body), path).not.toContain('evil.example');
    }
    expect((await getWithHost(`${host.apiUrl}/swagger.json`, 'evil.example')).body).not.toHaveProperty('host');
    expect((await getWithHost(`${host.apiUrl}/openapi.json`, 'evil.example')).body.servers).toEqual([{ url: '/api' }]);
  });

  it('in Azure (WEBSITE_HOSTNAME), the app’s own host, whatever the Host header says', async () => {
    process.env.WEBSITE_HOSTNAME = 'func-api-abc.azurewebsites.net';
    try {
      const swagger = (await getWithHost(`${host.apiUrl}/swagger.json`, 'evil.example')).body;
      expect(swagger).toMatchObject({ host: 'func-api-abc.azurewebsites.net', schemes: ['https'], basePath: '/api' });
      const openApi = (await getWithHost(`${host.apiUrl}/openapi.json`, 'evil.example')).body;
      expect(openApi.servers).toEqual([{ url: 'https://func-api-abc.azurewebsites.net/api' }]);
    } finally {
      delete process.env.WEBSITE_HOSTNAME;
    }
  });
});
