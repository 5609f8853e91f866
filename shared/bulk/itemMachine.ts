import type { CreatedAnswer } from '../audit/settlement';
import { FacadeError } from '../errors';
import { minimumAttemptMs, type GraphResponse } from '../graph/graphClient';
import { backoffDelay, maxRetries, parseRetryAfter, retriableStatuses, retryAfterSeconds } from '../graph/retryPolicy';
import type { OperationDefinition } from '../operations/operation';
import type { Attribution, SettledRecord } from '../recovery/attribution';
import type { ConflictVerdict } from '../recovery/conflict';
import { askInFlightFailure, graphFailureOf } from '../recovery/graphFailure';
import type { BulkItemResult } from './bulkRecord';

/**
 * One item of a bulk request as an explicit state machine: the same rules as a single create
 * (shared/recovery decides who made an entity after a 409; graphFailureOf what a failure means),
 * each step a short pure transition the engine (shared/bulk/engine.ts) applies as answers come.
 *
 *     awaitingIntent -> ready          intentWritten
 *     awaitingIntent -> settled        intentRefused
 *     ready          -> sending        sent
 *     ready          -> settled        answeredByEarlier, deadlinePassed
 *     sending        -> settled        answeredCreated, answeredConflict, answeredFailure
 *     sending        -> ready|settled  answeredRetriable, answerLost (sent again later, if that fits)
 *
 * - `awaitingIntent`: its `pending` record is not written yet: nothing may be sent;
 * - `ready`: written, to be sent at or after `notBefore`;
 * - `sending`: in a Graph batch whose answer has not come;
 * - `settled`: its ending is known; it is the result the caller gets and what its record says.
 * Beside the state, `uncertain` says an attempt (this run's or an earlier run's) may have been
 * carried out without its answer reaching us: from then on no failure is reported as "nothing
 * made", and a 409 is judged by `resolveConflict`, exactly as for a single create.
 */

/** How an item ended. */
export type Ending =
  /** This request made it (Graph's 201, or a 409 recovery attributed to this ask). */
  | { kind: 'created'; created: CreatedAnswer; attribution?: Attribution; alsoSettles?: SettledRecord[] }
  /** Graph's 409, and another ask made it: the caller is told alreadyMember; the record says alreadyExisted. */
  | { kind: 'alreadyThere'; failure: FacadeError }
  /** Not added, or not known to be (`failure.outcomeUnknown`: the record stays unknown). */
  | { kind: 'failed'; failure: FacadeError };

export type ItemState =
  | { kind: 'awaitingIntent' }
  | { kind: 'ready'; notBefore: number }
  | { kind: 'sending' }
  | { kind: 'settled'; ending: Ending };

export interface ItemProgress {
  state: ItemState;
  /** An attempt may have been carried out although its answer was lost (or was a 5xx). */
  uncertain: boolean;
  /** Sends so far, in this run. */
  attempts: number;
  /** Graph's last answer to this item, for its record. */
  lastGraph?: GraphResponse;
}

/** What the transitions need to know of the request. */
export interface ItemRules {
  /** The create each item is (members: createExternalGroupMember). */
  operation: OperationDefinition;
  now: number;
  /** Nothing is sent after this. */
  deadlineAt: number;
  backoffBaseMs: number;
}

/** A new item: written already (an earlier run wrote it, and may have sent it) or not. */
export function initialProgress(writtenByEarlierRun: boolean): ItemProgress {
  return writtenByEarlierRun ? { state: { kind: 'ready', notBefore: 0 }, uncertain: true, attempts: 0 } : { state: { kind: 'awaitingIntent' }, uncertain: false, attempts: 0 };
}

const settled = (progress: ItemProgress, ending: Ending): ItemProgress => ({ ...progress, state: { kind: 'settled', ending } });

export const isSettled = (progress: ItemProgress): progress is ItemProgress & { state: { kind: 'settled' } } => progress.state.kind === 'settled';

/**
 * An earlier request with the Idempotency-Key (or an earlier run of the same apply) left this item's
 * add open, its answer lost: it may have been carried out, so from now on the item is uncertain.
 */
export function earlierAttemptOpen(progress: ItemProgress): ItemProgress {
  return isSettled(progress) ? progress : { ...progress, uncertain: true };
}

/** awaitingIntent → ready: its record is in the table, so it may be sent. */
export function intentWritten(progress: ItemProgress): ItemProgress {
  if (progress.state.kind !== 'awaitingIntent') return progress;
  return { ...progress, state: { kind: 'ready', notBefore: 0 } };
}

/** awaitingIntent → settled: its record could not be written, so it is never sent (a single create's 503). */
export function intentRefused(progress: ItemProgress, failure: FacadeError): ItemProgress {
  if (progress.state.kind !== 'awaitingIntent') return progress;
  return settled(progress, { kind: 'failed', failure });
}

/** ready → sending. */
export function sent(progress: ItemProgress): ItemProgress {
  return { ...progress, state: { kind: 'sending' }, attempts: progress.attempts + 1 };
}

/** ready → settled: an earlier request with the Idempotency-Key made it; answered, never sent. */
export function answeredByEarlier(progress: ItemProgress, attribution: Attribution): ItemProgress {
  return settled(progress, { kind: 'created', created: { status: 201, body: attribution.entity }, attribution });
}

/** sending → settled: Graph created it for this very step. */
export function answeredCreated(progress: ItemProgress, response: GraphResponse, sentBody: Record<string, unknown>, alsoSettles?: SettledRecord[]): ItemProgress {
  return settled(
    { ...progress, lastGraph: response },
    { kind: 'created', created: { status: 201, body: response.body ?? sentBody }, ...(alsoSettles ? { alsoSettles } : {}) },
  );
}

/**
 * sending → settled, after Graph's 409 and `resolveConflict`'s verdict: ours → created; another
 * ask's → alreadyThere; undecided (this request's own lost attempt may have made it, another ask's
 * attempt may have as well) → failed with the outcome unknown, as the single add answers it.
 */
export function answeredConflict(progress: ItemProgress, response: GraphResponse, verdict: ConflictVerdict, rules: Pick<ItemRules, 'operation'>): ItemProgress {
  const answered = { ...progress, lastGraph: response };
  if (verdict.kind === 'ours') return settled(answered, { kind: 'created', created: { status: 201, body: verdict.attribution.entity }, attribution: verdict.attribution });
  if (verdict.kind === 'undecided') return settled(answered, { kind: 'failed', failure: graphFailureOf(rules.operation, response, true, verdict.reason) });
  if (verdict.kind === 'inFlight') return settled(answered, { kind: 'failed', failure: askInFlightFailure(response, verdict) });
  return settled(answered, { kind: 'alreadyThere', failure: graphFailureOf(rules.operation, response, false) });
}

/** Whether one more send fits: retries left, and its answer can come before the deadline. */
function mayRetry(progress: ItemProgress, delayMs: number, rules: ItemRules): boolean {
  return progress.attempts <= maxRetries && rules.now + delayMs + minimumAttemptMs <= rules.deadlineAt;
}

/**
 * sending → ready (after Graph's `Retry-After`, or backoff) or settled when no retry fits: a 429,
 * 503 or 504 step. A 503/504 may hide an add Graph carried out (a 429 never does).
 */
export function answeredRetriable(progress: ItemProgress, response: GraphResponse, rules: ItemRules): ItemProgress {
  const answered: ItemProgress = { ...progress, lastGraph: response, uncertain: progress.uncertain || response.status !== 429 };
  const given = parseRetryAfter(response.retryAfter);
  const delay = given ?? backoffDelay(answered.attempts, rules.backoffBaseMs);
  if (mayRetry(answered, delay, rules)) return { ...answered, state: { kind: 'ready', notBefore: rules.now + delay } };
  const failure = graphFailureOf(rules.operation, { ...response, retryAfter: response.retryAfter ?? String(retryAfterSeconds(delay)) }, answered.uncertain);
  return settled(answered, { kind: 'failed', failure });
}

/** sending → settled: any other answer of Graph's (a 4xx, a 5xx it does not ask to retry). */
export function answeredFailure(progress: ItemProgress, response: GraphResponse, rules: Pick<ItemRules, 'operation'>): ItemProgress {
  return settled({ ...progress, lastGraph: response }, { kind: 'failed', failure: graphFailureOf(rules.operation, response, progress.uncertain) });
}

/** Which transition a step's answer takes (a 409 goes through `resolveConflict` first, in the engine). */
export function answerKindOf(status: number): 'created' | 'conflict' | 'retriable' | 'failure' {
  if (status >= 200 && status < 300) return 'created';
  if (status === 409) return 'conflict';
  return retriableStatuses.has(status) ? 'retriable' : 'failure';
}

/**
 * sending → ready (sent again within this request, after backoff) or settled: the step's answer
 * was lost (the batch reset, hung, answered garbage, or left the step out). `uncertain`: the add
 * may have been carried out.
 */
export function answerLost(progress: ItemProgress, error: FacadeError, uncertain: boolean, rules: ItemRules): ItemProgress {
  const lost: ItemProgress = { ...progress, uncertain: progress.uncertain || uncertain };
  const delay = backoffDelay(lost.attempts, rules.backoffBaseMs);
  if (mayRetry(lost, delay, rules)) return { ...lost, state: { kind: 'ready', notBefore: rules.now + delay } };
  const failure =
    lost.uncertain && !error.outcomeUnknown
      ? new FacadeError(error.status, error.code, error.message, {
          ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
          cause: error,
          outcomeUnknown: true,
          reason: 'an earlier attempt’s answer was lost, then the add could not be sent again',
        })
      : error;
  return settled(lost, { kind: 'failed', failure });
}

/** awaitingIntent/ready → settled: the deadline came first; said as a single create would. */
export function deadlinePassed(progress: ItemProgress, rules: Pick<ItemRules, 'operation'>): ItemProgress {
  if (progress.state.kind === 'settled' || progress.state.kind === 'sending') return progress;
  return settled(progress, { kind: 'failed', failure: deadlineFailure(progress, rules) });
}

function deadlineFailure(progress: ItemProgress, rules: Pick<ItemRules, 'operation'>): FacadeError {
  if (progress.lastGraph) return graphFailureOf(rules.operation, { ...progress.lastGraph, retryAfter: progress.lastGraph.retryAfter ?? '5' }, progress.uncertain);
  if (progress.uncertain) {
    return new FacadeError(504, 'gatewayTimeout', 'Microsoft Graph did not complete the add before the request’s deadline.', {
      retryAfterSeconds: 5,
      outcomeUnknown: true,
      reason: 'an attempt’s answer was lost and the deadline ran out before another could tell',
    });
  }
  return new FacadeError(503, 'deadlineExceeded', 'The request ran out of time before this add could be sent; nothing was sent. Retry later.', { retryAfterSeconds: 5 });
}

const messageCap = 300;

/** What a caller of a bulk request sees of one item's failure. */
export function itemError(error: FacadeError): NonNullable<BulkItemResult['error']> {
  if (error.outcomeUnknown) {
    return {
      code: 'createOutcomeUnknown',
      message: `${error.message} The add may have been carried out; a retry of the same add settles it (its 409 then says the member is there).`.slice(0, messageCap),
      httpStatus: error.status >= 500 ? error.status : 502,
    };
  }
  return { code: error.code, message: error.message.slice(0, messageCap), httpStatus: error.status };
}

/**
 * The result the caller gets for an ending: what the single add would have answered. Never
 * `created` or `alreadyMember` while the outcome is unknown (the record then says `unknown`).
 */
export function resultOf(id: string, ending: Ending): BulkItemResult {
  if (ending.kind === 'created') return { id, status: 'created', ...(ending.attribution?.madeBy ? { madeBy: ending.attribution.madeBy } : {}) };
  if (ending.kind === 'alreadyThere' && !ending.failure.outcomeUnknown) return { id, status: 'alreadyMember' };
  return { id, status: 'failed', error: itemError(ending.failure) };
}
