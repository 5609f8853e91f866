import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { prefersAsync, startBulkRequest } from '../../bulk/job';
import type { Environment } from '../../config';
import { publicLinkTo, publicLocationOf } from '../../http/publicLocation';
import type { BulkOperationDefinition } from '../../operations/operation';
import { logEvent } from '../../telemetry/requestLog';
import { requireCaller, requireInput, type OperationContext, type Stage } from '../context';

/**
 * Where a bulk request's status is: `/api/jobs/{id}` where callers reach the API, by the rule of
 * everything the app hands out that points back at itself (shared/http/publicLocation.ts):
 * `PUBLIC_BASE_URL`, else `WEBSITE_HOSTNAME`, else the loopback host that was called, else a path
 * relative to the host the caller called. Never the `Host` a request carries: anyone can send one.
 */
export function statusUrlFor(request: HttpRequest, env: Environment = process.env): (id: string) => string {
  const location = publicLocationOf(request.url, env);
  return (id) => publicLinkTo(location, `/api/jobs/${encodeURIComponent(id)}`);
}

/**
 * Terminal stage of a bulk request: after authentication, validation (every item by the create's
 * own rule) and the Idempotency-Key, the items are carried out now (200 with a result per item)
 * or, when the caller prefers it or they are expected to take longer than
 * `BULK_ASYNC_AFTER_SECONDS`, accepted (202 with `Location` and `Retry-After`) and carried out from
 * the queue (shared/bulk/job.ts).
 */
export const bulkRequest: Stage<OperationContext<BulkOperationDefinition>> = async (context): Promise<HttpResponseInit> => {
  const { operation, runtime } = context;
  const input = requireInput(context);
  if (!context.graphCall) throw new Error(`${operation.name}: stage order: no Graph call was prepared`);
  const items = input.body[operation.itemsProperty] as Record<string, unknown>[];
  const answer = await startBulkRequest({
    runtime,
    operation,
    caller: requireCaller(context),
    correlation: context.correlation,
    receivedAt: context.receivedAt,
    deadlineAt: context.deadlineAt,
    version: context.graphCall.version,
    collectionPath: context.graphCall.path,
    items,
    earlierAttempts: context.idempotencyClaim?.earlierAttempts ?? [],
    preferAsync: prefersAsync(context.request.headers.get('prefer')),
    statusUrl: statusUrlFor(context.request),
    log: (level, event, fields) => logEvent(context, level, event, fields),
  });
  if (answer.kind === 'done') {
    const { created, alreadyMember, failed } = answer.results;
    logEvent(context, failed > 0 ? 'warn' : 'info', 'bulk request carried out', { items: items.length, created, alreadyMember, failed });
    return { status: 200, jsonBody: answer.results };
  }
  logEvent(context, 'info', 'bulk request accepted; it runs from the queue', { items: items.length, id: answer.id });
  return {
    status: 202,
    headers: {
      location: answer.location,
      'retry-after': String(answer.retryAfterSeconds),
      ...(answer.preferenceApplied ? { 'preference-applied': 'respond-async' } : {}),
    },
    jsonBody: { id: answer.id, status: 'accepted', total: answer.total, done: 0 },
  };
};
