import { recordRowKey, type AuditEntity, type AuditKey } from '../audit/auditRecord';
import { auditStoreUnavailable, type StoredAuditRecord } from '../audit/auditStore';
import type { AuthenticatedCaller, Caller } from '../auth/caller';
import { FacadeError, serviceUnavailable, type Correlation } from '../errors';
import type { BulkOperationDefinition } from '../operations/operation';
import { reasonOf } from '../recovery/conflict';
import type { Runtime } from '../runtime';
import { asyncWorkQueueName } from '../storage/queue';
import { isStatus } from '../storage/table';
import { jobHolderOf, leaveJob as leaveLeasedJob, requeueJob, resumeIfAbandoned as resumeAbandonedJob } from '../storage/jobLease';
export { abandonedAfterMs, isAbandoned, jobHolderFrom, type JobHolder } from '../storage/jobLease';
import {
  fromChunks,
  itemIndexOf,
  itemRange,
  tally,
  toChunks,
  type BulkEntity,
  type BulkItemResult,
  type BulkResults,
  type StoredBulkEntity,
} from './bulkRecord';
import { runBulkItems, type BulkJobIdentity } from './engine';
import { everyItemNotFound, findMissingParent, missingParentError } from './missingParent';
import { instanceLatency } from './estimate';

/**
 * A bulk request as a job: answered at once (200 with the results) when it is expected to finish
 * within `BULK_ASYNC_AFTER_SECONDS`, else (or when the caller prefers it, `Prefer: respond-async`)
 * accepted with 202 and carried out by the queue-triggered function `runBulkJob`, on whichever
 * instance takes the message. Its state lives in its record (shared/bulk/bulkRecord.ts), so any
 * instance answers the status URL, and a run that dies is taken over: the message reappears, the
 * next run claims the job once the dead run's lease has ended, reads which items are settled (not
 * sent again) and sends the open ones again (their answer may have been lost), within the job.
 */

/** The queue message of a job: which record to carry on. */
export interface BulkJobMessage {
  kind: 'bulkJob';
  operation: string;
  id: string;
}

/** A run holds its job this long, renewing it every third of it while it works. */
export const jobLeaseMs = 10_000;
/** A run's own deadline, under the host's `functionTimeout` (2.5 minutes): what is left goes on in another run. */
export const jobRunBudgetMs = 120_000;
/** Runs a job may take; the last settles what is still open (never sent: failed; maybe sent: unknown). */
export const maxJobRuns = 5;

export type Logger = (level: 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>) => void;

const queueUnavailable = (cause: unknown) =>
  serviceUnavailable('queueUnavailable', 'The bulk request could not be queued, so nothing was sent to Microsoft Graph. Retry later.', 10, cause);

/** `Prefer: respond-async` (RFC 7240), among other preferences or not. */
export function prefersAsync(prefer: string | null): boolean {
  return prefer !== null && prefer.split(',').some((preference) => preference.split(';')[0]?.trim().toLowerCase() === 'respond-async');
}

/** Seconds a poller should wait: a fifth of what is expected to be left, 1 to 10. */
export function pollAfterSeconds(runtime: Runtime, itemsLeft: number): number {
  return Math.min(10, Math.max(1, Math.ceil(instanceLatency.estimateMs(itemsLeft, runtime.settings.bulkBatchesInFlight) / 5_000)));
}

export interface BulkRequest {
  runtime: Runtime;
  operation: BulkOperationDefinition;
  caller: AuthenticatedCaller;
  correlation: Correlation;
  receivedAt: Date;
  /** A synchronous request sends nothing after this. */
  deadlineAt: number;
  version: string;
  collectionPath: string;
  items: Record<string, unknown>[];
  /** Records (row keys) of earlier requests with the same Idempotency-Key. */
  earlierAttempts: string[];
  preferAsync: boolean;
  statusUrl: (id: string) => string;
  log: Logger;
}

export type BulkAnswer =
  | { kind: 'done'; results: BulkResults }
  | { kind: 'accepted'; id: string; total: number; location: string; retryAfterSeconds: number; preferenceApplied: boolean };

function callerFieldsOf(caller: Caller): Pick<BulkEntity, 'callerId' | 'callerAppId' | 'callerName' | 'callerTenantId'> {
  return {
    callerId: caller.id,
    ...(caller.appId ? { callerAppId: caller.appId } : {}),
    ...(caller.name ? { callerName: caller.name } : {}),
    ...(caller.tenantId ? { callerTenantId: caller.tenantId } : {}),
  };
}

/** Carries a bulk request out now, or queues it and says where its status is. */
export async function startBulkRequest(request: BulkRequest): Promise<BulkAnswer> {
  const { runtime, operation, correlation, receivedAt, items } = request;
  const key: AuditKey = { partitionKey: operation.item.name, rowKey: recordRowKey(receivedAt, correlation.requestId) };
  const expected = instanceLatency.estimateMs(items.length, runtime.settings.bulkBatchesInFlight);
  // Without a queue service there is nowhere to run it later: it runs now.
  const runAsync = runtime.queues.configured && (request.preferAsync || expected > runtime.settings.bulkAsyncAfterMs);
  const record: BulkEntity = {
    ...key,
    kind: 'bulk',
    operation: operation.name,
    entityType: operation.entityType,
    graphPath: `/${request.version}${request.collectionPath}`,
    graphVersion: request.version,
    requestId: correlation.requestId,
    clientRequestId: correlation.clientRequestId,
    ...callerFieldsOf(request.caller),
    requestedAt: receivedAt,
    async: runAsync,
    status: runAsync ? 'accepted' : 'running',
    total: items.length,
    done: 0,
    runs: runAsync ? 0 : 1,
    leaseUntil: new Date(runAsync ? 0 : request.deadlineAt + jobLeaseMs),
    leaseOwner: correlation.requestId,
    earlierAttempts: JSON.stringify(request.earlierAttempts),
    ...(toChunks('items', items) as { itemChunks: number }),
  };

  if (runAsync) {
    try {
      await runtime.audit.submit([['create', record as unknown as Record<string, unknown> & AuditKey]]);
    } catch (error) {
      throw auditStoreUnavailable(error);
    }
    const message: BulkJobMessage = { kind: 'bulkJob', operation: operation.name, id: key.rowKey };
    try {
      await runtime.queues.send(asyncWorkQueueName, message);
    } catch (error) {
      // Nothing was sent, and nothing will be: the record says so.
      const results = tally(items.map((item) => ({ id: String(item.id), status: 'failed', error: { code: 'queueUnavailable', message: 'The request could not be queued; nothing was sent.', httpStatus: 503 } })));
      await completeJob(runtime, key, record.requestedAt, results).catch(() => undefined);
      throw queueUnavailable(error);
    }
    return {
      kind: 'accepted',
      id: key.rowKey,
      total: items.length,
      location: request.statusUrl(key.rowKey),
      retryAfterSeconds: pollAfterSeconds(runtime, items.length),
      preferenceApplied: request.preferAsync,
    };
  }

  const earlier = await earlierItemRecords(runtime, key.partitionKey, request.earlierAttempts);
  const job: BulkJobIdentity = {
    key,
    version: request.version,
    collectionPath: request.collectionPath,
    caller: request.caller,
    correlation,
    requestedAt: receivedAt,
  };
  const run = await runBulkItems({
    runtime,
    operation,
    job,
    items,
    existing: new Map(),
    earlier,
    deadlineAt: request.deadlineAt,
    leadActions: [['create', record as unknown as Record<string, unknown> & AuditKey]],
    finish: true,
    log: request.log,
  });
  const results = tally(run.results.map((result, index) => result ?? unknownResult(items[index]!)));
  const failure = everyItemNotFound(results.results) ? missingParentError(await findMissingParent(runtime.graph, request.version, request.collectionPath, request.deadlineAt)) : undefined;
  await completeJob(runtime, key, receivedAt, results, undefined, failure).catch((error: unknown) =>
    request.log('error', 'bulk request record not completed; its items’ records stand', { reason: reasonOf(error) }),
  );
  if (failure) throw failure;
  return { kind: 'done', results };
}

function unknownResult(item: Record<string, unknown>): BulkItemResult {
  return { id: String(item.id), status: 'failed', error: { code: 'createOutcomeUnknown', message: 'The add was not settled.', httpStatus: 502 } };
}

/**
 * The bulk request's record says it is done, with its results (only if still held, given `etag`);
 * `failed` with the error its caller is answered when nothing could be added.
 */
async function completeJob(runtime: Runtime, key: AuditKey, requestedAt: Date, results: BulkResults, etag?: string, failure?: FacadeError): Promise<void> {
  const completedAt = new Date(runtime.clock.now());
  await runtime.audit.mergeRow(
    key,
    {
      status: failure ? 'failed' : 'completed',
      ...(failure ? { errorCode: failure.code, errorMessage: failure.message, ...(failure.target ? { errorTarget: failure.target } : {}) } : {}),
      done: results.results.length,
      created: results.created,
      alreadyMember: results.alreadyMember,
      failed: results.failed,
      completedAt,
      durationMs: completedAt.getTime() - new Date(requestedAt).getTime(),
      leaseUntil: completedAt,
      ...toChunks('results', results),
    },
    etag,
  );
}

/** The item records of earlier bulk requests with the same Idempotency-Key, by item index (one range read each). */
async function earlierItemRecords(runtime: Runtime, partitionKey: string, earlierAttempts: readonly string[]): Promise<Map<number, StoredAuditRecord[]>> {
  const byIndex = new Map<number, StoredAuditRecord[]>();
  for (const bulkRowKey of earlierAttempts) {
    let records: (AuditEntity & { etag: string })[];
    try {
      const { low, high } = itemRange(bulkRowKey);
      records = await runtime.audit.rowsBetween<AuditEntity>(partitionKey, low, high);
    } catch (error) {
      throw new FacadeError(503, 'auditStoreUnavailable', 'The earlier attempts of this request cannot be read, so nothing was sent to Microsoft Graph. Retry later.', {
        retryAfterSeconds: 10,
        cause: error,
      });
    }
    for (const record of records) {
      const index = itemIndexOf(bulkRowKey, record.rowKey);
      if (index === undefined || record.kind !== 'record') continue;
      byIndex.set(index, [...(byIndex.get(index) ?? []), record]);
    }
  }
  return byIndex;
}

export function isBulkJobMessage(message: unknown): message is BulkJobMessage {
  const candidate = message as Partial<BulkJobMessage> | null;
  return typeof candidate === 'object' && candidate !== null && candidate.kind === 'bulkJob' && typeof candidate.operation === 'string' && typeof candidate.id === 'string';
}

const requeue = (runtime: Runtime, message: BulkJobMessage, delayMs: number) => requeueJob(runtime, message, delayMs);
const leaveJob = (runtime: Runtime, key: AuditKey, runId: string, message: BulkJobMessage, log: Logger) => leaveLeasedJob(runtime, key, runId, message, jobLeaseMs, 'bulk job', log);

/**
 * One run of a queued job (the queue-triggered function). Idempotent: a completed job is left
 * alone; a job another run holds is looked at again when its lease ends; otherwise this run claims
 * it (conditionally: two runs never both do), carries on from what its item records say, keeps
 * its lease while it works, and either completes the job or hands what is left to a next run.
 * Throws only when storage fails (the message then comes back, and moves to the poison queue after
 * `maxDequeueCount` tries).
 */
export async function runQueuedBulkJob(runtime: Runtime, operations: readonly BulkOperationDefinition[], message: BulkJobMessage, runId: string, log: Logger): Promise<void> {
  const operation = operations.find((candidate) => candidate.name === message.operation);
  if (!operation) {
    log('error', 'bulk job of an unknown operation; dropped', { operation: message.operation, id: message.id });
    return;
  }
  const key: AuditKey = { partitionKey: operation.item.name, rowKey: message.id };
  const { audit, clock } = runtime;
  const record = await audit.getRow<BulkEntity>(key);
  if (!record || record.kind !== 'bulk') {
    log('warn', 'bulk job record not found; nothing to do', { id: message.id });
    return;
  }
  if (record.status === 'completed' || record.status === 'failed') return;
  const now = clock.now();
  const leaseLeft = new Date(record.leaseUntil).getTime() - now;
  if (leaseLeft > 0) {
    await requeue(runtime, message, leaseLeft + 500);
    return;
  }
  const lastRun = record.runs >= maxJobRuns;
  let etag: string;
  try {
    etag = await audit.mergeRow(key, { status: 'running', runs: record.runs + 1, leaseUntil: new Date(now + jobLeaseMs), leaseOwner: runId }, record.etag);
  } catch (error) {
    if (!isStatus(error, 412)) throw error;
    // Another run claimed it just now.
    await requeue(runtime, message, jobLeaseMs);
    return;
  }

  const items = fromChunks<Record<string, unknown>[]>(record, 'items') ?? [];
  const { low, high } = itemRange(key.rowKey);
  const existing = new Map<number, StoredAuditRecord>();
  for (const row of await audit.rowsBetween<AuditEntity>(key.partitionKey, low, high)) {
    const index = itemIndexOf(key.rowKey, row.rowKey);
    if (index !== undefined && row.kind === 'record') existing.set(index, row);
  }
  const earlierAttempts = JSON.parse(record.earlierAttempts || '[]') as string[];
  const earlier = await earlierItemRecords(runtime, key.partitionKey, earlierAttempts);

  let lost = false;
  let done = 0;
  let renewing: Promise<void> = Promise.resolve();
  const renewal = setInterval(() => {
    renewing = renewing.then(async () => {
      if (lost) return;
      try {
        etag = await audit.mergeRow(key, { leaseUntil: new Date(clock.now() + jobLeaseMs), done }, etag);
      } catch (error) {
        // Another failure: tried again at the next renewal; the lease has time left.
        if (!isStatus(error, 412)) return;
        // A 412 may answer this run's own earlier write that landed unconfirmed: the row says whose it is.
        const holder = await jobHolderOf(runtime, key, runId).catch(() => undefined);
        if (holder?.kind === 'ours') etag = holder.etag;
        else if (holder) lost = true;
      }
    });
  }, jobLeaseMs / 3);
  const job: BulkJobIdentity = {
    key,
    version: record.graphVersion,
    collectionPath: record.graphPath.replace(/^\/[^/]+/, ''),
    caller: { id: record.callerId, ...(record.callerAppId ? { appId: record.callerAppId } : {}), ...(record.callerName ? { name: record.callerName } : {}), ...(record.callerTenantId ? { tenantId: record.callerTenantId } : {}) },
    correlation: { requestId: record.requestId, clientRequestId: record.clientRequestId },
    requestedAt: new Date(record.requestedAt),
  };
  let run;
  try {
    run = await runBulkItems({
      runtime,
      operation,
      job,
      items,
      existing,
      earlier,
      // The last run sends nothing more: it settles what is open.
      deadlineAt: lastRun ? now : now + jobRunBudgetMs,
      finish: lastRun,
      stopped: () => lost,
      onProgress: (settled) => {
        done = settled;
      },
      log,
    });
  } finally {
    clearInterval(renewal);
    await renewing;
  }
  if (lost) {
    await leaveJob(runtime, key, runId, message, log);
    return;
  }
  const open = run.results.filter((result) => result === undefined).length;
  // The run's last write, conditional on its lease; a 412 is checked against the row (this run's
  // own unconfirmed write may have moved the etag), and the write is tried again while it is ours.
  const lastWrite = async (write: (etag: string) => Promise<unknown>): Promise<boolean> => {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        await write(etag);
        return true;
      } catch (error) {
        if (!isStatus(error, 412)) throw error;
        const holder = await jobHolderOf(runtime, key, runId);
        if (holder.kind !== 'ours') break;
        etag = holder.etag;
      }
    }
    await leaveJob(runtime, key, runId, message, log);
    return false;
  };
  if (open === 0) {
    const results = tally(run.results as BulkItemResult[]);
    const failure = everyItemNotFound(results.results) ? missingParentError(await findMissingParent(runtime.graph, job.version, job.collectionPath, clock.now() + jobLeaseMs)) : undefined;
    if (await lastWrite((held) => completeJob(runtime, key, new Date(record.requestedAt), results, held, failure))) {
      log(results.failed > 0 ? 'warn' : 'info', 'bulk job completed', { id: message.id, run: record.runs + 1, created: results.created, alreadyMember: results.alreadyMember, failed: results.failed });
    }
    return;
  }
  if (await lastWrite((held) => audit.mergeRow(key, { leaseUntil: new Date(clock.now()), done }, held))) {
    await requeue(runtime, message, Math.max(0, (run.nextAttemptAt ?? 0) - clock.now()));
  }
}

/** Queues a job again when no run has held it for long (shared/storage/jobLease.ts), with its own message. */
export function resumeIfAbandoned(runtime: Runtime, record: StoredBulkEntity): Promise<boolean> {
  const message: BulkJobMessage = { kind: 'bulkJob', operation: record.operation, id: record.rowKey };
  return resumeAbandonedJob(runtime, record, message);
}

/** Role that lets a caller read any bulk request's status (operators), besides the caller that made it. */
export const auditReadRole = 'Audit.Read';

/** A bulk request's record, by its id, in the partitions of the bulk operations: one point read each. */
export async function findBulkJob(runtime: Runtime, operations: readonly BulkOperationDefinition[], id: string): Promise<StoredBulkEntity | undefined> {
  for (const partitionKey of new Set(operations.map((operation) => operation.item.name))) {
    const row = await runtime.audit.getRow<BulkEntity>({ partitionKey, rowKey: id });
    if (row?.kind === 'bulk') return row;
  }
  return undefined;
}

/** What a poll of the status URL answers: the results once done, else the progress. */
export function bulkJobAnswer(runtime: Runtime, record: StoredBulkEntity):
  | { kind: 'done'; body: BulkResults }
  | { kind: 'failed'; error: FacadeError }
  | { kind: 'running'; body: { id: string; status: 'accepted' | 'running'; total: number; done: number }; retryAfterSeconds: number } {
  if (record.status === 'failed') {
    return { kind: 'failed', error: new FacadeError(404, record.errorCode ?? 'itemNotFound', record.errorMessage ?? 'Nothing could be added.', record.errorTarget ? { target: record.errorTarget } : {}) };
  }
  if (record.status === 'completed') {
    const results = fromChunks<BulkResults>(record, 'results');
    if (results) return { kind: 'done', body: results };
  }
  return {
    kind: 'running',
    body: { id: record.rowKey, status: record.status === 'accepted' ? 'accepted' : 'running', total: record.total, done: record.done ?? 0 },
    retryAfterSeconds: pollAfterSeconds(runtime, Math.max(1, record.total - (record.done ?? 0))),
  };
}
