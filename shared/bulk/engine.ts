import type { TransactionAction } from '@azure/data-tables';
import { openAttemptPrefix, type AuditIntent, type AuditKey, type OpenAttemptRow } from '../audit/auditRecord';
import { auditStoreUnavailable, type StoredAuditRecord } from '../audit/auditStore';
import { auditIntentFor, auditOutcomeOf, settlementFor, type CreatedAnswer } from '../audit/settlement';
import type { Caller } from '../auth/caller';
import { FacadeError, parseGraphError, type Correlation } from '../errors';
import { minimumAttemptMs, type GraphResponse } from '../graph/graphClient';
import { maxBatchSteps, sendBatch, type BatchOutcome } from '../graph/jsonBatch';
import { entityPathOf } from '../graph/paths';
import { backoffDelay, maxRetries, parseRetryAfter, retriableStatuses, retryAfterSeconds } from '../graph/retryPolicy';
import { chosenEntityIdOf, type BulkOperationDefinition } from '../operations/operation';
import type { Attribution, OwnAttempt, SettledRecord } from '../recovery/attribution';
import { attemptsAnsweredByCreate, reasonOf, resolveConflict } from '../recovery/conflict';
import { judgeEarlierAttempts } from '../recovery/earlierAttempts';
import { graphFailureOf } from '../recovery/graphFailure';
import { recoveryDependencies, type Runtime } from '../runtime';
import { itemRowKey, type BulkItemResult } from './bulkRecord';
import { instanceLatency } from './estimate';
import { SettlementWriter, maxTransactionActions, parallelTransactions } from './transactionWriter';

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
  etag: string;
  written: boolean;
  /** An attempt (of this run or an earlier one) may have been carried out. */
  uncertain: boolean;
  attempts: number;
  notBefore: number;
  inFlight: boolean;
  lastGraph?: GraphResponse;
  answeredBy?: Attribution;
  result?: BulkItemResult;
}

const messageCap = 300;

/** Most open attempts a bulk request reads at once (five pages). */
const maxSnapshotRows = 5_000;

/** What a caller of a bulk request sees of one item's failure. */
function itemError(error: FacadeError): BulkItemResult['error'] {
  if (error.outcomeUnknown) {
    return {
      code: 'createOutcomeUnknown',
      message: `${error.message} The add may have been carried out; a retry of the same add settles it (its 409 then says the member is there).`.slice(0, messageCap),
      httpStatus: error.status >= 500 ? error.status : 502,
    };
  }
  return { code: error.code, message: error.message.slice(0, messageCap), httpStatus: error.status };
}

/** What an item's record, settled by an earlier run, says happened to it. */
export function resultOfRecord(record: StoredAuditRecord): BulkItemResult | undefined {
  const id = record.entityId;
  if (record.status === 'succeeded') return { id, status: 'created' };
  if (record.status === 'failed' && record.httpStatus === 409) return { id, status: 'alreadyMember' };
  if (record.status === 'failed') {
    const graph = record.responseBody ? parseGraphError(safeJson(record.responseBody)) : undefined;
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

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
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

  // Which attempts at the items are open, one range read for all of them (not one per item). A
  // partition with very many open attempts is not read whole: each conflict then reads its own.
  let snapshot: Map<string, OpenAttemptRow[]> | undefined;
  try {
    const rows = await audit.openAttemptsOf(partitionKey, maxSnapshotRows);
    if (rows.length >= maxSnapshotRows) throw new Error(`more than ${maxSnapshotRows} open attempts`);
    snapshot = new Map();
    for (const row of rows) {
      const prefix = row.rowKey.slice(0, openAttemptPrefix('').length);
      snapshot.set(prefix, [...(snapshot.get(prefix) ?? []), row]);
    }
  } catch (error) {
    // Each conflict then reads what it needs itself.
    snapshot = undefined;
    input.log('warn', 'open attempts could not be listed; conflicts are looked up one by one', { reason: reasonOf(error) });
  }
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
      // Written by an earlier run that may have sent it before it stopped.
      uncertain: existing !== undefined,
      attempts: 0,
      notBefore: 0,
      inFlight: false,
    });
  }

  // A takeover of an Idempotency-Key: what the earlier requests with it made is answered, not sent again.
  for (const work of works) {
    const earlier = input.earlier.get(work.index);
    if (!earlier?.length) continue;
    const verdict = await judgeEarlierAttempts(deps, work.own, earlier);
    if (verdict.kind === 'answered') work.answeredBy = verdict.attribution;
  }

  let settledCount = results.filter(Boolean).length;
  const writer = new SettlementWriter(audit, () => new Date(clock.now()), (reason, count) =>
    input.log('error', 'audit outcomes not recorded; records left pending', { reason, records: count }),
  );

  const finish = (work: Work, how: { created?: CreatedAnswer; attribution?: Attribution; alsoSettles?: SettledRecord[]; failure?: FacadeError; alreadyMember?: boolean }) => {
    const id = String(work.body.id);
    work.result = how.created
      ? { id, status: 'created' }
      : how.alreadyMember
        ? { id, status: 'alreadyMember' }
        : { id, status: 'failed', ...(how.failure ? { error: itemError(how.failure) } : {}) };
    results[work.index] = work.result;
    settledCount += 1;
    input.onProgress?.(settledCount);
    if (!work.written) return;
    const outcome = auditOutcomeOf({
      intent: work.intent,
      created: how.created,
      failure: how.failure,
      graph: work.lastGraph,
      attribution: how.attribution,
      retries: Math.max(0, work.attempts - 1),
      completedAt: new Date(clock.now()),
    });
    writer.add(
      settlementFor({
        key: work.key,
        etag: work.etag,
        intent: work.intent,
        outcome,
        collectionPath: job.collectionPath,
        created: how.created,
        attribution: how.attribution,
        alsoSettles: how.alsoSettles,
      }),
    );
  };

  // Wakes the dispatcher when something changes (intents written, a batch answered).
  let wake: () => void = () => undefined;
  const changed = () => wake();

  // Intents, in request order, 50 items (100 actions) to a transaction, the lead actions first and
  // alone in flight (the bulk request's own record), then a couple of transactions at a time.
  let intentsDone = false;
  const toWrite = works.filter((work) => !work.written);
  const lead = input.leadActions ?? [];
  const chunks: Work[][] = [];
  for (let start = 0, room = Math.floor((maxTransactionActions - lead.length) / 2); start < toWrite.length; start += room, room = maxTransactionActions / 2) {
    chunks.push(toWrite.slice(start, start + room));
  }
  let intentFailure: unknown;
  const writeChunk = async (chunk: Work[], leading: TransactionAction[]) => {
    if (intentFailure === undefined) {
      const actions = [...leading, ...chunk.flatMap((work) => audit.intentActions(work.intent, work.key))];
      let failure: unknown;
      for (const delay of [0, 200, 800]) {
        if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
        const began = Date.now();
        try {
          const etags = await audit.submit(actions);
          instanceLatency.observeTransaction(Date.now() - began);
          for (const work of chunk) {
            work.written = true;
            work.etag = etags.get(work.key.rowKey) ?? '*';
          }
          changed();
          return;
        } catch (error) {
          failure = error;
        }
      }
      intentFailure = failure;
      if (leading.length > 0) throw auditStoreUnavailable(intentFailure);
      input.log('error', 'intents of a bulk request could not be written; their items were not sent', { reason: reasonOf(intentFailure) });
    }
    // Nothing is sent without its record: what could not be written fails, as a single create would.
    for (const work of chunk) finish(work, { failure: auditStoreUnavailable(intentFailure) });
  };
  const writingIntents = (async () => {
    const [first, ...rest] = chunks;
    if (first || lead.length > 0) await writeChunk(first ?? [], lead);
    let next = 0;
    await Promise.all(
      Array.from({ length: parallelTransactions }, async () => {
        while (next < rest.length) await writeChunk(rest[next++]!, []);
      }),
    );
  })().finally(() => {
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

  const retryOrFinish = (work: Work, delayMs: number | undefined, failure: () => FacadeError) => {
    const now = clock.now();
    const delay = delayMs ?? backoffDelay(work.attempts, graph.backoffBaseMs);
    if (work.attempts <= maxRetries && now + delay + minimumAttemptMs <= input.deadlineAt) {
      work.notBefore = now + delay;
      return;
    }
    finish(work, { failure: failure() });
  };

  const onStepAnswer = async (work: Work, response: GraphResponse) => {
    work.lastGraph = response;
    const { status } = response;
    if (status >= 200 && status < 300) {
      const others = openAttemptsOf(work)?.filter((row) => row.recordRowKey !== work.key.rowKey) ?? [];
      const alsoSettles = others.length > 0 ? await attemptsAnsweredByCreate(deps, work.own, others).catch(() => undefined) : undefined;
      finish(work, { created: { status: 201, body: response.body ?? work.body }, ...(alsoSettles ? { alsoSettles } : {}) });
      return;
    }
    if (status === 409) {
      const known = openAttemptsOf(work);
      const verdict = await resolveConflict(deps, work.own, work.uncertain, known ? Promise.resolve(known) : undefined);
      if (verdict.kind === 'ours') finish(work, { created: { status: 201, body: verdict.attribution.entity }, attribution: verdict.attribution });
      else finish(work, { alreadyMember: true, failure: graphFailureOf(item, response, verdict.kind === 'undecided', verdict.kind === 'undecided' ? verdict.reason : undefined) });
      return;
    }
    if (retriableStatuses.has(status)) {
      // A 503/504 may hide an add Graph carried out (a 429 never does).
      if (status !== 429) work.uncertain = true;
      const delay = parseRetryAfter(response.retryAfter);
      retryOrFinish(work, delay, () => {
        const wait = delay ?? backoffDelay(work.attempts, graph.backoffBaseMs);
        return graphFailureOf(item, { ...response, retryAfter: response.retryAfter ?? String(retryAfterSeconds(wait)) }, work.uncertain);
      });
      return;
    }
    finish(work, { failure: graphFailureOf(item, response, work.uncertain) });
  };

  const onLost = (work: Work, error: FacadeError, uncertain: boolean) => {
    if (uncertain) work.uncertain = true;
    retryOrFinish(work, undefined, () =>
      work.uncertain && !error.outcomeUnknown
        ? new FacadeError(error.status, error.code, error.message, {
            ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
            cause: error,
            outcomeUnknown: true,
            reason: 'an earlier attempt’s answer was lost, then the add could not be sent again',
          })
        : error,
    );
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
          await onStepAnswer(work, response).catch((error: unknown) => finish(work, { failure: error instanceof FacadeError ? error : auditStoreUnavailable(error) }));
          return;
        }
        // The batch was answered without this step: as good as lost.
        onLost(work, new FacadeError(502, 'badGateway', 'Microsoft Graph answered the batch without this step.', { retryAfterSeconds: 5 }), true);
      }),
    );
  };

  const dispatch = (batch: Work[]) => {
    inFlight += 1;
    for (const work of batch) {
      work.inFlight = true;
      work.attempts += 1;
    }
    const began = Date.now();
    const steps = batch.map((work) => ({ id: String(work.index), method: 'POST' as const, url: job.collectionPath, body: work.body }));
    const running = sendBatch(graph, version, steps, { deadlineAt: input.deadlineAt, deadlineMs: settings.graphDeadlineMs, headers })
      .then(async (outcome) => {
        if (outcome.kind === 'answered') instanceLatency.observeBatch(Date.now() - began);
        await handle(batch, outcome);
      })
      .catch((error: unknown) => {
        for (const work of batch) if (!work.result) onLost(work, error instanceof FacadeError ? error : new FacadeError(500, 'generalException', reasonOf(error)), true);
      })
      .finally(() => {
        for (const work of batch) work.inFlight = false;
        inFlight -= 1;
        changed();
      });
    batches.push(running);
  };

  const deadlineFailure = (work: Work): FacadeError => {
    if (work.lastGraph) return graphFailureOf(item, { ...work.lastGraph, retryAfter: work.lastGraph.retryAfter ?? '5' }, work.uncertain);
    if (work.uncertain) {
      return new FacadeError(504, 'gatewayTimeout', 'Microsoft Graph did not complete the add before the request’s deadline.', {
        retryAfterSeconds: 5,
        outcomeUnknown: true,
        reason: 'an attempt’s answer was lost and the deadline ran out before another could tell',
      });
    }
    return new FacadeError(503, 'deadlineExceeded', 'The request ran out of time before this add could be sent; nothing was sent. Retry later.', { retryAfterSeconds: 5 });
  };

  for (;;) {
    const now = clock.now();
    const pending = works.filter((work) => !work.result);
    const outOfTime = now + minimumAttemptMs > input.deadlineAt;
    if (stopped() || outOfTime) {
      if (input.finish && !stopped()) {
        for (const work of pending) if (!work.inFlight && (work.written || intentsDone)) finish(work, { failure: deadlineFailure(work) });
      }
      if (inFlight === 0) break;
    } else {
      // Earlier requests with the key already made these: answered from their records, not sent.
      for (const work of pending) if (work.answeredBy && work.written) finish(work, { created: { status: 201, body: work.answeredBy.entity }, attribution: work.answeredBy });
      const ready = works.filter((work) => !work.result && work.written && !work.inFlight && work.notBefore <= now);
      // Full batches while intents are still being written; the rest once they all are.
      while (inFlight < settings.bulkBatchesInFlight && (ready.length >= maxBatchSteps || (ready.length > 0 && intentsDone))) {
        dispatch(ready.splice(0, maxBatchSteps));
      }
      if (intentsDone && inFlight === 0 && works.every((work) => work.result)) break;
    }
    // Woken when a batch is answered or intents land; else when the next throttled add is due.
    const waits = works.filter((work) => !work.result && !work.inFlight && work.notBefore > now).map((work) => work.notBefore - now);
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
  if (input.finish && !stopped()) for (const work of works) if (!work.result) finish(work, { failure: deadlineFailure(work) });
  await writer.close();
  const open = works.filter((work) => !work.result);
  return { results, ...(open.length > 0 ? { nextAttemptAt: Math.min(...open.map((work) => work.notBefore)) } : {}) };
}
