import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Environment } from '../shared/config';
import { correlationFor, correlationHeaders } from '../shared/http/correlation';
import { publicLocationOf } from '../shared/http/publicLocation';
import type { DocumentTarget } from '../shared/openapi/documents';
import type { ApiOperation } from '../shared/operations/query';
import { apiOperations } from '../shared/operations/registerOperation';
import { registerHttp } from '../shared/operations/registry';

/**
 * `GET /api/swagger.json` (Swagger 2.0, for Power Platform custom connectors) and
 * `GET /api/openapi.json` (OpenAPI 3.0), both anonymous. They are generated from the operation
 * declarations at run time, so the document always describes the code that serves it. The
 * generator (with joi-to-json) is imported on the first request for a document, not at cold start,
 * and its output is cached for the life of the instance.
 */

/** Every registered operation, creates, bulk creates and queries (functions/index.ts imports them all before this file). */
export const documentedOperations: readonly ApiOperation[] = apiOperations;

let generator: Promise<typeof import('../shared/openapi/documents')> | undefined;
const loadGenerator = () => (generator ??= import('../shared/openapi/documents'));

/**
 * Where the documents say the API is: `PUBLIC_BASE_URL`, else the app's own host name in Azure
 * (`WEBSITE_HOSTNAME`). The request's host (its `Host` header, which anyone can send) is named
 * only when it is loopback (the local host); otherwise the documents name no host at all and a
 * client uses the one it fetched them from.
 */
export function targetOf(request: HttpRequest, env: Environment = process.env): DocumentTarget {
  return publicLocationOf(request.url, env);
}

/** Locally the documents may name the loopback host that was called: not for shared caches. */
const headersFor = (request: HttpRequest) => ({ 'cache-control': 'private, max-age=300', ...correlationHeaders(correlationFor(request)) });

export async function swaggerJson(request: HttpRequest): Promise<HttpResponseInit> {
  const { swaggerFor } = await loadGenerator();
  return { status: 200, headers: headersFor(request), jsonBody: swaggerFor(documentedOperations, targetOf(request)) };
}

export async function openApiJson(request: HttpRequest): Promise<HttpResponseInit> {
  const { openApiFor } = await loadGenerator();
  return { status: 200, headers: headersFor(request), jsonBody: openApiFor(documentedOperations, targetOf(request)) };
}

registerHttp('swaggerJson', { methods: ['GET'], authLevel: 'anonymous', route: 'swagger.json', handler: swaggerJson });
registerHttp('openApiJson', { methods: ['GET'], authLevel: 'anonymous', route: 'openapi.json', handler: openApiJson });
