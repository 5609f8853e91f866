import type { HttpResponseInit } from '@azure/functions';
import type { TransactionAction } from '@azure/data-tables';
import type { AuditIntent } from '../../audit/auditRecord';
import type { Settlement } from '../../audit/auditStore';
import { auditIntentFor, auditOutcomeOf, settlementFor, writeSettling } from '../../audit/settlement';
import { logEvent } from '../../telemetry/requestLog';
import { requireCaller, requireInput, type GraphCall, type OperationContext, type Stage } from '../context';
import { storedAnswerOf } from './idempotency';

function requireGraphCall(context: OperationContext): GraphCall {
  if (!context.graphCall) throw new Error(`${context.operation.name}: stage order: no Graph call was prepared`);
  return context.graphCall;
}

function intentOf(context: OperationContext): AuditIntent {
  const call = requireGraphCall(context);
  return auditIntentFor({
    operation: context.operation,
    call: { version: call.version, path: call.path, body: requireInput(context).body },
    caller: requireCaller(context),
    correlation: context.correlation,
    requestedAt: context.receivedAt,
    deadlineAt: context.deadlineAt,
    ...(context.preexistingIds ? { preexistingIds: context.preexistingIds } : {}),
  });
}

/**
 * Everything this request's answer settles, in one transaction: its own record (and attempt), the
 * earlier records a recovery accounted for, the entity index, and its Idempotency-Key.
 */
function settlementOf(
  context: OperationContext,
  intent: AuditIntent,
  response: HttpResponseInit | undefined,
  failure: unknown,
): Settlement {
  const attempt = context.attempt!;
  const created = response ? { status: response.status ?? 201, body: response.jsonBody } : undefined;
  const { attribution } = context;
  const outcome = auditOutcomeOf({
    intent,
    created,
    failure,
    graph: context.graphResponse,
    attribution,
    retries: context.graphRetries ?? 0,
    completedAt: new Date(context.runtime.clock.now()),
  });
  const claim = context.idempotencyClaim;
  let extra: TransactionAction[] | undefined;
  if (claim) {
    const answer = storedAnswerOf(response, failure);
    const { idempotency } = context.runtime;
    extra = [answer ? idempotency.completion(claim.scope, claim.etag, answer) : idempotency.releasing(claim.scope, claim.etag)];
  }
  return settlementFor({
    key: attempt.key,
    etag: attempt.etag,
    intent,
    outcome,
    collectionPath: requireGraphCall(context).path,
    created,
    attribution,
    alsoSettles: context.alsoSettles,
    extra,
  });
}

/**
 * Nothing reaches Graph without a record that it may: the `pending` record (and its open attempt,
 * which later requests for the same entity find) is written first — a failure there is a 503 and
 * Graph is never called — and settled once the request is answered, in one transaction.
 */
export const auditTrail: Stage = async (context, next) => {
  const intent = intentOf(context);
  const { key, etag } = await context.runtime.audit.recordIntent(intent);
  context.attempt = { key, etag, askKey: intent.askKey, entityKey: intent.entityKey };

  let response: HttpResponseInit | undefined;
  let failure: unknown;
  try {
    response = await next();
  } catch (error) {
    failure = error;
  }

  try {
    const settlement = settlementOf(context, intent, response, failure);
    const settled = await writeSettling(() => context.runtime.audit.settle(settlement, new Date(context.runtime.clock.now())));
    if (context.idempotencyClaim && settled.extra) context.idempotencyClaim.settled = true;
    if (!settled.own) logEvent(context, 'info', 'audit record was settled by another request meanwhile; its settlement stands');
  } catch (error) {
    // The caller's answer stands (the entity exists or it does not); the record stays pending for reconciliation.
    logEvent(context, 'error', 'audit outcome not recorded; record left pending', {
      auditPartitionKey: key.partitionKey,
      auditRowKey: key.rowKey,
      reason: error instanceof Error ? error.message : String(error),
    });
  }
  if (response) return response;
  throw failure;
};
