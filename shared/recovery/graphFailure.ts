import { FacadeError, parseGraphError, type GraphErrorDetail } from '../errors';
import type { GraphResponse } from '../graph/graphClient';
import { graphAssignsId, type OperationDefinition } from '../operations/operation';

function graphDetails(body: unknown): GraphErrorDetail[] {
  const details = (body as { error?: { details?: unknown } } | undefined)?.error?.details;
  return Array.isArray(details) ? details.filter((detail): detail is GraphErrorDetail => typeof detail?.code === 'string') : [];
}

/**
 * Graph's own error, passed on. After an attempt whose answer was lost any failure may hide a
 * create (so does a 5xx or 408 on its own: Graph documents a 503 that created), and the record
 * says `unknown`; a 5xx always leaves with a retry hint. An entity whose id Graph chooses is then
 * `createOutcomeUnknown`: it is never sent again.
 */
export function graphFailureOf(operation: OperationDefinition, response: GraphResponse, earlierAttemptUncertain: boolean, reason?: string): FacadeError {
  const graphHeaders: Record<string, string> = response.requestId ? { 'graph-request-id': response.requestId } : {};
  const mayHideCreate = earlierAttemptUncertain || response.status >= 500 || response.status === 408;
  if (graphAssignsId(operation) && mayHideCreate) {
    return new FacadeError(
      response.status >= 500 ? 502 : response.status,
      'createOutcomeUnknown',
      `Microsoft Graph answered ${response.status}; the create may still have happened. It was not sent again, so no duplicate is made. Its audit record is settled by reconciliation; an Idempotency-Key retry answers with what it made.`,
      { headers: graphHeaders, retryAfterSeconds: 5, outcomeUnknown: true },
    );
  }
  const error = parseGraphError(response.body) ?? { code: 'generalException', message: `Microsoft Graph answered ${response.status}.` };
  if (earlierAttemptUncertain && response.status < 500) {
    // A 4xx tells the caller this request made nothing, which after a lost attempt nobody knows.
    return new FacadeError(
      502,
      'createOutcomeUnknown',
      `An attempt's answer was lost, then Microsoft Graph answered ${response.status} ${error.code}: the create may have taken place. Retry: a retry of the same request is recognised.`,
      {
        headers: graphHeaders,
        retryAfterSeconds: Math.max(1, Number(response.retryAfter) || 5),
        outcomeUnknown: true,
        reason: reason ?? `an attempt's answer was lost, then Microsoft Graph answered ${response.status} ${error.code}`,
      },
    );
  }
  const retryAfter = response.retryAfter ?? (response.status >= 500 ? '5' : undefined);
  return new FacadeError(response.status, error.code, error.message, {
    details: graphDetails(response.body),
    headers: { ...graphHeaders, ...(retryAfter ? { 'retry-after': retryAfter } : {}) },
    outcomeUnknown: mayHideCreate,
    ...(mayHideCreate ? { reason: reason ?? `an attempt's answer was lost, then Microsoft Graph answered ${response.status}: the create may have taken place` } : {}),
  });
}

/**
 * Graph's 409 beside an attempt of the same ask still waiting for Graph's answer (`inFlight`): this
 * request made nothing (its record says failed), and what the ask made is known once that attempt
 * is answered. 503 with `Retry-After`, so a flow's retry policy asks again then.
 */
export function askInFlightFailure(response: GraphResponse, verdict: { reason: string; retryAfterSeconds: number }): FacadeError {
  return new FacadeError(
    503,
    'createInProgress',
    `Microsoft Graph says the entity exists, and another request of yours for the same entity with the same body is still waiting for Graph's answer to its create: whether that request made it is known once it is answered. Nothing more was sent. Retry after ${verdict.retryAfterSeconds} seconds: a retry is then answered with the entity if that request made it and its answer was lost, or with Graph's 409.`,
    { headers: response.requestId ? { 'graph-request-id': response.requestId } : {}, retryAfterSeconds: verdict.retryAfterSeconds, reason: verdict.reason },
  );
}

/**
 * A 2xx that names no entity (`{}`, an empty or non-JSON body) to a create whose id Graph chooses:
 * Graph carried the create out, but which entity it made is not known. Like a lost answer, it may
 * hide a create — the record says `unknown` until the natural-key lookup finds the entity (a keyed
 * retry, or reconciliation: `orphaned`) — never a success with no entity.
 */
export function idlessSuccessOf(response: GraphResponse): FacadeError {
  return new FacadeError(
    502,
    'createOutcomeUnknown',
    `Microsoft Graph answered ${response.status} without the id of what it created. It was not sent again, so no duplicate is made. Its audit record is settled by reconciliation; an Idempotency-Key retry answers with what it made.`,
    {
      headers: response.requestId ? { 'graph-request-id': response.requestId } : {},
      retryAfterSeconds: 5,
      outcomeUnknown: true,
      reason: `Microsoft Graph answered ${response.status} without an entity id: the create took place, but which entity it made is not known`,
    },
  );
}

/** The id a 2xx body names, if it names one. */
export const entityIdIn = (body: unknown): string | undefined => {
  const id = typeof body === 'object' && body !== null ? (body as { id?: unknown }).id : undefined;
  return typeof id === 'string' && id !== '' ? id : undefined;
};
