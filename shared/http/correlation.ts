import { randomUUID } from 'node:crypto';
import type { HttpRequest } from '@azure/functions';
import type { Correlation } from '../errors';

const acceptableClientRequestId = /^[\x21-\x7e]{1,128}$/;

/** Our request id, and the caller's `client-request-id` (or a new one when absent or unusable). */
export function correlationFor(request: HttpRequest): Correlation {
  const supplied = request.headers.get('client-request-id')?.trim();
  return {
    requestId: randomUUID(),
    clientRequestId: supplied && acceptableClientRequestId.test(supplied) ? supplied : randomUUID(),
  };
}

export function correlationHeaders(correlation: Correlation): Record<string, string> {
  return { 'request-id': correlation.requestId, 'client-request-id': correlation.clientRequestId };
}
