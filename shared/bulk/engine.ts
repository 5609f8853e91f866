import type { TransactionAction } from '@azure/data-tables';
import { keptJson, openAttemptPrefix, type AuditIntent, type AuditKey, type AuditOutcome, type OpenAttemptRow } from '../audit/auditRecord';
import { auditStoreUnavailable, type StoredAuditRecord } from '../audit/auditStore';
import { auditIntentFor, auditOutcomeOf, settlementFor } from '../audit/settlement';
import type { Caller } from '../auth/caller';
import { FacadeError, parseGraphError, type Correlation } from '../errors';
import { minimumAttemptMs, type GraphResponse } from '../graph/graphClient';
import { maxBatchSteps, sendBatch, type BatchOutcome } from '../graph/jsonBatch';
import { entityPathOf } from '../graph/paths';
import { chosenEntityIdOf, type BulkOperationDefinition } from '../operations/operation';
import { isOpen, type Attribution, type OwnAttempt } from '../recovery/attribution';
import { attemptsAnsweredByCreate, reasonOf, resolveConflict } from '../recovery/conflict';
import { judgeEarlierAttempts } from '../recovery/earlierAttempts';
import { recoveryDependencies, type Runtime } from '../runtime';
import { itemRowKey, type BulkItemResult } from './bulkRecord';
import { instanceLatency } from './estimate';
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
  isSettled,
  resultOf,
  sent,
  type Ending,
  type ItemProgress,
  type ItemRules,
} from './itemMachine';
import { IntentWriter } from './intentWriter';
import { SettlementWriter } from './transactionWriter';

/**
 * Carries out the items of a bulk request: each is one create of the item operation, with the
 * same audit record, open-attempt row and lost-answer rules as a single create (shared/recovery),
 * but written and sent many at a time:
 * - intents: every item's `pending` record and open attempt, 50 to an entity group transaction,
 *   before any step that sends it; Graph gets the first batches while the later intents are written;
 * - sending: Graph JSON batches of 20 steps, at most `inFlight` batches at once; each step's own
 *   429/503/504 is sent again (in a later batch) after its own `Retry-After`, within the deadline;
 * - a step whose answer was lost (the whole batch reset, hung or answered garbage, or a 5xx that
 *   may hide an add) is sent again within this request, and its 409 then counts as this request's
 *   add when only this ask had an attempt open (`resolveConflict`): never later by reconciliation;
 * - settlements: as each item's answer is known, its record, attempt row, index row and the
 *   earlier records it settles, packed into as few transactions as fit (`SettlementWriter`).
 * Items the work does not finish (the deadline passed, the run lost its lease) are left as they
 * are; with `finish: true` what is left at the deadline is settled as a single create would be.
 * Each item's own rules are the state machine of shared/bulk/itemMachine.ts; this module drives
 * the many at once (the table, the batches, the clock) and applies each answer as a transition.
 */

export interface BulkJobIdentity {
  /** The bulk request's record. */
  key: AuditKey;
  /** Graph version and the collection each item goes to, below it (`/external/connections/c/groups/g/members`). */
  version: string;
  collectionPath: string;
  caller: Caller;
  correlation: Correlation;
  requestedAt: Date;
}

export interface EngineInput {
  runtime: Runtime;
  operation: BulkOperationDefinition;
  job: BulkJobIdentity;
  /** Every item of the request, as validated. */
  items: Record<string, unknown>[];
  /** Item records already written by an earlier run, by index. */
  existing: Map<number, StoredAuditRecord>;
  /** Records of earlier requests with the same Idempotency-Key, by item index. */
  earlier: Map<number, StoredAuditRecord[]>;
  /** Nothing is sent after this (epoch ms). */
  deadlineAt: number;
  /** Written with the first intents, in the same transaction (the bulk request's own record). */
  leadActions?: TransactionAction[];
  /** At the deadline, settle what is left (never sent: failed; maybe carried out: unknown). */
  finish: boolean;
  /** True once this run must stop sending (it lost the job to another run). */
  stopped?: () => boolean;
  onProgress?: (settled: number) => void;
  log: (level: 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>) => void;
}

export interface EngineResult {
  /** By item index; undefined for items left open. */
  results: (BulkItemResult | undefined)[];
  /** When the earliest item left open may be sent again (a throttled step). */
  nextAttemptAt?: number;
}

interface Work {
  index: number;
  body: Record<string, unknown>;
  key: AuditKey;
  intent: AuditIntent;
  own: OwnAttempt;
  /** Its record is in the table (`'maybe'`: its write failed, and may have landed all the same). */
  written: boolean | 'maybe';
  etag: string;
  progress: ItemProgress;
  /** An earlier request with the Idempotency-Key made it: answered from that record, never sent. */
  answeredBy?: Attribution;
}

const messageCap = 300;

const alreadyExistedReason = 'the member was there already, added by another request: this one added nothing';

/** Most open attempts a bulk request reads at once (five pages). */
const maxSnapshotRows = 5_000;

/** What an item's record, settled by an earlier run, says happened to it. */
export function resultOfRecord(record: StoredAuditRecord): BulkItemResult | undefined {
  const id = record.entityId;
  if (record.status === 'succeeded') return { id, status: 'created', ...(record.madeBy ? { madeBy: record.madeBy } : {}) };
  if (record.status === 'alreadyExisted' || (record.status === 'failed' && record.httpStatus === 409)) return { id, status: 'alreadyMember' };
  if (record.status === 'failed') {
    const graph = record.responseBody ? parseGraphError(keptJson(record.responseBody)) : undefined;
    return {
      id,
      status: 'failed',
      error: { code: record.errorCode ?? graph?.code ?? 'generalException', message: (graph?.message ?? 'The add failed.').slice(0, messageCap), httpStatus: record.httpStatus ?? 500 },
    };
  }
  if (record.status === 'unresolved' || record.status === 'orphaned') {
    return { id, status: 'failed', error: { code: 'createOutcomeUnknown', message: (record.reason ?? 'Whether the add took place is not known.').slice(0, messageCap), httpStatus: 502 } };
  }
  return undefined;
}


/** The record a settled item leaves: its outcome, as a single create's, and what else its answer settles. */
export function recordOutcomeOf(work: Pick<Work, 'intent' | 'progress'>, ending: Ending, completedAt: Date): AuditOutcome {
  const outcome = auditOutcomeOf({
    intent: work.intent,
    created: ending.kind === 'created' ? ending.created : undefined,
    failure: ending.kind === 'created' ? undefined : ending.failure,
    graph: work.progress.lastGraph,
    attribution: ending.kind === 'created' ? ending.attribution : undefined,
    retries: Math.max(0, work.progress.attempts - 1),
    completedAt,
  });
  // The caller is told alreadyMember, an outcome: the record agrees, and no failure query counts it.
  return ending.kind === 'alreadyThere' && outcome.status === 'failed' ? { ...outcome, status: 'alreadyExisted', reason: alreadyExistedReason } : outcome;
}

/** Reads which attempts at the items are open, in one range read (undefined: each conflict reads its own). */
async function openAttemptSnapshot(input: EngineInput, partitionKey: string): Promise<Map<string, OpenAttemptRow[]> | undefined> {
  try {
    const rows = await input.runtime.audit.openAttemptsOf(partitionKey, maxSnapshotRows);
    if (rows.length >= maxSnapshotRows) throw new Error(`more than ${maxSnapshotRows} open attempts`);
    const snapshot = new Map<string, OpenAttemptRow[]>();
    for (const row of rows) {
      const prefix = row.rowKey.slice(0, openAttemptPrefix('').length);
      snapshot.set(prefix, [...(snapshot.get(prefix) ?? []), row]);
    }
    return snapshot;
  } catch (error) {
    input.log('warn', 'open attempts could not be listed; conflicts are looked up one by one', { reason: reasonOf(error) });
    return undefined;
  }
}

export async function runBulkItems(input: EngineInput): Promise<EngineResult> {
  const { runtime, operation, job } = input;
  const { audit, clock, graph, settings } = runtime;
  const item = operation.item;
  const deps = recoveryDependencies(runtime);
  const partitionKey = item.name;
  const headers = { 'client-request-id': job.correlation.clientRequestId };
  const stopped = input.stopped ?? (() => false);
  const results: (BulkItemResult | undefined)[] = Array.from({ length: input.items.length });
  const rules = (): ItemRules => ({ operation: item, now: clock.now(), deadlineAt: input.deadlineAt, backoffBaseMs: graph.backoffBaseMs });

  // Which attempts at the items are open, one range read for all of them (not one per item). A
  // partition with very many open attempts is not read whole: each conflict then reads its own.
  const snapshot = await openAttemptSnapshot(input, partitionKey);
  const openAttemptsOf = (work: Work) => snapshot?.get(openAttemptPrefix(work.intent.entityKey)) ?? (snapshot ? [] : undefined);

  const works: Work[] = [];
  for (const [index, body] of input.items.entries()) {
    const existing = input.existing.get(index);
    if (existing) {
      const settled = existing.status === 'pending' || existing.status === 'unknown' ? undefined : resultOfRecord(existing);
      if (settled) {
        results[index] = settled;
        continue;
      }
    }
    const key = { partitionKey, rowKey: itemRowKey(job.key.rowKey, index) };
    const intent = auditIntentFor({
      operation: item,
      call: { version: job.version, path: job.collectionPath, body },
      caller: job.caller,
      correlation: job.correlation,
      requestedAt: job.requestedAt,
      deadlineAt: input.deadlineAt,
    });
    const entityId = chosenEntityIdOf(item, body) ?? '';
    works.push({
      index,
      body,
      key,
      intent,
      own: {
        operation: item,
        rowKey: key.rowKey,
        askKey: intent.askKey,
        entityKey: intent.entityKey,
        graphPath: intent.graphPath,
        body,
        entity: { id: entityId, path: entityPathOf(job.collectionPath, entityId) },
        headers,
        deadlineAt: input.deadlineAt,
      },
      etag: existing?.etag ?? '*',
      written: existing !== undefined,
      // Written by an earlier run, which may have sent it before it stopped.
      progress: initialProgress(existing !== undefined),
    });
  }

  // A takeover of an Idempotency-Key: what the earlier requests with it made is answered, not sent again.
  for (const work of works) {
    const earlier = input.earlier.get(work.index);
    if (!earlier?.length) continue;
    const verdict = await judgeEarlierAttempts(deps, work.own, earlier);
    if (verdict.kind === 'answered') work.answeredBy = verdict.attribution;
    // Sent again: a 409 is then judged knowing an earlier attempt of this ask may have made it.
    else if (earlier.some(isOpen)) work.progress = earlierAttemptOpen(work.progress);
  }

  let settledCount = results.filter(Boolean).length;
  const writer = new SettlementWriter(audit, () => new Date(clock.now()), (reason, count) =>
    input.log('error', 'audit outcomes not recorded; records left pending', { reason, records: count }),
  );

  /** Applies a transition; an item that reaches `settled` gets its result, and its record is written. */
  const move = (work: Work, next: ItemProgress) => {
    const wasSettled = isSettled(work.progress);
    work.progress = next;
    if (wasSettled || !isSettled(next)) return;
    const { ending } = next.state;
    results[work.index] = resultOf(String(work.body.id), ending);
    settledCount += 1;
    input.onProgress?.(settledCount);
    if (!work.written) return;
    writer.add(
      settlementFor({
        key: work.key,
        etag: work.etag,
        intent: work.intent,
        outcome: recordOutcomeOf(work, ending, new Date(clock.now())),
        collectionPath: job.collectionPath,
        created: ending.kind === 'created' ? ending.created : undefined,
        attribution: ending.kind === 'created' ? ending.attribution : undefined,
        alsoSettles: ending.kind === 'created' ? ending.alsoSettles : undefined,
      }),
    );
  };
  const isOpenWork = (work: Work) => !isSettled(work.progress);

  // Wakes the dispatcher when something changes (intents written, a batch answered).
  let wake: () => void = () => undefined;
  const changed = () => wake();

  // Intents first: nothing is sent without its record. The first batches go while later intents are written.
  let intentsDone = false;
  const intents = new IntentWriter<Work>(
    {
      audit,
      bulkKey: job.key,
      requestId: job.correlation.requestId,
      leadActions: input.leadActions ?? [],
      onWritten: (chunk, etags) => {
        for (const work of chunk) {
          work.written = true;
          work.etag = etags.get(work.key.rowKey) ?? '*';
          move(work, intentWritten(work.progress));
        }
        changed();
      },
      // Failed, as a single create would; a record that landed unconfirmed is settled so (nothing was sent), best effort.
      onRefused: (chunk, failure) => {
        for (const work of chunk) {
          work.written = 'maybe';
          move(work, intentRefused(work.progress, auditStoreUnavailable(failure)));
        }
      },
      log: input.log,
    },
    works.filter((work) => !work.written),
  );
  const writingIntents = intents.writeAll().finally(() => {
    intentsDone = true;
    changed();
  });
  // The lead actions (the bulk request's own record) must land before anything else happens.
  if (input.leadActions?.length) {
    await Promise.race([writingIntents, new Promise<void>((resolve) => { wake = resolve; })]);
  }

  const version = job.version;
  let inFlight = 0;
  const batches: Promise<void>[] = [];

  /** A step's answer: the transition it takes (a 409 judged by the lost-answer rules first). */
  const onStepAnswer = async (work: Work, response: GraphResponse) => {
    switch (answerKindOf(response.status)) {
      case 'created': {
        const others = openAttemptsOf(work)?.filter((row) => row.recordRowKey !== work.key.rowKey) ?? [];
        const alsoSettles = others.length > 0 ? await attemptsAnsweredByCreate(deps, work.own, others).catch(() => undefined) : undefined;
        move(work, answeredCreated(work.progress, response, work.body, alsoSettles));
        return;
      }
      case 'conflict': {
        const known = openAttemptsOf(work);
        const verdict = await resolveConflict(deps, work.own, work.progress.uncertain, known ? Promise.resolve(known) : undefined);
        move(work, answeredConflict(work.progress, response, verdict, rules()));
        return;
      }
      case 'retriable':
        move(work, answeredRetriable(work.progress, response, rules()));
        return;
      case 'failure':
        move(work, answeredFailure(work.progress, response, rules()));
    }
  };

  const onLost = (work: Work, error: FacadeError, uncertain: boolean) => {
    if (work.progress.state.kind === 'sending') move(work, answerLost(work.progress, error, uncertain, rules()));
  };

  const handle = async (batch: Work[], outcome: BatchOutcome) => {
    if (outcome.kind === 'lost') {
      for (const work of batch) onLost(work, outcome.error, outcome.uncertain);
      return;
    }
    if (outcome.kind === 'refused') {
      await Promise.all(batch.map((work) => onStepAnswer(work, outcome.envelope)));
      return;
    }
    await Promise.all(
      batch.map(async (work) => {
        const response = outcome.steps.get(String(work.index));
        if (response) {
          await onStepAnswer(work, response).catch((error: unknown) =>
            move(work, { ...work.progress, state: { kind: 'settled', ending: { kind: 'failed', failure: error instanceof FacadeError ? error : auditStoreUnavailable(error) } } }),
          );
          return;
        }
        // The batch was answered without this step: as good as lost.
        onLost(work, new FacadeError(502, 'badGateway', 'Microsoft Graph answered the batch without this step.', { retryAfterSeconds: 5 }), true);
      }),
    );
  };

  const dispatch = (batch: Work[]) => {
    inFlight += 1;
    for (const work of batch) move(work, sent(work.progress));
    const began = Date.now();
    const steps = batch.map((work) => ({ id: String(work.index), method: 'POST' as const, url: job.collectionPath, body: work.body }));
    const running = sendBatch(graph, version, steps, { deadlineAt: input.deadlineAt, deadlineMs: settings.graphDeadlineMs, headers })
      .then(async (outcome) => {
        if (outcome.kind === 'answered') instanceLatency.observeBatch(Date.now() - began);
        await handle(batch, outcome);
      })
      .catch((error: unknown) => {
        for (const work of batch) onLost(work, error instanceof FacadeError ? error : new FacadeError(500, 'generalException', reasonOf(error)), true);
      })
      .finally(() => {
        inFlight -= 1;
        changed();
      });
    batches.push(running);
  };

  const readyAt = (work: Work) => (work.progress.state.kind === 'ready' ? work.progress.state.notBefore : undefined);

  for (;;) {
    const now = clock.now();
    const outOfTime = now + minimumAttemptMs > input.deadlineAt;
    if (stopped() || outOfTime) {
      if (input.finish && !stopped()) {
        for (const work of works) if (work.progress.state.kind === 'ready' || (intentsDone && work.progress.state.kind === 'awaitingIntent')) move(work, deadlinePassed(work.progress, rules()));
      }
      if (inFlight === 0) break;
    } else {
      // Earlier requests with the key already made these: answered from their records, not sent.
      for (const work of works) if (work.answeredBy && work.progress.state.kind === 'ready') move(work, answeredByEarlier(work.progress, work.answeredBy));
      const ready = works.filter((work) => (readyAt(work) ?? Infinity) <= now);
      // Full batches while intents are still being written; the rest once they all are.
      while (inFlight < settings.bulkBatchesInFlight && (ready.length >= maxBatchSteps || (ready.length > 0 && intentsDone))) {
        dispatch(ready.splice(0, maxBatchSteps));
      }
      if (intentsDone && inFlight === 0 && !works.some(isOpenWork)) break;
    }
    // Woken when a batch is answered or intents land; else when the next throttled add is due.
    const waits = works.map(readyAt).filter((at): at is number => at !== undefined && at > now).map((at) => at - now);
    const timeout = outOfTime || stopped() ? 1_000 : Math.max(1, Math.min(input.deadlineAt - minimumAttemptMs - now + 1, ...waits, 1_000));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeout);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  await Promise.allSettled(batches);
  await writingIntents.catch(() => undefined);
  if (input.finish && !stopped()) for (const work of works) move(work, deadlinePassed(work.progress, rules()));
  await writer.close();
  const open = works.filter(isOpenWork);
  return { results, ...(open.length > 0 ? { nextAttemptAt: Math.min(...open.map((work) => readyAt(work) ?? 0)) } : {}) };
}
