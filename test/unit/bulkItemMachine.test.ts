import { describe, expect, it } from 'vitest';
import { createExternalGroupMember } from '../../functions/createExternalGroupMember';
import {
  answerKindOf,
  answerLost,
  answeredByEarlier,
  answeredConflict,
  answeredCreated,
  answeredFailure,
  answeredRetriable,
  deadlinePassed,
  earlierAttemptOpen,
  initialProgress,
  intentRefused,
  intentWritten,
  resultOf,
  sent,
  type Ending,
  type ItemProgress,
  type ItemRules,
} from '../../shared/bulk/itemMachine';
import { abandonedAfterMs, isAbandoned, jobHolderFrom } from '../../shared/bulk/job';
import { everyItemNotFound, missingParentError, parentsOf } from '../../shared/bulk/missingParent';
import type { StoredBulkEntity } from '../../shared/bulk/bulkRecord';
import { FacadeError } from '../../shared/errors';
import type { GraphResponse } from '../../shared/graph/graphClient';
import type { Attribution } from '../../shared/recovery/attribution';

/** Each transition of a bulk item's state machine (shared/bulk/itemMachine.ts) on its own, and the job's lease states. */

const member = { id: '6f1c3b1e-0000-4000-8000-000000000001', type: 'user' };
const rules: ItemRules = { operation: createExternalGroupMember, now: 1_000_000, deadlineAt: 1_060_000, backoffBaseMs: 500 };
const answer = (status: number, extra: Partial<GraphResponse> = {}): GraphResponse => ({ status, body: status === 201 ? member : { error: { code: status === 409 ? 'Conflict' : 'generalException', message: 'm' } }, requestId: 'g1', retryAfter: undefined, ...extra });
const sending = (progress: Partial<ItemProgress> = {}): ItemProgress => sent({ state: { kind: 'ready', notBefore: 0 }, uncertain: false, attempts: 0, ...progress });
const endingOf = (progress: ItemProgress): Ending => {
  if (progress.state.kind !== 'settled') throw new Error(`not settled: ${progress.state.kind}`);
  return progress.state.ending;
};
const attribution: Attribution = { entity: member, recovery: 'createConflict', settles: [] };

describe('a bulk item, state by state', () => {
  it('starts awaiting its intent, or ready and uncertain when an earlier run wrote it', () => {
    expect(initialProgress(false)).toEqual({ state: { kind: 'awaitingIntent' }, uncertain: false, attempts: 0 });
    expect(initialProgress(true)).toEqual({ state: { kind: 'ready', notBefore: 0 }, uncertain: true, attempts: 0 });
  });

  it('intentWritten: awaitingIntent → ready; anything else is left as it is', () => {
    expect(intentWritten(initialProgress(false)).state).toEqual({ kind: 'ready', notBefore: 0 });
    const inFlight = sending();
    expect(intentWritten(inFlight)).toBe(inFlight);
  });

  it('intentRefused: awaitingIntent → settled failed with the store’s 503, never sent', () => {
    const refused = intentRefused(initialProgress(false), new FacadeError(503, 'auditStoreUnavailable', 'down', { retryAfterSeconds: 10 }));
    expect(resultOf(member.id, endingOf(refused))).toEqual({ id: member.id, status: 'failed', error: { code: 'auditStoreUnavailable', message: 'down', httpStatus: 503 } });
    expect(refused.attempts).toBe(0);
  });

  it('sent: ready → sending, counting the attempt', () => {
    expect(sending()).toMatchObject({ state: { kind: 'sending' }, attempts: 1 });
  });

  it('answeredByEarlier: ready → settled created, with the earlier request’s attribution', () => {
    const ending = endingOf(answeredByEarlier(initialProgress(true), attribution));
    expect(ending).toMatchObject({ kind: 'created', attribution });
  });

  it('answeredCreated: sending → settled created, with what else its answer settles', () => {
    const ending = endingOf(answeredCreated(sending(), answer(201), member, []));
    expect(ending).toEqual({ kind: 'created', created: { status: 201, body: member }, alsoSettles: [] });
    expect(resultOf(member.id, ending)).toEqual({ id: member.id, status: 'created' });
  });

  it('answeredConflict: ours → created; another ask’s → alreadyMember; undecided → 502 createOutcomeUnknown, never alreadyMember (defect 5)', () => {
    expect(resultOf(member.id, endingOf(answeredConflict(sending(), answer(409), { kind: 'ours', attribution }, rules)))).toEqual({ id: member.id, status: 'created' });
    expect(resultOf(member.id, endingOf(answeredConflict(sending(), answer(409), { kind: 'notOurs' }, rules)))).toEqual({ id: member.id, status: 'alreadyMember' });
    const undecided = endingOf(answeredConflict(sending({ uncertain: true }), answer(409), { kind: 'undecided', reason: 'another ask is open' }, rules));
    expect(undecided).toMatchObject({ kind: 'failed', failure: { outcomeUnknown: true, status: 502, code: 'createOutcomeUnknown' } });
    expect(resultOf(member.id, undecided)).toMatchObject({ status: 'failed', error: { code: 'createOutcomeUnknown', httpStatus: 502 } });
  });

  it('resultOf never says alreadyMember for an ending whose outcome is unknown', () => {
    const unknown = new FacadeError(502, 'createOutcomeUnknown', 'may have', { outcomeUnknown: true });
    expect(resultOf(member.id, { kind: 'alreadyThere', failure: unknown }).status).toBe('failed');
  });

  it('answeredRetriable: a 429 → ready after its Retry-After, not uncertain; a 503 makes it uncertain', () => {
    const throttled = answeredRetriable(sending(), answer(429, { retryAfter: '2' }), rules);
    expect(throttled).toMatchObject({ state: { kind: 'ready', notBefore: rules.now + 2_000 }, uncertain: false });
    const unavailable = answeredRetriable(sending(), answer(503, { retryAfter: '1' }), rules);
    expect(unavailable).toMatchObject({ state: { kind: 'ready', notBefore: rules.now + 1_000 }, uncertain: true });
  });

  it('answeredRetriable: settled when no retry fits (retries spent, or past the deadline), the 503 then of unknown outcome', () => {
    const spent = answeredRetriable(sending({ attempts: 4 }), answer(503), rules);
    expect(endingOf(spent)).toMatchObject({ kind: 'failed', failure: { outcomeUnknown: true } });
    const late = answeredRetriable(sending(), answer(429, { retryAfter: '120' }), rules);
    expect(resultOf(member.id, endingOf(late))).toMatchObject({ status: 'failed', error: { httpStatus: 429 } });
  });

  it('answeredFailure: a 4xx is Graph’s answer; after a lost attempt, the outcome is unknown', () => {
    expect(resultOf(member.id, endingOf(answeredFailure(sending(), answer(400), rules)))).toMatchObject({ status: 'failed', error: { httpStatus: 400 } });
    expect(endingOf(answeredFailure(sending({ uncertain: true }), answer(400), rules))).toMatchObject({ failure: { outcomeUnknown: true, code: 'createOutcomeUnknown' } });
  });

  it('answerLost: → ready after backoff, uncertain; settled of unknown outcome once no retry fits', () => {
    const lost = new FacadeError(502, 'badGateway', 'reset', { retryAfterSeconds: 5 });
    const again = answerLost(sending(), lost, true, rules);
    expect(again.state.kind).toBe('ready');
    expect(again.uncertain).toBe(true);
    const ending = endingOf(answerLost(sending({ attempts: 4 }), lost, true, rules));
    expect(ending).toMatchObject({ kind: 'failed', failure: { outcomeUnknown: true } });
  });

  it('deadlinePassed: never sent → 503 deadlineExceeded; sent and lost → 504 of unknown outcome; sending is left alone', () => {
    expect(endingOf(deadlinePassed(initialProgress(false), rules))).toMatchObject({ failure: { status: 503, code: 'deadlineExceeded', outcomeUnknown: false } });
    expect(endingOf(deadlinePassed(initialProgress(true), rules))).toMatchObject({ failure: { status: 504, outcomeUnknown: true } });
    const inFlight = sending();
    expect(deadlinePassed(inFlight, rules)).toBe(inFlight);
  });

  it('answerKindOf routes each status to its transition', () => {
    expect([201, 409, 429, 503, 504, 400, 404, 500].map(answerKindOf)).toEqual(['created', 'conflict', 'retriable', 'retriable', 'retriable', 'failure', 'failure', 'failure']);
  });
});

describe('who holds a bulk job (defect 6)', () => {
  const row = (fields: Partial<StoredBulkEntity>) => ({ status: 'running', leaseOwner: 'run-a', leaseUntil: new Date(2_000), etag: 'e2', ...fields }) as StoredBulkEntity;
  it('ours when the row names this run, whatever the etag: a 412 after its own unconfirmed write is not a takeover', () => {
    expect(jobHolderFrom(row({}), 'run-a', 1_000)).toEqual({ kind: 'ours', etag: 'e2' });
    expect(jobHolderFrom(row({ leaseUntil: new Date(500) }), 'run-a', 1_000)).toEqual({ kind: 'ours', etag: 'e2' });
  });
  it('another run with a live lease; nobody once it ran out; finished when completed, failed or gone', () => {
    expect(jobHolderFrom(row({ leaseOwner: 'run-b' }), 'run-a', 1_000)).toEqual({ kind: 'anotherRun', leaseUntil: 2_000 });
    expect(jobHolderFrom(row({ leaseOwner: 'run-b' }), 'run-a', 3_000)).toEqual({ kind: 'nobody' });
    expect(jobHolderFrom(row({ status: 'completed' }), 'run-a', 1_000)).toEqual({ kind: 'finished' });
    expect(jobHolderFrom(row({ status: 'failed' }), 'run-a', 1_000)).toEqual({ kind: 'finished' });
    expect(jobHolderFrom(undefined, 'run-a', 1_000)).toEqual({ kind: 'finished' });
  });
});

describe('a job no run holds (the status URL queues it again)', () => {
  const at = (ms: number) => new Date(ms);
  const job = { status: 'running' as const, requestedAt: at(0), leaseUntil: at(10_000) };
  it('is abandoned once its lease ended abandonedAfterMs ago, not before', () => {
    expect(isAbandoned(job, 10_000 + abandonedAfterMs - 1)).toBe(false);
    expect(isAbandoned(job, 10_000 + abandonedAfterMs)).toBe(true);
  });
  it('an accepted job counts from its acceptance, a resumed one from its resume; a finished one never', () => {
    expect(isAbandoned({ status: 'accepted', requestedAt: at(50_000), leaseUntil: at(0) }, 50_000 + abandonedAfterMs - 1)).toBe(false);
    expect(isAbandoned({ ...job, resumedAt: at(100_000) }, 100_000 + abandonedAfterMs - 1)).toBe(false);
    expect(isAbandoned({ ...job, status: 'completed' }, 10 * abandonedAfterMs)).toBe(false);
    expect(isAbandoned({ ...job, status: 'failed' }, 10 * abandonedAfterMs)).toBe(false);
  });
});

describe('a bulk request into a missing parent (issue 18 point 1)', () => {
  const notFound = { id: 'm', status: 'failed' as const, error: { code: 'itemNotFound', message: 'x', httpStatus: 404 } };
  it('is one only when every item was refused 404', () => {
    expect(everyItemNotFound([notFound, notFound])).toBe(true);
    expect(everyItemNotFound([notFound, { id: 'n', status: 'created' }])).toBe(false);
    expect(everyItemNotFound([notFound, { ...notFound, error: { ...notFound.error, httpStatus: 502, code: 'createOutcomeUnknown' } }])).toBe(false);
    expect(everyItemNotFound([notFound, undefined])).toBe(false);
    expect(everyItemNotFound([])).toBe(false);
  });
  it('names the parents from the path, and the error names the missing one', () => {
    expect(parentsOf('/external/connections/c1/groups/g%201/members')).toEqual({ connectionId: 'c1', groupId: 'g 1' });
    expect(missingParentError({ kind: 'group', connectionId: 'c1', groupId: 'g1' })).toMatchObject({ status: 404, code: 'itemNotFound', target: 'groupId' });
    expect(missingParentError({ kind: 'connection', connectionId: 'c1' }).message).toContain("'c1'");
  });
});

describe('an earlier attempt of the same request left open', () => {
  it('makes the item uncertain, so a 409 is judged as after a lost answer; a settled item stays as it is', () => {
    const fresh = initialProgress(false);
    expect(fresh.uncertain).toBe(false);
    expect(earlierAttemptOpen(fresh)).toEqual({ ...fresh, uncertain: true });
    const done = { ...fresh, state: { kind: 'settled' as const, ending: { kind: 'failed' as const, failure: new FacadeError(400, 'invalidRequest', 'no') } } };
    expect(earlierAttemptOpen(done)).toBe(done);
  });
});
