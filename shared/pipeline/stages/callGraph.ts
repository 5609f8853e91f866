import type { HttpResponseInit } from '@azure/functions';
import type { Recovery } from '../../audit/auditRecord';
import { FacadeError, parseGraphError, type GraphErrorDetail } from '../../errors';
import { containsSent } from '../../graph/containsSent';
import type { ExchangeProgress, GraphExchange, GraphResponse } from '../../graph/graphClient';
import { entityUrlOf } from '../../graph/paths';
import { existenceCheckOf } from '../../operations/operation';
import { lookUpCreatedEntity } from '../../reconciliation/entityLookup';
import { graphPathOf, requireInput, type GraphCall, type OperationContext, type Stage } from '../context';

function graphDetails(body: unknown): GraphErrorDetail[] {
  const details = (body as { error?: { details?: unknown } } | undefined)?.error?.details;
  return Array.isArray(details)
    ? details.filter((detail): detail is GraphErrorDetail => typeof detail?.code === 'string')
    : [];
}

function requireGraphCall(context: OperationContext): GraphCall {
  if (!context.graphCall) throw new Error(`${context.operation.name}: stage order: no Graph call was prepared`);
  return context.graphCall;
}

function createdBy(context: OperationContext, recovery: Recovery, body: unknown, requestId?: string): void {
  context.graphResponse = { status: 201, body, requestId, retryAfter: undefined };
  context.recovery = recovery;
}

function created(context: OperationContext): HttpResponseInit {
  const answer = context.graphResponse;
  return {
    status: 201,
    headers: answer?.requestId ? { 'graph-request-id': answer.requestId } : {},
    jsonBody: answer?.body ?? {},
  };
}

const lostAnswer = (status: number, message: string, init: { cause?: unknown; headers?: Record<string, string> } = {}) =>
  new FacadeError(status, 'createOutcomeUnknown', message, { retryAfterSeconds: 5, outcomeUnknown: true, ...init });

/**
 * Is a 409 possibly the answer to our own create? Yes when an attempt of this request, or an
 * earlier request for the same entity, lost Graph's answer (graph-api.md §1, §6).
 */
async function conflictMayBeOurs(context: OperationContext, exchange: GraphExchange, entityId: string): Promise<boolean> {
  if (exchange.earlierAttemptUncertain || context.priorOutcomeUnknown) return true;
  const since = new Date(context.receivedAt.getTime() - context.runtime.settings.idempotencyRetentionHours * 3_600_000);
  return context.runtime.audit
    .hasUncertainAttempt(context.operation.name, entityId, since, context.auditKey?.rowKey)
    .catch(() => false);
}

/** After a 409 that may be ours: is the entity in Graph what we asked for? */
async function confirmOurs(context: OperationContext, call: GraphCall): Promise<boolean> {
  const { operation } = context;
  if (operation.entityId === 'generatedByGraph') return false;
  const entityId = operation.entityId(requireInput(context).body);
  if (existenceCheckOf(operation) === 'createConflict') {
    // Graph has no read of one member: the 409 itself says the member is there, as asked.
    createdBy(context, 'createConflict', call.body);
    return true;
  }
  let readBack: GraphResponse;
  try {
    ({ response: readBack } = await context.runtime.graph.send(
      { method: 'GET', path: entityUrlOf(graphPathOf(call), entityId), headers: call.headers },
      { deadlineAt: context.deadlineAt, retryMode: 'all' },
    ));
  } catch (error) {
    throw lostAnswer(502, 'Microsoft Graph says the entity exists, but it could not be read to tell whether this request created it.', { cause: error });
  }
  if (readBack.status === 200 && containsSent(call.body, readBack.body)) {
    createdBy(context, 'readBack', readBack.body, readBack.requestId);
    return true;
  }
  if (readBack.status === 200 || readBack.status === 404) return false;
  throw lostAnswer(502, `Microsoft Graph says the entity exists, but reading it back answered ${readBack.status}.`);
}

/**
 * A retry (same Idempotency-Key) of a connector group create whose answer was lost: if the group
 * the earlier request made exists, that is the answer, and nothing is sent again.
 */
async function findEarlierCreate(context: OperationContext): Promise<boolean> {
  const { operation, runtime } = context;
  if (operation.entityId !== 'generatedByGraph' || !context.priorOutcomeUnknown || !context.priorAuditKey) return false;
  const earlier = await runtime.audit.get(context.priorAuditKey).catch((error: unknown) => {
    throw new FacadeError(503, 'auditStoreUnavailable', 'The earlier attempt of this request cannot be read. Retry later.', {
      retryAfterSeconds: 10,
      cause: error,
    });
  });
  if (!earlier) return false;
  // This request sends nothing until the earlier attempt is accounted for, so its own outcome is known.
  const lookup = await lookUpCreatedEntity(runtime, operation, earlier, context.deadlineAt).catch((error: unknown) => {
    throw new FacadeError(503, 'serviceNotAvailable', 'Whether the earlier attempt of this request created the entity cannot be checked now; nothing was sent. Retry later.', {
      retryAfterSeconds: 5,
      cause: error,
    });
  });
  if (!lookup.found && lookup.reason === 'absent') return false;
  if (!lookup.found) {
    throw new FacadeError(409, 'createOutcomeUnknown', 'Whether the earlier attempt of this request created the entity cannot be told; it is not sent again. See its audit record.');
  }
  createdBy(context, 'earlierAttempt', lookup.entity);
  await runtime.audit
    .recordOutcome(earlier, earlier, {
      status: 'succeeded',
      httpStatus: 201,
      entityId: lookup.entityId,
      graphRequestId: earlier.graphRequestId,
      completedAt: new Date(),
      responseBody: lookup.entity,
      recovery: 'reconciliation',
    }, undefined, earlier.etag)
    .catch(() => undefined); // Reconciliation settles it otherwise.
  return true;
}

/**
 * Terminal stage: sends the validated body to Graph. Graph's 2xx body comes back as 201; Graph's
 * own errors keep Graph's status, code and message. An answer Graph may have hidden a create
 * behind (a lost attempt, a 503/504) is marked so the audit record says `unknown`.
 */
export const callGraph: Stage = async (context): Promise<HttpResponseInit> => {
  const call = requireGraphCall(context);
  const { operation } = context;
  const graphChoosesId = operation.entityId === 'generatedByGraph';
  if (await findEarlierCreate(context)) return created(context);

  const progress: ExchangeProgress = { retries: 0, uncertain: false };
  let exchange: GraphExchange;
  try {
    exchange = await context.runtime.graph.send(
      { method: 'POST', path: graphPathOf(call), body: call.body, headers: call.headers },
      { deadlineAt: context.deadlineAt, retryMode: graphChoosesId ? 'throttlingOnly' : 'all', progress },
    );
  } catch (error) {
    context.graphRetries = progress.retries;
    if (graphChoosesId && error instanceof FacadeError && error.outcomeUnknown) {
      throw lostAnswer(
        error.status,
        'Microsoft Graph did not confirm the create; it may have happened. It was not sent again, so no duplicate is created; the audit record is left for reconciliation.',
        { cause: error },
      );
    }
    throw error;
  }
  context.graphResponse = exchange.response;
  context.graphRetries = exchange.retries;
  const response = exchange.response;

  if (response.status >= 200 && response.status < 300) return created(context);
  const chosenId = operation.entityId === 'generatedByGraph' ? undefined : operation.entityId(requireInput(context).body);
  if (
    response.status === 409 &&
    chosenId !== undefined &&
    (await conflictMayBeOurs(context, exchange, chosenId)) &&
    (await confirmOurs(context, call))
  ) {
    return created(context);
  }

  const graphHeaders: Record<string, string> = response.requestId ? { 'graph-request-id': response.requestId } : {};
  if (graphChoosesId && response.status >= 500) {
    throw lostAnswer(
      502,
      `Microsoft Graph answered ${response.status}; the create may still have happened. It was not sent again, so no duplicate is created; the audit record is left for reconciliation.`,
      { headers: graphHeaders },
    );
  }
  const error = parseGraphError(response.body) ?? {
    code: 'generalException',
    message: `Microsoft Graph answered ${response.status}.`,
  };
  // A 503/504, or any failure after an attempt whose answer was lost, may hide a create Graph made.
  const outcomeUnknown =
    response.status !== 409 && (exchange.earlierAttemptUncertain || response.status === 503 || response.status === 504);
  throw new FacadeError(response.status, error.code, error.message, {
    details: graphDetails(response.body),
    headers: { ...graphHeaders, ...(response.retryAfter ? { 'retry-after': response.retryAfter } : {}) },
    outcomeUnknown,
  });
};
