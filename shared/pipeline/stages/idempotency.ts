import type { HttpResponseInit } from '@azure/functions';
import { recordRowKey } from '../../audit/auditRecord';
import type { Settings } from '../../config';
import { FacadeError, badRequest, serviceUnavailable, type GraphErrorDetail } from '../../errors';
import { fingerprintOf, type Claim, type KeyScope, type StoredAnswer } from '../../idempotency/idempotencyStore';
import { logEvent } from '../../telemetry/requestLog';
import { requireCaller, requireInput, type AnyContext, type IdempotencyClaim, type Stage } from '../context';

const keyRule = /^[\x20-\x7e]{1,255}$/;

/**
 * How long a request holds its key: past its Graph deadline (after which it sends nothing) and
 * the audit writes that may follow, each with its retries. A request that takes the key over
 * after that knows the first one will not send again.
 */
export function leaseMs(settings: Pick<Settings, 'graphDeadlineMs' | 'auditTableTimeoutMs'>, deadlineMs = settings.graphDeadlineMs): number {
  return deadlineMs + 3 * settings.auditTableTimeoutMs + 2_000;
}

/** Answers that are final for this body: the same request would get them again. */
export function isFinal(error: FacadeError): boolean {
  return !error.outcomeUnknown && error.status < 500 && error.status !== 408 && error.status !== 429;
}

/** Headers of a success that a replay repeats: Graph's request id; where an accepted request's status is (202). */
const replayedHeaders = ['graph-request-id', 'location', 'retry-after', 'preference-applied'];

/** What a later request with the key is answered: the 2xx, or the final error (Graph-shaped). */
export function storedAnswerOf(response: HttpResponseInit | undefined, failure: unknown): StoredAnswer | undefined {
  if (response) {
    const headers = response.headers as Record<string, string> | undefined;
    return {
      status: response.status ?? 200,
      headers: Object.fromEntries(replayedHeaders.flatMap((name) => (headers?.[name] ? [[name, headers[name]]] : []))),
      jsonBody: response.jsonBody,
    };
  }
  if (failure instanceof FacadeError && isFinal(failure)) {
    const body = { error: { code: failure.code, message: failure.message, ...(failure.details.length ? { details: failure.details } : {}) } };
    // Its Retry-After goes with it: the store tells a retry-later answer by it, and keeps none.
    const retryAfter = failure.retryAfterSeconds !== undefined ? String(failure.retryAfterSeconds) : failure.headers['retry-after'];
    return { status: failure.status, headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter }, jsonBody: body };
  }
  return undefined;
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
 * is still running, a 409 with `Retry-After`. A request that takes a key over inherits the earlier
 * requests' attempts, which it must account for before it creates anything (shared/recovery). Runs
 * after validation, so invalid input stores nothing. The request's own settlement stores the key's
 * answer with its audit record (auditTrail); this stage settles the key only when that did not.
 */
export const idempotency: Stage<AnyContext> = async (context, next) => {
  const key = context.request.headers.get('idempotency-key');
  if (key === null) return next();
  if (!keyRule.test(key)) {
    throw badRequest('The Idempotency-Key header must be 1 to 255 printable ASCII characters.', [
      { code: 'invalidValue', message: 'Idempotency-Key must be 1 to 255 printable ASCII characters', target: 'Idempotency-Key' },
    ]);
  }
  const { idempotency: store, settings, clock } = context.runtime;
  const scope: KeyScope = { operation: context.operation.name, callerId: requireCaller(context).id, key };
  const input = requireInput(context);
  let claim: Claim;
  try {
    claim = await store.claim(
      scope,
      fingerprintOf({ params: input.params, body: input.body }),
      leaseMs(settings, context.deadlineMs),
      new Date(clock.now()),
      recordRowKey(context.receivedAt, context.correlation.requestId),
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
    case 'exhausted':
      throw new FacadeError(
        409,
        'idempotencyKeyExhausted',
        `This Idempotency-Key has already been tried ${claim.attempts} times, the most one key accounts for; the earlier attempts are still accounted for (see their audit records), and nothing was sent. The key can be used again once its retention ends.`,
        { retryAfterSeconds: claim.retryAfterSeconds },
      );
    case 'claimed':
  }
  const held: IdempotencyClaim = { scope, etag: claim.etag, earlierAttempts: claim.earlierAttempts, settled: false };
  context.idempotencyClaim = held;

  let response: HttpResponseInit | undefined;
  let failure: unknown;
  try {
    response = await next();
  } catch (error) {
    failure = error;
  }
  if (!held.settled) {
    const answer = storedAnswerOf(response, failure);
    const settled = answer ? store.complete(scope, held.etag, answer) : store.release(scope, held.etag);
    await settled.catch((error: unknown) =>
      logEvent(context, 'warn', 'idempotency key not settled; it frees itself when its lease ends', {
        reason: error instanceof Error ? error.message : String(error),
      }),
    );
  }
  if (response) return response;
  throw failure;
};
