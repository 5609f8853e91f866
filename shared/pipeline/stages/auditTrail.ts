import type { HttpResponseInit } from '@azure/functions';
import type { TransactionAction } from '@azure/data-tables';
import { askKeyOf, cappedJson, type AuditEntity, type AuditIntent, type AuditOutcome } from '../../audit/auditRecord';
import type { RecordChange, Settlement } from '../../audit/auditStore';
import { FacadeError } from '../../errors';
import { entityPathOf } from '../../graph/paths';
import { fingerprintOf } from '../../idempotency/idempotencyStore';
import { naturalKeyOf } from '../../operations/operation';
import { logEvent } from '../../telemetry/requestLog';
import { graphPathOf, requireCaller, requireInput, type GraphCall, type OperationContext, type Stage } from '../context';
import { storedAnswerOf } from './idempotency';

const outcomeWriteDelaysMs = [200, 800];

/** The outcome write is retried: a record left pending costs a reconciliation later. */
async function withRetries<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await write();
    } catch (error) {
      const delay = outcomeWriteDelaysMs[attempt];
      if (delay === undefined) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

function requireGraphCall(context: OperationContext): GraphCall {
  if (!context.graphCall) throw new Error(`${context.operation.name}: stage order: no Graph call was prepared`);
  return context.graphCall;
}

/**
 * What identifies the entity before it exists (its path for ids the caller chooses, the collection
 * and natural key otherwise), so later requests for the same entity find this attempt.
 */
export function entityKeyOf(context: OperationContext): string {
  const { operation } = context;
  const call = requireGraphCall(context);
  const body = requireInput(context).body;
  if (operation.entityId === 'generatedByGraph') {
    const naturalKey = naturalKeyOf(operation) ?? 'id';
    return `${call.path.replace(/^\/+/, '')}?${naturalKey}=${JSON.stringify(body[naturalKey] ?? null)}`;
  }
  return entityPathOf(call.path, operation.entityId(body));
}

function intentOf(context: OperationContext): AuditIntent {
  const { operation } = context;
  const input = requireInput(context);
  const caller = requireCaller(context);
  const call = requireGraphCall(context);
  const graphPath = graphPathOf(call);
  return {
    operation: operation.name,
    entityType: operation.entityType,
    entityId: operation.entityId === 'generatedByGraph' ? '' : operation.entityId(input.body),
    graphPath,
    graphVersion: call.version,
    requestId: context.correlation.requestId,
    clientRequestId: context.correlation.clientRequestId,
    callerId: caller.id,
    ...(caller.appId ? { callerAppId: caller.appId } : {}),
    ...(caller.name ? { callerName: caller.name } : {}),
    ...(caller.tenantId ? { callerTenantId: caller.tenantId } : {}),
    ...(context.preexistingIds ? { preexistingIds: JSON.stringify(context.preexistingIds) } : {}),
    requestedAt: context.receivedAt,
    deadlineAt: new Date(context.deadlineAt),
    requestBody: input.body,
    entityKey: entityKeyOf(context),
    askKey: askKeyOf(caller.id, graphPath, fingerprintOf(call.body)),
  };
}

function createdEntityId(intent: AuditIntent, response: HttpResponseInit): string {
  const id = (response.jsonBody as { id?: unknown } | undefined)?.id;
  return intent.entityId || (typeof id === 'string' ? id : '');
}

function outcomeOf(context: OperationContext, intent: AuditIntent, response: HttpResponseInit | undefined, failure: unknown): AuditOutcome {
  const graph = context.graphResponse;
  const completedAt = new Date(context.runtime.clock.now());
  const retries = context.graphRetries ?? 0;
  if (response) {
    const { attribution } = context;
    return {
      status: 'succeeded',
      httpStatus: attribution ? (response.status ?? 201) : (graph?.status ?? response.status ?? 201),
      entityId: createdEntityId(intent, response),
      graphRequestId: attribution ? attribution.graphRequestId : graph?.requestId,
      completedAt,
      responseBody: response.jsonBody,
      retries,
      ...(attribution
        ? {
            recovery: attribution.recovery,
            ...(attribution.madeBy ? { madeBy: attribution.madeBy } : {}),
            reason: attribution.madeBy
              ? 'answered with the entity an earlier request of the same ask made'
              : 'Graph’s answer to this request was lost; a later look found the entity it asked for',
          }
        : {}),
    };
  }
  const error = failure instanceof FacadeError ? failure : undefined;
  return {
    status: error?.outcomeUnknown ? 'unknown' : 'failed',
    retries,
    httpStatus: error?.status ?? graph?.status ?? 500,
    graphRequestId: graph?.requestId,
    errorCode: error?.code ?? 'generalException',
    ...(error?.outcomeUnknown ? { reason: error.reason ?? error.message } : {}),
    completedAt,
    responseBody: graph?.body ?? { error: { code: error?.code, message: error?.message } },
  };
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
  const outcome = outcomeOf(context, intent, response, failure);
  const { requestBody, ...fields } = intent;
  const sent = cappedJson(requestBody);
  const record: Omit<AuditEntity, 'status' | 'reconcileAfter'> = { ...attempt.key, ...fields, kind: 'record', requestBody: sent.json, requestBodyTruncated: sent.truncated };
  const stillOpen = outcome.status === 'unknown';
  const own: RecordChange = {
    record,
    outcome,
    // An unknown outcome gives way to whoever settled the record meanwhile; Graph's own answer does not.
    ...(stillOpen ? { etag: attempt.etag, stillOpenUntil: intent.requestedAt } : {}),
  };
  const { attribution } = context;
  const others: RecordChange[] = (attribution?.settles ?? context.alsoSettles ?? []).map(({ record: earlier, outcome: settled }) => ({
    record: earlier,
    etag: earlier.etag,
    outcome: {
      ...settled,
      httpStatus: earlier.httpStatus ?? 0,
      completedAt: outcome.completedAt,
      responseBody: settled.status === 'succeeded' ? response?.jsonBody : null,
      settledBy: attempt.key.rowKey,
    },
  }));
  const entityId = response ? createdEntityId(intent, response) : '';
  const call = requireGraphCall(context);
  const index = entityId
    ? { entityPath: entityPathOf(call.path, entityId), auditRowKey: attribution?.madeBy ?? attempt.key.rowKey, proof: attribution ? ('attributed' as const) : ('answered' as const) }
    : undefined;
  const claim = context.idempotencyClaim;
  let extra: TransactionAction[] | undefined;
  if (claim) {
    const answer = storedAnswerOf(response, failure);
    const { idempotency } = context.runtime;
    extra = [answer ? idempotency.completion(claim.scope, claim.etag, answer) : idempotency.releasing(claim.scope, claim.etag)];
  }
  return { partitionKey: attempt.key.partitionKey, changes: [own, ...others], ...(index ? { index } : {}), ...(extra ? { extra } : {}) };
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
    const settled = await withRetries(() => context.runtime.audit.settle(settlement, new Date(context.runtime.clock.now())));
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
