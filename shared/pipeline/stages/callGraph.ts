import type { HttpResponseInit } from '@azure/functions';
import { FacadeError, parseGraphError, type GraphErrorDetail } from '../../errors';
import type { GraphExchange } from '../../graph/graphClient';
import { lookUpCreatedEntity } from '../../reconciliation/entityLookup';
import { requireInput, type GraphCall, type OperationContext, type Stage } from '../context';

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

/** Every property we sent is in what Graph holds (Graph adds its own, such as `state`). */
export function containsSent(sent: unknown, held: unknown): boolean {
  if (Array.isArray(sent)) {
    return Array.isArray(held) && sent.length === held.length && sent.every((item, index) => containsSent(item, held[index]));
  }
  if (typeof sent === 'object' && sent !== null) {
    if (typeof held !== 'object' || held === null) return false;
    return Object.entries(sent).every(([key, value]) => containsSent(value, (held as Record<string, unknown>)[key]));
  }
  return sent === held;
}

/**
 * A 409 after an attempt whose outcome we could not see most likely means that attempt created
 * the entity: read it back, and if it is what we sent, that is our 201 (graph-api.md §1, §6).
 */
async function recoverFromConflict(context: OperationContext, call: GraphCall, exchange: GraphExchange): Promise<boolean> {
  const { operation } = context;
  const uncertain = exchange.earlierAttemptUncertain || context.priorOutcomeUnknown === true;
  if (exchange.response.status !== 409 || !uncertain || operation.entityId === 'generatedByGraph') {
    return false;
  }
  const entityId = operation.entityId(requireInput(context).body);
  const readBack = await context.runtime.graph
    .send(
      { method: 'GET', path: `/${call.version}${call.path}/${encodeURIComponent(entityId)}`, headers: call.headers },
      { deadlineAt: context.deadlineAt, retryMode: 'all' },
    )
    .catch(() => undefined);
  if (!readBack || readBack.response.status !== 200 || !containsSent(call.body, readBack.response.body)) return false;
  context.graphResponse = { ...readBack.response, status: 201 };
  context.recovery = 'readBack';
  return true;
}

/**
 * A retry (same Idempotency-Key) of a connector group create whose answer was lost: if the group
 * the earlier request asked for exists, that is the answer, and nothing is sent again.
 */
async function findEarlierCreate(context: OperationContext, call: GraphCall): Promise<boolean> {
  if (context.operation.entityId !== 'generatedByGraph' || !context.priorOutcomeUnknown || !context.priorRequestedAt) {
    return false;
  }
  const lookup = await lookUpCreatedEntity(context.runtime, context.operation, {
    graphPath: `/${call.version}${call.path}`,
    entityId: '',
    requestBody: JSON.stringify(call.body),
    requestedAt: context.priorRequestedAt,
  });
  if (!lookup.found) return false;
  context.graphResponse = { status: 201, body: lookup.entity, requestId: undefined, retryAfter: undefined };
  context.recovery = 'reconciliation';
  return true;
}

/**
 * Terminal stage: sends the validated body to Graph. Graph's 2xx body comes back as 201; Graph's
 * own errors keep Graph's status, code and message.
 */
export const callGraph: Stage = async (context): Promise<HttpResponseInit> => {
  const call = requireGraphCall(context);
  const { operation } = context;
  const graphChoosesId = operation.entityId === 'generatedByGraph';
  if (await findEarlierCreate(context, call)) {
    return { status: 201, jsonBody: context.graphResponse?.body ?? {} };
  }
  let exchange: GraphExchange;
  try {
    exchange = await context.runtime.graph.send(
      { method: 'POST', path: `/${call.version}${call.path}`, body: call.body, headers: call.headers },
      { deadlineAt: context.deadlineAt, retryMode: graphChoosesId ? 'throttlingOnly' : 'all' },
    );
  } catch (error) {
    if (graphChoosesId && error instanceof FacadeError && error.outcomeUnknown) {
      throw new FacadeError(
        error.status,
        'createOutcomeUnknown',
        'Microsoft Graph did not confirm the create; it may have happened. It was not sent again, so no duplicate is created; the audit record is left for reconciliation.',
        { retryAfterSeconds: error.retryAfterSeconds ?? 5, cause: error, outcomeUnknown: true },
      );
    }
    throw error;
  }
  context.graphResponse = exchange.response;
  context.graphRetries = exchange.retries;
  const response = exchange.response;

  if ((response.status >= 200 && response.status < 300) || (await recoverFromConflict(context, call, exchange))) {
    const created = context.graphResponse;
    return {
      status: 201,
      headers: created?.requestId ? { 'graph-request-id': created.requestId } : {},
      jsonBody: created?.body ?? {},
    };
  }

  const graphHeaders: Record<string, string> = response.requestId ? { 'graph-request-id': response.requestId } : {};
  if (graphChoosesId && response.status >= 500) {
    throw new FacadeError(
      502,
      'createOutcomeUnknown',
      `Microsoft Graph answered ${response.status}; the create may still have happened. It was not sent again, so no duplicate is created; the audit record is left for reconciliation.`,
      { retryAfterSeconds: 5, headers: graphHeaders, outcomeUnknown: true },
    );
  }
  const error = parseGraphError(response.body) ?? {
    code: 'generalException',
    message: `Microsoft Graph answered ${response.status}.`,
  };
  throw new FacadeError(response.status, error.code, error.message, {
    details: graphDetails(response.body),
    headers: { ...graphHeaders, ...(response.retryAfter ? { 'retry-after': response.retryAfter } : {}) },
  });
};
