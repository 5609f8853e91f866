import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { DocumentTarget } from '../shared/openapi/documents';
import type { OperationDefinition } from '../shared/operations/operation';
import { operationDefinitions } from '../shared/operations/registerOperation';
import { registerHttp } from '../shared/operations/registry';

/**
 * `GET /api/swagger.json` (Swagger 2.0, for Power Platform custom connectors) and
 * `GET /api/openapi.json` (OpenAPI 3.0), both anonymous. They are generated from the operation
 * declarations at run time, so the document always describes the code that serves it. The
 * generator (with joi-to-json) is imported on the first request for a document, not at cold start,
 * and its output is cached for the life of the instance.
 */

/** Every registered create operation (functions/index.ts imports them all before this file). */
export const documentedOperations: readonly OperationDefinition[] = operationDefinitions;

let generator: Promise<typeof import('../shared/openapi/documents')> | undefined;
const loadGenerator = () => (generator ??= import('../shared/openapi/documents'));

/** Where the caller reached us: the documents point back at it (plain http only on loopback). */
export function targetOf(request: HttpRequest): DocumentTarget {
  const url = new URL(request.url);
  const loopback = /^(localhost|127(\.\d+){3}|\[::1\])$/.test(url.hostname);
  return { host: url.host, scheme: loopback && url.protocol === 'http:' ? 'http' : 'https' };
}

// The documents name the host that was called, so shared caches must not hand them to other hosts.
const cacheHeaders = { 'cache-control': 'private, max-age=300' };

export async function swaggerJson(request: HttpRequest): Promise<HttpResponseInit> {
  const { swaggerFor } = await loadGenerator();
  return { status: 200, headers: cacheHeaders, jsonBody: swaggerFor(documentedOperations, targetOf(request)) };
}

export async function openApiJson(request: HttpRequest): Promise<HttpResponseInit> {
  const { openApiFor } = await loadGenerator();
  return { status: 200, headers: cacheHeaders, jsonBody: openApiFor(documentedOperations, targetOf(request)) };
}

registerHttp('swaggerJson', { methods: ['GET'], authLevel: 'anonymous', route: 'swagger.json', handler: swaggerJson });
registerHttp('openApiJson', { methods: ['GET'], authLevel: 'anonymous', route: 'openapi.json', handler: openApiJson });
