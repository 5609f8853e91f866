import { recordRowKey, type AuditKey } from '../audit/auditRecord';
import { auditStoreUnavailable } from '../audit/auditStore';
import type { Caller } from '../auth/caller';
import { fromChunks, toChunks } from '../bulk/bulkRecord';
import { FacadeError, parseGraphError, serviceUnavailable, type Correlation } from '../errors';
import type { GraphResponse } from '../graph/graphClient';
import { reasonOf } from '../recovery/conflict';
import type { Runtime } from '../runtime';
import { asyncWorkQueueName } from '../storage/queue';
import { abandonedAfterMs } from '../storage/jobLease';
import { isStatus } from '../storage/table';

/**
 * A schema registration as a job whose audit record ends only when Graph's operation does
 * (docs/graph-facts.md "Connection schema"). Its record, in the partition `registerConnectionSchema`,
 * is also its state, so any instance carries it on:
 *
 *   pending ──PATCH answered 202──▶ running ──operation completed──▶ succeeded
 *      │                              └──────operation failed─────▶ failed
 *      └──PATCH refused (4xx)──▶ failed
 *
 * The queue message is sent before anything reaches Graph: if the instance that sends the PATCH
 * dies, the queue-triggered run finds the record still `pending` once that request's time is up,
 * and sends the PATCH itself (it creates or updates the schema: sending it again is harmless).
 * While `running`, each run reads the operation once and, unless it ended, comes back later.
 */

export const schemaRegistrationPartition = 'registerConnectionSchema';

export type SchemaRegistrationStatus = 'pending' | 'running' | 'succeeded' | 'failed';

export interface SchemaRegistrationEntity extends AuditKey {
  kind: 'schemaRegistration';
  operation: 'registerConnectionSchema';
  entityType: 'connectionSchema';
  /** The connection whose schema this is. */
  entityId: string;
  graphVersion: string;
  /** `/v1.0/external/connections/{id}/schema`. */
  graphPath: string;
  requestId: string;
  clientRequestId: string;
  callerId: string;
  callerAppId?: string;
  callerName?: string;
  callerTenantId?: string;
  requestedAt: Date;
  status: SchemaRegistrationStatus;
  /** While `pending`: the request sending the PATCH may still do so until then; after it, a queued run sends it. */
  sendingUntil: Date;
  /** The path of Graph's connection operation, version included, once Graph accepted the schema. */
  operationPath?: string;
  graphOperationId?: string;
  graphRequestId?: string;
  /** What Graph's operation said at the last look (`inprogress`, `completed`, `failed`). */
  operationStatus?: string;
  polls: number;
  httpStatus?: number;
  errorCode?: string;
  errorMessage?: string;
  completedAt?: Date;
  durationMs?: number;
  /** The manifest apply that made this registration, if any. */
  parentRowKey?: string;
  /** When Graph accepted the schema (its operation began): the polls slow down from then. */
  sentAt?: Date;
  /** When a queued run last looked at it (sent the schema or read Graph's operation). */
  lookedAt?: Date;
  /** When a status read or an apply last queued it again, no run having looked at it for long. */
  resumedAt?: Date;
  itemChunks: number;
  [chunk: `items${number}`]: string;
}

export type StoredSchemaRegistration = SchemaRegistrationEntity & { etag: string };

/** The queue message of a registration to carry on. */
export interface SchemaRegistrationMessage {
  kind: 'schemaRegistration';
  id: string;
}

export function isSchemaRegistrationMessage(message: unknown): message is SchemaRegistrationMessage {
  const candidate = message as Partial<SchemaRegistrationMessage> | null;
  return typeof candidate === 'object' && candidate !== null && candidate.kind === 'schemaRegistration' && typeof candidate.id === 'string';
}

/** Graph's operations end within 5 to 15 minutes; one still running after this is given up on. */
export const maxProvisioningMs = 2 * 3_600_000;

/** Seconds until the next look at a running operation: 1 s at first, growing with its age, at most 30 s. */
/** How long Graph's operation has run (since the request, for records kept before `sentAt` was). */
export function operationAgeOf(record: Pick<SchemaRegistrationEntity, 'requestedAt' | 'sentAt'>, now: number): number {
  return now - new Date(record.sentAt ?? record.requestedAt).getTime();
}

export function pollDelaySeconds(ageMs: number): number {
  return Math.min(30, Math.max(1, Math.round(ageMs / 10_000)));
}

export interface RegistrationRequest {
  runtime: Runtime;
  caller: Caller;
  correlation: Correlation;
  receivedAt: Date;
  version: string;
  connectionId: string;
  /** The validated schema body. */
  schema: Record<string, unknown>;
  /** By when this request's PATCH must be answered. */
  deadlineAt: number;
  parentRowKey?: string;
}

const schemaPathOf = (version: string, connectionId: string) => `/${version}/external/connections/${encodeURIComponent(connectionId)}/schema`;

/** The record as first written: `pending`, with the schema to send. */
export function pendingRegistration(request: Omit<RegistrationRequest, 'runtime'>): SchemaRegistrationEntity {
  const { caller, correlation, receivedAt } = request;
  return {
    partitionKey: schemaRegistrationPartition,
    rowKey: recordRowKey(receivedAt, correlation.requestId),
    kind: 'schemaRegistration',
    operation: 'registerConnectionSchema',
    entityType: 'connectionSchema',
    entityId: request.connectionId,
    graphVersion: request.version,
    graphPath: schemaPathOf(request.version, request.connectionId),
    requestId: correlation.requestId,
    clientRequestId: correlation.clientRequestId,
    callerId: caller.id,
    ...(caller.appId ? { callerAppId: caller.appId } : {}),
    ...(caller.name ? { callerName: caller.name } : {}),
    ...(caller.tenantId ? { callerTenantId: caller.tenantId } : {}),
    requestedAt: receivedAt,
    status: 'pending',
    sendingUntil: new Date(request.deadlineAt),
    polls: 0,
    ...(request.parentRowKey ? { parentRowKey: request.parentRowKey } : {}),
    ...(toChunks('items', request.schema) as { itemChunks: number }),
  };
}

/**
 * Records the registration, queues its follow-up, then sends the PATCH. Answers the record as it
 * stands after the PATCH; throws Graph's refusal (the record then says `failed`), or a 503 when the
 * record or the queue message could not be written (nothing was sent).
 */
export async function startSchemaRegistration(request: RegistrationRequest): Promise<StoredSchemaRegistration> {
  const { runtime } = request;
  const entity = pendingRegistration(request);
  let etag: string;
  try {
    const etags = await runtime.audit.submit([['create', entity as unknown as Record<string, unknown> & AuditKey]]);
    etag = etags.get(entity.rowKey) ?? '*';
  } catch (error) {
    throw auditStoreUnavailable(error);
  }
  const message: SchemaRegistrationMessage = { kind: 'schemaRegistration', id: entity.rowKey };
  try {
    // The follow-up exists before Graph hears of the schema; its first look comes a second later.
    await runtime.queues.send(asyncWorkQueueName, message, { visibilityDelaySeconds: 1 });
  } catch (error) {
    await runtime.audit
      .mergeRow(entity, { status: 'failed', errorCode: 'queueUnavailable', errorMessage: 'The registration could not be queued; nothing was sent.', httpStatus: 503, completedAt: new Date(runtime.clock.now()) }, etag)
      .catch(() => undefined);
    throw serviceUnavailable('queueUnavailable', 'The schema registration could not be queued, so nothing was sent to Microsoft Graph. Retry later.', 10, error);
  }
  const stored: StoredSchemaRegistration = { ...entity, etag };
  try {
    return await sendSchema(runtime, stored, request.deadlineAt);
  } catch (error) {
    if (error instanceof FacadeError) throw error;
    // Graph answered, but the record could not be written after: the registration is recorded and
    // its follow-up queued, and that run looks again (it sends the schema once more if Graph's
    // answer was not kept). The caller follows it at its status URL.
    return { ...stored, errorMessage: `Microsoft Graph's answer could not be recorded yet; the registration is followed from the queue. ${reasonOf(error)}`.slice(0, 1_000) };
  }
}

/**
 * `pending` → the PATCH. 202 with a Location: `running`. A refusal Graph would repeat (4xx): `failed`,
 * and thrown. An answer lost or a 5xx: still `pending`; the queue-triggered run sends it again.
 */
export async function sendSchema(runtime: Runtime, record: StoredSchemaRegistration, deadlineAt: number): Promise<StoredSchemaRegistration> {
  const schema = fromChunks<Record<string, unknown>>(record, 'items') ?? {};
  let response: GraphResponse;
  try {
    ({ response } = await runtime.graph.send(
      { method: 'PATCH', path: record.graphPath, body: schema, headers: { 'client-request-id': record.clientRequestId } },
      { deadlineAt, deadlineMs: runtime.settings.graphDeadlineMs, retryMode: 'all' },
    ));
  } catch (error) {
    // Lost or out of time: left pending, for the queue-triggered run.
    if (error instanceof FacadeError) return { ...record, errorMessage: error.message };
    throw error;
  }
  if (response.status === 202 && response.location) return markRunning(runtime, record, response);
  if (response.status >= 200 && response.status < 300) {
    // Graph documents 202 only; a success without an operation to follow is taken as done.
    return settle(runtime, record, { status: 'succeeded', operationStatus: 'completed', graphRequestId: response.requestId });
  }
  const graph = parseGraphError(response.body);
  if (response.status >= 500 || response.status === 429) return { ...record, errorMessage: graph?.message ?? `Microsoft Graph answered ${response.status}.` };
  const failed = await settle(runtime, record, {
    status: 'failed',
    httpStatus: response.status,
    errorCode: graph?.code ?? 'generalException',
    errorMessage: (graph?.message ?? 'Microsoft Graph refused the schema.').slice(0, 1_000),
    graphRequestId: response.requestId,
  });
  throw new FacadeError(response.status, graph?.code ?? 'generalException', graph?.message ?? 'Microsoft Graph refused the schema.', {
    headers: { 'registration-id': failed.rowKey },
  });
}

/** The operation's path below Graph's base URL, from the absolute `Location` Graph sent. */
export function operationPathOf(location: string): string {
  const path = new URL(location, 'https://graph.microsoft.com').pathname;
  return path.replace(/^.*?(\/(?:v1\.0|beta)\/)/, '$1');
}

async function markRunning(runtime: Runtime, record: StoredSchemaRegistration, response: GraphResponse): Promise<StoredSchemaRegistration> {
  const operationPath = operationPathOf(response.location!);
  const changes = {
    status: 'running' as const,
    operationPath,
    graphOperationId: decodeURIComponent(operationPath.split('/').pop() ?? ''),
    operationStatus: 'inprogress',
    sentAt: new Date(runtime.clock.now()),
    ...(response.requestId ? { graphRequestId: response.requestId } : {}),
  };
  const etag = await runtime.audit.mergeRow(record, changes, record.etag);
  return { ...record, ...changes, etag };
}

async function settle(runtime: Runtime, record: StoredSchemaRegistration, changes: Partial<SchemaRegistrationEntity>): Promise<StoredSchemaRegistration> {
  const completedAt = new Date(runtime.clock.now());
  const all = { ...stripUndefined(changes), completedAt, durationMs: completedAt.getTime() - new Date(record.requestedAt).getTime() };
  const etag = await runtime.audit.mergeRow(record, all, record.etag);
  return { ...record, ...all, etag };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

/** `running` → one look at Graph's operation: `completed` succeeds, `failed` fails with Graph's error, else it stays running. */
export async function pollOperation(runtime: Runtime, record: StoredSchemaRegistration): Promise<StoredSchemaRegistration> {
  const deadlineAt = runtime.clock.now() + runtime.settings.graphDeadlineMs;
  let response: GraphResponse;
  try {
    ({ response } = await runtime.graph.send({ method: 'GET', path: record.operationPath!, headers: { 'client-request-id': record.clientRequestId } }, { deadlineAt, retryMode: 'all' }));
  } catch (error) {
    if (error instanceof FacadeError) return record;
    throw error;
  }
  const polls = record.polls + 1;
  if (response.status === 200) {
    const operation = response.body as { status?: string; error?: { code?: string; message?: string } } | undefined;
    if (operation?.status === 'completed') return settle(runtime, record, { status: 'succeeded', operationStatus: 'completed', polls });
    if (operation?.status === 'failed') {
      return settle(runtime, record, {
        status: 'failed',
        operationStatus: 'failed',
        polls,
        errorCode: operation.error?.code ?? 'schemaRegistrationFailed',
        errorMessage: (operation.error?.message ?? 'Microsoft Graph could not register the schema.').slice(0, 1_000),
      });
    }
    const etag = await runtime.audit.mergeRow(record, { polls, operationStatus: String(operation?.status ?? 'unspecified') }, record.etag);
    return { ...record, polls, operationStatus: String(operation?.status ?? 'unspecified'), etag };
  }
  if (response.status === 404) {
    const graph = parseGraphError(response.body);
    return settle(runtime, record, { status: 'failed', polls, httpStatus: 404, errorCode: graph?.code ?? 'itemNotFound', errorMessage: 'Microsoft Graph no longer knows the schema operation.' });
  }
  return record;
}

const isOver = (record: { status: SchemaRegistrationStatus }) => record.status === 'succeeded' || record.status === 'failed';

export type Logger = (level: 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>) => void;

/**
 * One queue-triggered step of a registration: a `pending` one whose request's time is up is sent
 * (again); a `running` one is looked at; each comes back later unless it ended. Every write is
 * conditional on the record being the one read: a concurrent run's write wins, and this one stops.
 */
export async function runSchemaRegistration(runtime: Runtime, message: SchemaRegistrationMessage, log: Logger): Promise<void> {
  const key: AuditKey = { partitionKey: schemaRegistrationPartition, rowKey: message.id };
  let record = await runtime.audit.getRow<SchemaRegistrationEntity>(key);
  if (!record || record.kind !== 'schemaRegistration') {
    log('warn', 'schema registration record not found; nothing to do', { id: message.id });
    return;
  }
  if (isOver(record)) return;
  const now = runtime.clock.now();
  const age = now - new Date(record.requestedAt).getTime();
  try {
    if (age > maxProvisioningMs) {
      await settle(runtime, record, { status: 'failed', errorCode: 'provisioningTimedOut', errorMessage: `Microsoft Graph's operation did not end within ${maxProvisioningMs / 60_000} minutes.` });
      log('warn', 'schema registration given up: Graph’s operation did not end', { id: message.id });
      return;
    }
    const sendingUntil = new Date(record.sendingUntil).getTime();
    if (record.status === 'pending' && now <= sendingUntil) {
      // The request that recorded it may still be sending it: look again once its time is up.
      await runtime.queues.send(asyncWorkQueueName, message, { visibilityDelaySeconds: Math.ceil((sendingUntil - now + 1_000) / 1_000) });
      return;
    }
    record = record.status === 'pending' ? await sendSchema(runtime, record, now + runtime.settings.graphDeadlineMs) : await pollOperation(runtime, record);
  } catch (error) {
    if (isStatus(error, 412)) return; // another run moved it on
    if (error instanceof FacadeError && error.status < 500) {
      log('warn', 'schema registration refused by Graph', { id: message.id, code: error.code });
      return;
    }
    throw error;
  }
  if (isOver(record)) {
    log(record.status === 'failed' ? 'warn' : 'info', 'schema registration ended', { id: message.id, status: record.status, connectionId: record.entityId, polls: record.polls });
    return;
  }
  // A sign of life for abandonedAfterMs, also when this look wrote nothing (Graph unavailable).
  await runtime.audit.mergeRow(key, { lookedAt: new Date(runtime.clock.now()) }).catch(() => undefined);
  await runtime.queues.send(asyncWorkQueueName, message, { visibilityDelaySeconds: pollDelaySeconds(operationAgeOf(record, runtime.clock.now())) }).catch((error: unknown) => {
    log('error', 'schema registration could not be queued again; the message comes back', { id: message.id, reason: reasonOf(error) });
    throw error;
  });
}

/**
 * Not ended, and not looked at by a queued run for `abandonedAfterMs` (the time a request may still
 * send it, its last look, or its last resume, whichever is latest): its message may be gone for
 * good (moved to the poison queue while storage was down).
 */
export function isRegistrationAbandoned(record: SchemaRegistrationEntity, now: number): boolean {
  if (isOver(record)) return false;
  const times = [record.requestedAt, record.sendingUntil, record.lookedAt, record.resumedAt].filter((time) => time !== undefined).map((time) => new Date(time!).getTime());
  return now - Math.max(...times) >= abandonedAfterMs;
}

/**
 * Queues a registration again when no run has looked at it for long, once per such stretch
 * (conditional on the record as read). Best effort; a second message is harmless: each run's writes
 * are conditional on the record it read. True when a message was sent.
 */
export async function resumeRegistrationIfAbandoned(runtime: Runtime, record: StoredSchemaRegistration): Promise<boolean> {
  const now = runtime.clock.now();
  if (!runtime.queues.configured || !isRegistrationAbandoned(record, now)) return false;
  try {
    await runtime.audit.mergeRow(record, { resumedAt: new Date(now) }, record.etag);
    const message: SchemaRegistrationMessage = { kind: 'schemaRegistration', id: record.rowKey };
    await runtime.queues.send(asyncWorkQueueName, message);
    return true;
  } catch {
    return false;
  }
}

/** A registration's record by its id. */
export async function findSchemaRegistration(runtime: Runtime, id: string): Promise<StoredSchemaRegistration | undefined> {
  const row = await runtime.audit.getRow<SchemaRegistrationEntity>({ partitionKey: schemaRegistrationPartition, rowKey: id });
  return row?.kind === 'schemaRegistration' ? row : undefined;
}

/** What a caller is told of a registration: its status, Graph's operation, and the error when it failed. */
export function registrationView(record: SchemaRegistrationEntity): Record<string, unknown> {
  return {
    id: record.rowKey,
    connectionId: record.entityId,
    status: record.status,
    ...(record.graphOperationId ? { graphOperationId: record.graphOperationId } : {}),
    ...(record.operationStatus ? { operationStatus: record.operationStatus } : {}),
    requestedAt: new Date(record.requestedAt).toISOString(),
    ...(record.completedAt ? { completedAt: new Date(record.completedAt).toISOString() } : {}),
    ...(record.status === 'failed' ? { error: { code: record.errorCode ?? 'schemaRegistrationFailed', message: record.errorMessage ?? 'The schema registration failed.' } } : {}),
  };
}

export const registrationIsOver = isOver;
