import type { StoredAuditRecord } from './auditStore';

/**
 * What the audit query API shows of a record (schemas in shared/schemas/audit.ts). The list shows
 * who asked what, what became of it and when, never the bodies: a page of 1,000 records stays
 * small, and the bodies are one entity route call away. Keys of other rows (`madeBy`,
 * `settledBy`) are shown as the request ids they name; the table's own bookkeeping (row keys,
 * etags, ask and entity keys, reconciliation schedule) is not shown.
 */

/** The stored properties the list reads (the table service leaves the others, bodies included, out). */
export const listedProperties = [
  'rowKey', 'requestId', 'operation', 'entityType', 'entityId', 'graphPath', 'graphVersion', 'status', 'httpStatus',
  'errorCode', 'reason', 'recovery', 'madeBy', 'settledBy', 'retries', 'callerId', 'callerAppId', 'callerName',
  'callerTenantId', 'clientRequestId', 'graphRequestId', 'requestedAt', 'completedAt', 'durationMs', 'reconciledAt',
  'reconcileAttempts', 'reconcileError', 'total', 'created', 'alreadyMember', 'failed',
  'outcome', 'exists', 'differs', 'notAttempted', 'step', 'waitingOn', 'operationStatus', 'errorMessage', 'parentRowKey',
] as const;

/** What a bulk request's record (`kind: bulk`, shared/bulk/bulkRecord.ts) adds: its counts. */
interface BulkCounts {
  total?: number;
  created?: number;
  alreadyMember?: number;
  failed?: number;
}

/**
 * What a connector job's record adds (shared/manifest): a manifest apply's outcome, counts and the
 * step it waits on; a schema registration's Graph operation and the apply it belongs to.
 */
interface ConnectorJobFields {
  outcome?: string;
  exists?: number;
  differs?: number;
  notAttempted?: number;
  step?: string;
  waitingOn?: string;
  operationStatus?: string;
  errorMessage?: string;
  parentRowKey?: string;
}

type Listed = Pick<StoredAuditRecord, Exclude<(typeof listedProperties)[number], keyof BulkCounts | keyof ConnectorJobFields>> & BulkCounts & ConnectorJobFields & { rowKey: string };

export interface AuditRecordView {
  requestId: string;
  operation: string;
  entityType: string;
  entityId: string;
  graphPath: string;
  graphVersion: string;
  status: string;
  httpStatus?: number;
  errorCode?: string;
  reason?: string;
  recovery?: string;
  madeBy?: string;
  settledBy?: string;
  retries?: number;
  callerId: string;
  callerAppId?: string;
  callerName?: string;
  callerTenantId?: string;
  clientRequestId: string;
  graphRequestId?: string;
  requestedAt: string;
  completedAt?: string;
  durationMs?: number;
  reconciledAt?: string;
  reconcileAttempts?: number;
  reconcileError?: string;
  /** A bulk request's record: its items, and how many were created, already members, failed. */
  total?: number;
  created?: number;
  alreadyMember?: number;
  failed?: number;
  /** A manifest apply's record: its outcome, the rest of its counts, and the step it waits on until it completes. */
  outcome?: string;
  exists?: number;
  differs?: number;
  notAttempted?: number;
  step?: string;
  waitingOn?: string;
  /** A schema registration's record: what Graph's connection operation said last. */
  operationStatus?: string;
  /** The request id of the manifest apply this record belongs to. */
  partOf?: string;
}

export interface EntityAuditRecordView extends AuditRecordView {
  madeEntity: boolean;
  requestBody?: string;
  requestBodyTruncated?: boolean;
  responseBody?: string;
  responseBodyTruncated?: boolean;
}

/** A record row key is `{inverted time}_{request id}`. */
export const requestIdOfRowKey = (rowKey: string) => rowKey.replace(/^\d{13}_/, '');

const iso = (value: Date | string | undefined) => (value === undefined ? undefined : new Date(value).toISOString());

/** Only the properties that have a value (the table omits absent ones; so does the answer). */
function present<T extends object>(view: T): T {
  return Object.fromEntries(Object.entries(view).filter(([, value]) => value !== undefined && value !== null)) as T;
}

export function recordView(record: Listed): AuditRecordView {
  return present({
    requestId: record.requestId,
    operation: record.operation,
    entityType: record.entityType,
    entityId: record.entityId,
    graphPath: record.graphPath,
    graphVersion: record.graphVersion,
    status: record.status,
    httpStatus: record.httpStatus,
    errorCode: record.errorCode,
    reason: record.reason ?? record.errorMessage,
    recovery: record.recovery,
    madeBy: record.madeBy === undefined ? undefined : requestIdOfRowKey(record.madeBy),
    settledBy: record.settledBy === undefined ? undefined : requestIdOfRowKey(record.settledBy),
    retries: record.retries,
    callerId: record.callerId,
    callerAppId: record.callerAppId,
    callerName: record.callerName,
    callerTenantId: record.callerTenantId,
    clientRequestId: record.clientRequestId,
    graphRequestId: record.graphRequestId,
    requestedAt: iso(record.requestedAt)!,
    completedAt: iso(record.completedAt),
    durationMs: record.durationMs,
    reconciledAt: iso(record.reconciledAt),
    reconcileAttempts: record.reconcileAttempts,
    reconcileError: record.reconcileError,
    total: record.total,
    created: record.created,
    alreadyMember: record.alreadyMember,
    failed: record.failed,
    outcome: record.outcome,
    exists: record.exists,
    differs: record.differs,
    notAttempted: record.notAttempted,
    step: record.step,
    waitingOn: record.waitingOn,
    operationStatus: record.operationStatus,
    partOf: record.parentRowKey === undefined ? undefined : requestIdOfRowKey(record.parentRowKey),
  });
}

export function entityRecordView(record: StoredAuditRecord, madeEntity: boolean): EntityAuditRecordView {
  return present({
    ...recordView(record),
    madeEntity,
    requestBody: record.requestBody,
    requestBodyTruncated: record.requestBodyTruncated,
    responseBody: record.responseBody,
    responseBodyTruncated: record.responseBodyTruncated,
  });
}
