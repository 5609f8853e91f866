import type { HttpResponseInit } from '@azure/functions';
import type { AuditIntent, AuditOutcome } from '../../audit/auditRecord';
import { FacadeError } from '../../errors';
import { entityPathOf } from '../../graph/paths';
import { logEvent } from '../../telemetry/requestLog';
import { graphPathOf, requireCaller, requireInput, type OperationContext, type Stage } from '../context';

const outcomeWriteDelaysMs = [200, 800];

/** The outcome write is retried: a record left pending costs a reconciliation later. */
async function withRetries(write: () => Promise<void>): Promise<void> {
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

function intentOf(context: OperationContext): AuditIntent {
  const { operation } = context;
  const input = requireInput(context);
  const caller = requireCaller(context);
  const call = context.graphCall;
  if (!call) throw new Error(`${operation.name}: stage order: no Graph call was prepared`);
  return {
    operation: operation.name,
    entityType: operation.entityType,
    entityId: operation.entityId === 'generatedByGraph' ? '' : operation.entityId(input.body),
    graphPath: graphPathOf(call),
    graphVersion: call.version,
    requestId: context.correlation.requestId,
    clientRequestId: context.correlation.clientRequestId,
    callerId: caller.id,
    ...(caller.appId ? { callerAppId: caller.appId } : {}),
    ...(caller.name ? { callerName: caller.name } : {}),
    ...(caller.tenantId ? { callerTenantId: caller.tenantId } : {}),
    ...(context.preexistingIds ? { preexistingIds: JSON.stringify(context.preexistingIds) } : {}),
    requestedAt: context.receivedAt,
    requestBody: input.body,
  };
}

function createdEntityId(intent: AuditIntent, response: HttpResponseInit): string {
  const id = (response.jsonBody as { id?: unknown } | undefined)?.id;
  return intent.entityId || (typeof id === 'string' ? id : '');
}

function outcomeOf(context: OperationContext, response: HttpResponseInit | undefined, failure: unknown): AuditOutcome {
  const graph = context.graphResponse;
  const completedAt = new Date();
  const retries = context.graphRetries ?? 0;
  if (response) {
    return {
      status: 'succeeded',
      httpStatus: graph?.status ?? response.status ?? 201,
      graphRequestId: graph?.requestId,
      completedAt,
      responseBody: response.jsonBody,
      retries,
      ...(context.recovery ? { recovery: context.recovery } : {}),
    };
  }
  const error = failure instanceof FacadeError ? failure : undefined;
  return {
    status: error?.outcomeUnknown ? 'unknown' : 'failed',
    retries,
    httpStatus: graph?.status ?? error?.status ?? 500,
    graphRequestId: graph?.requestId,
    errorCode: error?.code ?? 'generalException',
    completedAt,
    responseBody: graph?.body ?? { error: { code: error?.code, message: error?.message } },
  };
}

/**
 * Nothing reaches Graph without a record that it may: the `pending` record is written first (a
 * failure there is a 503 and Graph is never called), and settled once Graph has answered.
 */
export const auditTrail: Stage = async (context, next) => {
  const intent = intentOf(context);
  const key = await context.runtime.audit.recordIntent(intent);
  context.auditKey = key;

  let response: HttpResponseInit | undefined;
  let failure: unknown;
  try {
    response = await next();
  } catch (error) {
    failure = error;
  }

  const outcome = outcomeOf(context, response, failure);
  if (response) {
    outcome.entityId = createdEntityId(intent, response);
  }
  const entityPath = outcome.entityId && context.graphCall ? entityPathOf(context.graphCall.path, outcome.entityId) : undefined;
  try {
    await withRetries(() => context.runtime.audit.recordOutcome(key, intent, outcome, entityPath));
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
