import type { InvocationContext } from '@azure/functions';
import { recordRowKey, type AuditKey } from '../audit/auditRecord';
import { auditStoreUnavailable } from '../audit/auditStore';
import type { AuthenticatedCaller, CallerKind } from '../auth/caller';
import { fromChunks, toChunks } from '../bulk/bulkRecord';
import { instanceLatency } from '../bulk/estimate';
import { jobLeaseMs, jobRunBudgetMs } from '../bulk/job';
import { serviceUnavailable, type Correlation } from '../errors';
import { bulkOperationDefinitions, operationDefinitions } from '../operations/registerOperation';
import { reasonOf } from '../recovery/conflict';
import type { Runtime } from '../runtime';
import type { ConnectorManifest } from '../schemas/manifest';
import { asyncWorkQueueName } from '../storage/queue';
import { isStatus } from '../storage/table';
import { JobWriter, leaveJob, requeueJob } from '../storage/jobLease';
import { emptyApplyState, runApply, type ApplyResults, type ApplyRunResult, type ApplyState, type ApplyStep, type ManifestOperations } from './apply';
import { manifestOperations } from './plan';
import type { Logger } from './schemaRegistration';

/**
 * A manifest apply as a job, on the machinery of bulk jobs (shared/bulk/job.ts): its record, in
 * the partition `applyConnectorManifest`, is the audit record of the apply (counts and outcome,
 * the ids of the creates' records in its results) and the job's state, so any instance answers
 * its status or carries it on. `accepted` (queued) → `running` (a run holds its lease) →
 * `completed`; between runs it says which step it waits on. A small manifest runs at once, within
 * the request; a queue message is sent first all the same, so if the instance dies the queue's
 * run takes over once the request's lease has ended, and finishes the job.
 */

export const applyPartition = 'applyConnectorManifest';
/** Runs a job may take (a schema is followed for up to two hours, a run at least every 30 s). */
export const maxApplyRuns = 1_000;

export type ApplyStatus = 'accepted' | 'running' | 'completed';

export interface ApplyEntity extends AuditKey {
  kind: 'manifestApply';
  operation: 'applyConnectorManifest';
  entityType: 'connectorManifest';
  /** The manifest's connection. */
  entityId: string;
  graphVersion: string;
  requestId: string;
  clientRequestId: string;
  callerId: string;
  callerAppId?: string;
  callerName?: string;
  callerTenantId?: string;
  callerKind: CallerKind;
  /** JSON arrays: what the caller held when it applied (the queued runs act with these). */
  callerRoles: string;
  callerScopes: string;
  requestedAt: Date;
  async: boolean;
  status: ApplyStatus;
  /** While not completed: the step it waits on, and why. */
  step?: ApplyStep;
  waitingOn?: string;
  /** JSON of `ApplyState`. */
  state: string;
  outcome?: 'succeeded' | 'failed';
  created?: number;
  exists?: number;
  differs?: number;
  failed?: number;
  notAttempted?: number;
  completedAt?: Date;
  durationMs?: number;
  /** When a status read last queued it again, no run having held it for long. */
  resumedAt?: Date;
  runs: number;
  leaseUntil: Date;
  leaseOwner: string;
  itemChunks: number;
  resultChunks?: number;
  [chunk: `items${number}` | `results${number}`]: string;
}

export type StoredApply = ApplyEntity & { etag: string };

export interface ApplyMessage {
  kind: 'manifestApply';
  id: string;
}

export function isApplyMessage(message: unknown): message is ApplyMessage {
  const candidate = message as Partial<ApplyMessage> | null;
  return typeof candidate === 'object' && candidate !== null && candidate.kind === 'manifestApply' && typeof candidate.id === 'string';
}

/** The create operations of a manifest, as their function files registered them. */
export function registeredManifestOperations(): ManifestOperations {
  const find = (name: string) => {
    const found = operationDefinitions.find((operation) => operation.name === name);
    if (!found) throw new Error(`manifest: the operation ${name} is not registered`);
    return found;
  };
  const members = bulkOperationDefinitions.find((operation) => operation.item.name === manifestOperations.member);
  if (!members) throw new Error('manifest: no bulk operation of group members is registered');
  return { connection: find(manifestOperations.connection), group: find(manifestOperations.group), connectorGroup: find(manifestOperations.connectorGroup), members };
}

/** Items a manifest holds, for the bulk estimate: every create it may make. */
export function manifestSize(manifest: ConnectorManifest): number {
  return 1 + (manifest.groups?.length ?? 0) + (manifest.groups ?? []).reduce((sum, group) => sum + (group.members?.length ?? 0), 0) + (manifest.connectorGroups?.length ?? 0);
}

function callerOf(record: ApplyEntity): AuthenticatedCaller {
  return {
    id: record.callerId,
    ...(record.callerAppId ? { appId: record.callerAppId } : {}),
    ...(record.callerName ? { name: record.callerName } : {}),
    ...(record.callerTenantId ? { tenantId: record.callerTenantId } : {}),
    kind: record.callerKind,
    roles: JSON.parse(record.callerRoles) as string[],
    scopes: JSON.parse(record.callerScopes) as string[],
  };
}

export interface ApplyRequest {
  runtime: Runtime;
  caller: AuthenticatedCaller;
  correlation: Correlation;
  receivedAt: Date;
  version: string;
  manifest: ConnectorManifest;
  preferAsync: boolean;
  /** The request sends nothing after this. */
  deadlineAt: number;
  invocation: InvocationContext;
  log: Logger;
}

export type ApplyAnswer = { kind: 'done'; record: StoredApply; results: ApplyResults } | { kind: 'accepted'; record: StoredApply; retryAfterSeconds: number };

/** Whether an apply answers 202 and runs from the queue: a schema (minutes of provisioning), a preference, or the bulk estimate. */
export function appliesAsync(runtime: Runtime, manifest: ConnectorManifest, preferAsync: boolean): boolean {
  if (!runtime.queues.configured) return false;
  const expected = instanceLatency.estimateMs(manifestSize(manifest), runtime.settings.bulkBatchesInFlight);
  return manifest.schema !== undefined || preferAsync || expected > runtime.settings.bulkAsyncAfterMs;
}

export async function startApply(request: ApplyRequest): Promise<ApplyAnswer> {
  const { runtime, caller, correlation, receivedAt, manifest } = request;
  const runAsync = appliesAsync(runtime, manifest, request.preferAsync);
  const leaseUntil = new Date(runAsync ? 0 : request.deadlineAt + jobLeaseMs);
  const entity: ApplyEntity = {
    partitionKey: applyPartition,
    rowKey: recordRowKey(receivedAt, correlation.requestId),
    kind: 'manifestApply',
    operation: 'applyConnectorManifest',
    entityType: 'connectorManifest',
    entityId: manifest.connection.id,
    graphVersion: request.version,
    requestId: correlation.requestId,
    clientRequestId: correlation.clientRequestId,
    callerId: caller.id,
    ...(caller.appId ? { callerAppId: caller.appId } : {}),
    ...(caller.name ? { callerName: caller.name } : {}),
    ...(caller.tenantId ? { callerTenantId: caller.tenantId } : {}),
    callerKind: caller.kind,
    callerRoles: JSON.stringify(caller.roles),
    callerScopes: JSON.stringify(caller.scopes),
    requestedAt: receivedAt,
    async: runAsync,
    status: runAsync ? 'accepted' : 'running',
    state: JSON.stringify(emptyApplyState()),
    runs: runAsync ? 0 : 1,
    leaseUntil,
    leaseOwner: correlation.requestId,
    ...(toChunks('items', manifest) as { itemChunks: number }),
  };
  let etag: string;
  try {
    etag = (await runtime.audit.submit([['create', entity as unknown as Record<string, unknown> & AuditKey]])).get(entity.rowKey) ?? '*';
  } catch (error) {
    throw auditStoreUnavailable(error);
  }
  const message: ApplyMessage = { kind: 'manifestApply', id: entity.rowKey };
  try {
    // Queued before anything is sent: for a small apply it is the takeover if this instance dies.
    const delaySeconds = runAsync ? 0 : Math.ceil((leaseUntil.getTime() - runtime.clock.now()) / 1_000) + 1;
    if (runtime.queues.configured) await runtime.queues.send(asyncWorkQueueName, message, { visibilityDelaySeconds: delaySeconds });
  } catch (error) {
    await runtime.audit.mergeRow(entity, { status: 'completed', outcome: 'failed', waitingOn: 'the apply could not be queued; nothing was sent', completedAt: new Date(runtime.clock.now()) }, etag).catch(() => undefined);
    throw serviceUnavailable('queueUnavailable', 'The manifest apply could not be queued, so nothing was sent to Microsoft Graph. Retry later.', 10, error);
  }
  const stored: StoredApply = { ...entity, etag };
  if (runAsync) return { kind: 'accepted', record: stored, retryAfterSeconds: 2 };
  // Groups' member requests start together: their checkpoints are written one after another, each conditional on the last.
  const writer = new JobWriter(runtime, entity, correlation.requestId, etag);
  const checkpoint = (state: ApplyState) => writer.write({ state: JSON.stringify(state) });

  const state = emptyApplyState();
  const result = await runApply({
    runtime,
    operations: registeredManifestOperations(),
    applyId: entity.rowKey,
    version: request.version,
    manifest,
    caller,
    clientRequestId: correlation.clientRequestId,
    deadlineAt: request.deadlineAt,
    state,
    checkpoint,
    report: (step, waitingOn) => writer.write({ step, waitingOn }),
    invocation: request.invocation,
    log: request.log,
  }).catch((error: unknown): ApplyRunResult => {
    // Something may have been created already: the queue carries the apply on, as it would after a crash.
    request.log('warn', 'manifest apply interrupted; it carries on from the queue', { reason: reasonOf(error) });
    return { kind: 'waiting', step: 'connection', reason: `interrupted (${reasonOf(error)}); tried again`, retryAfterSeconds: 5, state };
  });
  await writer.settled();
  if (result.kind === 'done') {
    const completion = completionOf(stored, result.results, runtime.clock.now());
    const completed = await writer.write(completion).then(
      (): StoredApply => ({ ...stored, ...completion, etag: writer.etag }),
      (error: unknown): StoredApply => {
        // The apply is done and its results are known: the caller is told them. Whether the write
        // landed is not (its answer may be lost); if it did not, the queue's run completes the record.
        request.log('error', 'manifest apply record not completed; the queue finishes it', { reason: reasonOf(error) });
        return { ...stored, ...completion };
      },
    );
    return { kind: 'done', record: completed, results: result.results };
  }
  // What is left runs from the queue, now.
  const pausing = pauseOf(result, runtime.clock.now());
  const waitingRecord = await writer.write(pausing).then((): StoredApply => ({ ...stored, ...pausing, etag: writer.etag }), () => stored);
  await runtime.queues.send(asyncWorkQueueName, message, { visibilityDelaySeconds: result.retryAfterSeconds }).catch(() => undefined);
  return { kind: 'accepted', record: waitingRecord, retryAfterSeconds: Math.max(1, result.retryAfterSeconds) };
}

/** What completes an apply's record: its outcome, counts and results, the lease given up. */
function completionOf(record: ApplyEntity, results: ApplyResults, now: number) {
  const completedAt = new Date(now);
  return {
    status: 'completed' as const,
    outcome: results.outcome,
    ...results.counts,
    completedAt,
    durationMs: completedAt.getTime() - new Date(record.requestedAt).getTime(),
    leaseUntil: completedAt,
    waitingOn: '',
    ...(toChunks('results', results) as { resultChunks: number }),
  };
}

/** Between runs: what it waits on, its state, and the lease given up so the next run may claim it. */
const pauseOf = (result: Extract<ApplyRunResult, { kind: 'waiting' }>, now: number) => ({
  step: result.step,
  waitingOn: result.reason,
  state: JSON.stringify(result.state),
  leaseUntil: new Date(now),
});

const requeue = (runtime: Runtime, message: ApplyMessage, delayMs: number) => requeueJob(runtime, message, delayMs);

/**
 * One queued run of an apply: a completed one is left alone; one another run holds is looked at
 * when its lease ends; otherwise this run claims it (conditionally), keeps its lease while it
 * works, and completes the apply or says what it waits on and comes back.
 */
export async function runQueuedApply(runtime: Runtime, message: ApplyMessage, runId: string, invocation: InvocationContext, log: Logger): Promise<void> {
  const key: AuditKey = { partitionKey: applyPartition, rowKey: message.id };
  const { audit, clock } = runtime;
  const record = await audit.getRow<ApplyEntity>(key);
  if (!record || record.kind !== 'manifestApply') {
    log('warn', 'manifest apply record not found; nothing to do', { id: message.id });
    return;
  }
  if (record.status === 'completed') return;
  const now = clock.now();
  const leaseLeft = new Date(record.leaseUntil).getTime() - now;
  if (leaseLeft > 0) {
    await requeue(runtime, message, leaseLeft + 500);
    return;
  }
  if (record.runs >= maxApplyRuns) {
    await audit.mergeRow(key, { status: 'completed', outcome: 'failed', waitingOn: `gave up after ${maxApplyRuns} runs: ${record.waitingOn ?? ''}`, completedAt: new Date(now) }, record.etag).catch(() => undefined);
    return;
  }
  let etag: string;
  try {
    etag = await audit.mergeRow(key, { status: 'running', runs: record.runs + 1, leaseUntil: new Date(now + jobLeaseMs), leaseOwner: runId }, record.etag);
  } catch (error) {
    if (!isStatus(error, 412)) throw error;
    await requeue(runtime, message, jobLeaseMs);
    return;
  }
  // Lease renewals and checkpoints, written in turn, each conditional on the last (a 412 is checked against the row).
  const writer = new JobWriter(runtime, key, runId, etag);
  const renewal = setInterval(() => {
    // A failed renewal is tried again at the next one; the lease has time left.
    writer.write(() => ({ leaseUntil: new Date(clock.now() + jobLeaseMs) })).catch(() => undefined);
  }, jobLeaseMs / 3);
  const checkpoint = (state: ApplyState) => writer.write({ state: JSON.stringify(state) });
  let result: ApplyRunResult;
  const state: ApplyState = { ...emptyApplyState(), ...(JSON.parse(record.state || '{}') as Partial<ApplyState>) };
  try {
    result = await runApply({
      runtime,
      operations: registeredManifestOperations(),
      applyId: record.rowKey,
      version: record.graphVersion,
      manifest: fromChunks<ConnectorManifest>(record, 'items')!,
      caller: callerOf(record),
      clientRequestId: record.clientRequestId,
      deadlineAt: now + jobRunBudgetMs,
      state,
      checkpoint,
    report: (step, waitingOn) => writer.write({ step, waitingOn }),
      invocation,
      log,
    });
  } catch (error) {
    // Graph or storage failed under it: the next run starts over from what exists (and the state kept).
    log('warn', 'manifest apply run failed; tried again', { id: message.id, reason: reasonOf(error) });
    result = { kind: 'waiting', step: (record.step ?? 'connection'), reason: `the last run failed (${reasonOf(error)}); tried again`, retryAfterSeconds: 10, state };
  } finally {
    clearInterval(renewal);
    await writer.settled();
  }
  // The message is deleted only when the apply is done or another run holds it; else it comes back.
  const leave = () => leaveJob(runtime, key, runId, message, jobLeaseMs, 'manifest apply', log);
  if (writer.lost) return leave();
  try {
    if (result.kind === 'done') {
      await writer.write(completionOf(record, result.results, clock.now()));
      log(result.results.outcome === 'failed' ? 'warn' : 'info', 'manifest apply completed', { id: message.id, outcome: result.results.outcome, ...result.results.counts });
      return;
    }
    await writer.write(pauseOf(result, clock.now()));
  } catch (error) {
    if (writer.lost) return leave();
    throw error;
  }
  await requeue(runtime, message, result.retryAfterSeconds * 1_000);
}

export async function findApply(runtime: Runtime, id: string): Promise<StoredApply | undefined> {
  const row = await runtime.audit.getRow<ApplyEntity>({ partitionKey: applyPartition, rowKey: id });
  return row?.kind === 'manifestApply' ? row : undefined;
}

/** What a caller is told of an apply: its results once completed, else the step it waits on. */
export function applyView(record: ApplyEntity): Record<string, unknown> {
  const results = record.status === 'completed' ? fromChunks<ApplyResults>(record, 'results') : undefined;
  return {
    id: record.rowKey,
    status: record.status,
    connectionId: record.entityId,
    ...(record.status !== 'completed' && record.step ? { step: record.step } : {}),
    ...(record.status !== 'completed' && record.waitingOn ? { waitingOn: record.waitingOn } : {}),
    requestedAt: new Date(record.requestedAt).toISOString(),
    ...(record.completedAt ? { completedAt: new Date(record.completedAt).toISOString() } : {}),
    ...(results ?? (record.outcome ? { outcome: record.outcome } : {})),
  };
}


