import type { HttpResponseInit } from '@azure/functions';
import { FacadeError, badRequest, serviceUnavailable, type GraphErrorDetail } from '../../errors';
import {
  fingerprintOf,
  type Claim,
  type IdempotencyStore,
  type KeyScope,
  type StoredAnswer,
} from '../../idempotency/idempotencyStore';
import { logEvent } from '../../telemetry/requestLog';
import { requireCaller, requireInput, type OperationContext, type Stage } from '../context';

const keyRule = /^[\x20-\x7e]{1,255}$/;

/** After the Graph deadline: the audit outcome writes (with their retries) and the key's own write. */
const leaseBeyondDeadlineMs = 45_000;

/** Answers that are final for this body: the same request would get them again. */
function isFinal(error: FacadeError): boolean {
  return !error.outcomeUnknown && error.status < 500 && error.status !== 408 && error.status !== 429;
}

function replay(answer: StoredAnswer): HttpResponseInit {
  const headers = { ...answer.headers, 'idempotent-replayed': 'true' };
  if (answer.status < 400) return { status: answer.status, headers, jsonBody: answer.jsonBody };
  // Errors are re-raised so the replay carries this request's correlation ids like any other error.
  const { error } = answer.jsonBody as { error: { code: string; message: string; details?: GraphErrorDetail[] } };
  throw new FacadeError(answer.status, error.code, error.message, { details: error.details ?? [], headers });
}

/**
 * Optional `Idempotency-Key`: the same key and body (same operation and caller) replays the stored
 * answer without calling Graph; the same key with another body is a 422; while the first request
 * is still running, a 409 with `Retry-After`. Runs after validation, so invalid input stores nothing.
 */
export const idempotency: Stage = async (context, next) => {
  const key = context.request.headers.get('idempotency-key');
  if (key === null) return next();
  if (!keyRule.test(key)) {
    throw badRequest('The Idempotency-Key header must be 1 to 255 printable ASCII characters.', [
      { code: 'invalidValue', message: 'Idempotency-Key must be 1 to 255 printable ASCII characters', target: 'Idempotency-Key' },
    ]);
  }
  const { idempotency: store, settings } = context.runtime;
  const scope: KeyScope = { operation: context.operation.name, callerId: requireCaller(context).id, key };
  const input = requireInput(context);
  let claim: Claim;
  try {
    claim = await store.claim(
      scope,
      fingerprintOf({ params: input.params, body: input.body }),
      settings.graphDeadlineMs + leaseBeyondDeadlineMs,
      new Date(context.runtime.clock.now()),
    );
  } catch (error) {
    throw serviceUnavailable('idempotencyStoreUnavailable', 'The idempotency key could not be checked; nothing was sent to Microsoft Graph. Retry later.', 10, error);
  }
  switch (claim.kind) {
    case 'mismatch':
      throw new FacadeError(422, 'idempotencyKeyReused', 'This Idempotency-Key was already used with a different request body.');
    case 'inFlight':
      throw new FacadeError(409, 'idempotencyKeyInUse', 'A request with this Idempotency-Key is still being processed.', {
        retryAfterSeconds: claim.retryAfterSeconds,
      });
    case 'replay':
      return replay(claim.answer);
    case 'claimed':
      context.priorOutcomeUnknown = claim.priorOutcomeUnknown;
      if (claim.priorAuditKey) context.priorAuditKey = claim.priorAuditKey;
  }

  const { etag } = claim;
  let response: HttpResponseInit;
  try {
    response = await next();
  } catch (error) {
    await settleFailure(context, error, scope, etag, store).catch((storeError: unknown) =>
      logEvent(context, 'warn', 'idempotency key not settled after a failure; it frees itself when its lease ends', {
        reason: storeError instanceof Error ? storeError.message : String(storeError),
      }),
    );
    throw error;
  }
  const headers = response.headers as Record<string, string> | undefined;
  const stored = await store
    .complete(scope, etag, {
      status: response.status ?? 200,
      headers: headers?.['graph-request-id'] ? { 'graph-request-id': headers['graph-request-id'] } : {},
      jsonBody: response.jsonBody,
    })
    .catch((error: unknown) => {
      logEvent(context, 'warn', 'idempotency answer not stored; a retry with this key will run again', {
        reason: error instanceof Error ? error.message : String(error),
      });
      return true;
    });
  if (!stored) logEvent(context, 'warn', 'idempotency key was taken over while this request ran; its answer is not stored');
  return response;
};

/**
 * After a failure: a lost Graph answer keeps the key marked (so the retry looks before it creates),
 * and so does any failure of a retry that was itself looking for a lost answer; a final answer is
 * stored for replay; otherwise the key is freed for the retry.
 */
async function settleFailure(
  context: OperationContext,
  error: unknown,
  scope: KeyScope,
  etag: string,
  store: IdempotencyStore,
): Promise<void> {
  if (error instanceof FacadeError && error.outcomeUnknown) {
    await store.markUnknown(scope, etag, context.auditKey ?? context.priorAuditKey);
    return;
  }
  if (error instanceof FacadeError && isFinal(error)) {
    const body = { error: { code: error.code, message: error.message, ...(error.details.length ? { details: error.details } : {}) } };
    await store.complete(scope, etag, { status: error.status, headers: {}, jsonBody: body });
    return;
  }
  if (context.priorOutcomeUnknown) {
    await store.markUnknown(scope, etag, context.priorAuditKey);
    return;
  }
  await store.release(scope, etag);
}
