import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { correlationFor, correlationHeaders } from '../shared/http/correlation';
import { registerHttp } from '../shared/operations/registry';

/** Readiness: the instance is up and serving. Cheap on purpose: probes call it often. */
export async function health(request: HttpRequest): Promise<HttpResponseInit> {
  return { status: 200, headers: correlationHeaders(correlationFor(request)), jsonBody: { status: 'healthy' } };
}

registerHttp('health', { methods: ['GET'], authLevel: 'anonymous', route: 'health', handler: health });
