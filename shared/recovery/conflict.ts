import { indexedSpellingOf, spelledAlike, type OpenAttemptRow } from '../audit/auditRecord';
import type { StoredAuditRecord } from '../audit/auditStore';
import { readBackOf } from '../operations/operation';
import { isOpen, mayHaveMadeIt, oldestFirst, sentBodyOf, type Attribution, type OwnAttempt, type RecoveryDependencies, type SettledRecord } from './attribution';
import { readEntity, type Read } from './graphReads';
import { comparedWithSent } from './sameEntity';

/**
 * After Graph answers a create with 409 (the entity exists): did this ask make it? Only if an
 * attempt of this very ask — this request's own earlier try, or an earlier request of the same
 * caller for the same path and body — may have made it and nobody else can have:
 * - the entity index names a request of another ask as its maker → not ours (a request of this
 *   very ask → ours, answered with the entity that request made);
 * - no attempt of this ask is open → not ours (the 409 is Graph's answer, passed on);
 * - the entity, read back, does not hold what this ask sent → not ours;
 * - this request's own attempts made nothing, and every open attempt of the ask is still waiting for
 *   Graph's answer → in flight: its answer will tell (the entity may equally have been made outside
 *   the facade), so this request made nothing and the caller retries later;
 * - another ask has an open attempt the entity could equally come from → undecided;
 * - otherwise ours: the oldest open attempt of the ask whose answer was lost made it, and this
 *   answer settles those.
 * Graph without a read of one entity (group members) cannot tell a body apart: there, any open
 * attempt of another ask leaves it undecided.
 */
export type ConflictVerdict =
  | { kind: 'ours'; attribution: Attribution }
  | { kind: 'notOurs' }
  /** The 409 stands, but this request's own lost attempt may have made the entity. */
  | { kind: 'undecided'; reason: string }
  /** This request made nothing; another request of the ask, still waiting for Graph, may have. */
  | { kind: 'inFlight'; reason: string; retryAfterSeconds: number };

export async function resolveConflict(
  deps: RecoveryDependencies,
  own: OwnAttempt,
  ownAttemptUncertain: boolean,
  /** The open attempts at the entity, when already read (a bulk request reads them while it sends). */
  known?: Promise<OpenAttemptRow[] | undefined>,
): Promise<ConflictVerdict> {
  const { audit, clock } = deps;
  const { operation } = own;
  const undecided = (reason: string): ConflictVerdict => (ownAttemptUncertain ? { kind: 'undecided', reason } : { kind: 'notOurs' });
  // Where an attempt of this ask may have made it (this request's, or an open earlier one of the
  // ask's), or the audit table cannot say whether one is open: what cannot be told is undecided,
  // never another's 409 (a keyed or plain retry's, as a lost answer's).
  const undecidedForAsk = (reason: string): ConflictVerdict => ({ kind: 'undecided', reason });
  if (!own.entity) return { kind: 'notOurs' };

  // An attempt of the ask counts as this request's earlier one within the retention; an older one
  // that is still open may have made the entity all the same, so it is treated as another's.
  const now = clock.now();
  const counts = (attempt: OpenAttemptRow) => attempt.recordRowKey !== own.rowKey && attempt.askKey === own.askKey && new Date(attempt.expiresAt).getTime() > now;
  // Open attempts read before (or while) this request sent may miss an attempt of the same ask that
  // started since. That only makes a 409 this request's own answer stand, which is safe; but when
  // this request's own attempt may have made the entity, who else could have is read now.
  const given = known && !ownAttemptUncertain ? await known : undefined;
  // Nothing of this ask was open, and this request's own attempt was answered: Graph's 409 stands
  // (no read needed; a batch of adds answered 409 costs no table call).
  if (given && !given.some(counts)) return { kind: 'notOurs' };

  let attempts: OpenAttemptRow[];
  let indexed: StoredAuditRecord | undefined;
  try {
    // Who else may have made it, then who is known to have: in this order, never at once. A
    // settlement writes the index row before it closes its attempt, so one that lands between the
    // two reads shows in one or the other. Read at once, the index could be answered before another
    // request's settlement landed and the open attempts after: then neither showed it, and this
    // request took the entity for its own.
    // (Otherwise read after the 409, never before: an attempt recorded later was sent after the entity existed.)
    const open = given ?? (await audit.openAttempts(operation.name, own.entityKey));
    const index = await audit.indexOf(operation.name, own.entity.path);
    if (index && !spelledAlike(index, own.entity.path)) {
      // Another spelling of the id: the same entity if Graph folds letter case, another if not.
      return undecided(
        `request ${index.auditRowKey} made ${indexedSpellingOf(index)}, whose path differs from ${own.entity.path} in letter case only; whether Microsoft Graph counts them as one entity is not documented`,
      );
    }
    if (index && index.auditRowKey !== own.rowKey) {
      // The index names the maker: another request of this ask (then the ask made it), or not ours.
      indexed = await audit.get({ partitionKey: operation.name, rowKey: index.auditRowKey });
      if (indexed?.askKey !== own.askKey) return { kind: 'notOurs' };
    }
    attempts = open.filter((attempt) => attempt.recordRowKey !== own.rowKey);
  } catch (error) {
    return undecidedForAsk(`the audit table could not be read to tell who made the entity: ${reasonOf(error)}`);
  }

  const sameAsk = attempts.filter(counts);
  const earlierKeys = new Set(sameAsk.map((attempt) => attempt.recordRowKey));
  if (!ownAttemptUncertain && sameAsk.length === 0) return { kind: 'notOurs' };
  let earlier: StoredAuditRecord[];
  let rivals: StoredAuditRecord[];
  try {
    const records = (await Promise.all(attempts.map((attempt) => audit.get({ partitionKey: operation.name, rowKey: attempt.recordRowKey })))).filter(
      (record): record is StoredAuditRecord => record !== undefined,
    );
    // An attempt settled since its row was read as open, as having made the entity, names the maker as the index would.
    indexed ??= records.find((record) => record.status === 'succeeded' || record.status === 'orphaned');
    if (indexed && indexed.askKey !== own.askKey) return { kind: 'notOurs' };
    const undecided = records.filter(mayHaveMadeIt);
    earlier = undecided.filter((record) => earlierKeys.has(record.rowKey) && isOpen(record));
    rivals = undecided.filter((record) => !earlier.includes(record));
  } catch (error) {
    return undecidedForAsk(`the earlier attempts could not be read: ${reasonOf(error)}`);
  }
  if (indexed) {
    // Another request of this ask is known to have made it: this retry of the ask succeeds with it.
    return { kind: 'ours', attribution: { entity: entityAnsweredTo(indexed) ?? own.body, recovery: 'earlierAttempt', madeBy: indexed.madeBy ?? indexed.rowKey, settles: [] } };
  }
  if (!ownAttemptUncertain && earlier.length === 0) return { kind: 'notOurs' };
  // From here an attempt of this ask may have made it: what cannot be told is undecided.

  const readBack = readBackOf(operation);
  let read: Read | undefined;
  if (readBack) {
    try {
      read = await readEntity(deps.graph, own.graphPath, own.entity.id, own.deadlineAt, {
        ...(readBack.version ? { version: readBack.version } : {}),
        headers: own.headers,
      });
    } catch (error) {
      return undecidedForAsk(`Microsoft Graph says the entity exists, but it could not be read back: ${reasonOf(error)}`);
    }
    // Graph said it exists, the read says it does not (just deleted, or not readable yet): nobody can tell.
    if (!read.found) return undecidedForAsk('Microsoft Graph says the entity exists, but reading it back found nothing');
    const held = comparedWithSent(own.body, read.entity);
    if (held === 'not') return { kind: 'notOurs' };
    if (held === 'possibly') return undecidedForAsk('the entity read back holds what this request sent only with letter case apart; whether Microsoft Graph counts the two spellings as one is not documented');
    const found = read.entity;
    rivals = rivals.filter((rival) => {
      const sent = sentBodyOf(rival);
      return sent === undefined || comparedWithSent(sent, found) !== 'not';
    });
  }
  if (!ownAttemptUncertain) {
    // Only another request of the ask may have made it. One still waiting for Graph's answer to its
    // own create is answered soon, and that answer tells; taking the entity now could claim one made
    // outside the facade for an ask that made nothing. Only attempts whose answer was lost stay.
    const answering = earlier.filter((record) => stillAnswering(record, clock.now()));
    if (answering.length === earlier.length) return inFlight(answering, clock.now());
    earlier = earlier.filter((record) => !answering.includes(record));
  }
  if (rivals.length > 0) {
    return undecidedForAsk(
      `another request for the same entity (${rivals.map((rival) => rival.rowKey).join(', ')}) may have made it just as well; which one did cannot be told`,
    );
  }

  // An earlier request of the ask sent before this one did: the oldest is taken for the maker.
  const maker = oldestFirst(earlier)[0]?.rowKey ?? own.rowKey;
  const entityId = own.entity.id;
  return {
    kind: 'ours',
    attribution: {
      entity: read?.found ? read.entity : own.body,
      graphRequestId: read?.found ? read.requestId : undefined,
      recovery: maker !== own.rowKey ? 'earlierAttempt' : readBack ? 'readBack' : 'createConflict',
      ...(maker !== own.rowKey ? { madeBy: maker } : {}),
      settles: earlier.map((record) => ({
        record,
        outcome: {
          status: 'succeeded',
          entityId,
          recovery: 'laterRequest',
          reason: 'a later request of the same ask found the entity it asked for',
          ...(record.rowKey === maker ? {} : { madeBy: maker }),
        },
      })),
    },
  };
}

/** A record still pending before its request's deadline: that request is waiting for Graph's answer (one past it died, or lost it). */
const stillAnswering = (record: StoredAuditRecord, now: number) => record.status === 'pending' && new Date(record.deadlineAt).getTime() > now;

function inFlight(answering: readonly StoredAuditRecord[], now: number): ConflictVerdict {
  const lastDeadline = Math.max(...answering.map((record) => new Date(record.deadlineAt).getTime()));
  return {
    kind: 'inFlight',
    reason: `Microsoft Graph answered 409, and another request of the same ask (${answering.map((record) => record.rowKey).join(', ')}) is still waiting for Graph's answer to its create: which made the entity is known once it is answered`,
    retryAfterSeconds: Math.max(1, Math.ceil((lastDeadline - now) / 1000) + 1),
  };
}

/**
 * Graph created the entity for this request (its own answer says so): no earlier attempt at it
 * made anything, whoever sent it. Where Graph has no read of one entity (members), this is how
 * they are settled — reconciliation cannot find it out.
 */
export async function attemptsAnsweredByCreate(deps: RecoveryDependencies, own: OwnAttempt, attempts: readonly OpenAttemptRow[]): Promise<SettledRecord[]> {
  const others = attempts.filter((attempt) => attempt.recordRowKey !== own.rowKey);
  const records = await Promise.all(others.map((attempt) => deps.audit.get({ partitionKey: own.operation.name, rowKey: attempt.recordRowKey })));
  return records
    .filter((record): record is StoredAuditRecord => record !== undefined && mayHaveMadeIt(record))
    .map((record) => ({
      record,
      outcome: {
        status: 'failed',
        errorCode: 'notCreated',
        recovery: 'laterRequest',
        reason: `a later request (${own.rowKey}) created the entity, so this one made nothing`,
      },
    }));
}

/** The entity a record's request was answered with, when it holds one (not an error, not cut). */
export function entityAnsweredTo(record: Pick<StoredAuditRecord, 'responseBody' | 'responseBodyTruncated'>): Record<string, unknown> | undefined {
  if (!record.responseBody || record.responseBodyTruncated) return undefined;
  const body = sentBodyOf({ requestBody: record.responseBody, requestBodyTruncated: false });
  return typeof body?.id === 'string' ? body : undefined;
}

export const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 300);
