import type { HttpResponseInit } from '@azure/functions';
import { registerHttp } from '../shared/operations/registry';

/** Readiness: the instance is up and serving. Cheap on purpose: probes call it often. */
export async function health(): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: { status: 'healthy' } };
}

registerHttp('health', { methods: ['GET'], authLevel: 'anonymous', route: 'health', handler: health });
