/** What the audit table says about one create request (README "Audit records"). */

/**
 * `pending`: Graph may be called or have been called; `succeeded`/`failed`: Graph's answer;
 * `unknown`: Graph's answer was lost and the create was not repeated; `orphaned`: reconciliation
 * found the entity a lost answer created, which the caller never learnt of.
 */
export type AuditStatus = 'pending' | 'succeeded' | 'failed' | 'unknown' | 'orphaned';

/**
 * How a create whose answer was lost was settled: `readBack` (read after a 409 and found to be
 * what was sent), `createConflict` (a 409 to the same member create), `earlierAttempt` (a retry
 * found what the lost attempt made), `reconciliation` (the timer function found it).
 */
export type Recovery = 'readBack' | 'createConflict' | 'earlierAttempt' | 'reconciliation';

export interface AuditIntent {
  operation: string;
  entityType: string;
  /** The entity's own id; for Graph-generated ids, empty until Graph answers. */
  entityId: string;
  graphPath: string;
  graphVersion: string;
  requestId: string;
  clientRequestId: string;
  callerId: string;
  callerAppId?: string;
  callerName?: string;
  callerTenantId?: string;
  requestedAt: Date;
  requestBody: unknown;
  /** JSON array, ids Graph generates only: same-named entities that existed before the create. */
  preexistingIds?: string;
}

export interface AuditOutcome {
  status: Exclude<AuditStatus, 'pending'>;
  httpStatus: number;
  entityId?: string;
  graphRequestId: string | undefined;
  errorCode?: string;
  completedAt: Date;
  responseBody: unknown;
  /** Graph attempts after the first. */
  retries?: number;
  /** How a lost answer was settled. */
  recovery?: Recovery;
}

export interface AuditKey {
  partitionKey: string;
  rowKey: string;
}

/** Stored form: a Table Storage entity, the intent's fields plus what Graph's answer settled. */
export interface AuditEntity extends AuditKey, Omit<AuditIntent, 'requestBody'> {
  status: AuditStatus;
  httpStatus?: number;
  errorCode?: string;
  graphRequestId?: string;
  completedAt?: Date;
  durationMs?: number;
  requestBody: string;
  requestBodyTruncated: boolean;
  responseBody?: string;
  responseBodyTruncated?: boolean;
  retries?: number;
  recovery?: string;
  reconciledAt?: Date;
  /** Failed reconciliations of this record, the next one not before `reconcileAfter`. */
  reconcileAttempts?: number;
  reconcileAfter?: Date;
  reconcileError?: string;
}

/** Table Storage holds at most 64 KiB in one string property; bodies are capped well below. */
export const bodyCapBytes = 32 * 1024;

export function cappedJson(value: unknown): { json: string; truncated: boolean } {
  const json = JSON.stringify(value ?? null);
  const bytes = Buffer.from(json, 'utf8');
  if (bytes.length <= bodyCapBytes) return { json, truncated: false };
  // Cut on a character boundary: decoding a cut multi-byte sequence would leave U+FFFD behind.
  let end = bodyCapBytes;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return { json: bytes.subarray(0, end).toString('utf8'), truncated: true };
}

/**
 * PartitionKey is the operation and RowKey the request time then the request id, so one
 * partition query lists an operation's records in time order, a time window being a RowKey range.
 */
export function auditKeyFor(intent: Pick<AuditIntent, 'operation' | 'requestedAt' | 'requestId'>): AuditKey {
  return { partitionKey: intent.operation, rowKey: `${intent.requestedAt.toISOString()}_${intent.requestId}` };
}

/** Index rows find the record of a created entity from its Graph path (`external/connections/c1`). */
export const entityIndexPartition = (entityType: string) => `entity_${entityType}`;
export const entityIndexRowKey = (entityPath: string) => encodeURIComponent(entityPath.replace(/^\/+/, ''));
