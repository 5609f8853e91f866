import type { AuditOutcome, AuditStatus, Recovery } from '../audit/auditRecord';
import type { StoredAuditRecord } from '../audit/auditStore';
import type { GraphClient } from '../graph/graphClient';
import type { AuditStore } from '../audit/auditStore';
import type { OperationDefinition } from '../operations/operation';
import type { Clock } from '../time/clock';

/**
 * The lost-answer rules' vocabulary. An *ask* is what a caller asked for: the same caller, the
 * same Graph path (parent included) and the same body; an unkeyed retry is the same ask again, and
 * so is every request with the same Idempotency-Key. An *attempt* is one request's try at it,
 * recorded in the audit table before it is sent; it is *open* while nobody knows whether it made
 * the entity.
 */

/** What recovery needs of the runtime: the audit table (reads), Graph (reads only) and the clock. */
export interface RecoveryDependencies {
  audit: Pick<AuditStore, 'get' | 'indexOf' | 'openAttempts'>;
  graph: GraphReader;
  clock: Clock;
  /** How long an attempt counts for later requests (the Idempotency-Key retention). */
  retentionMs: number;
  /** Reconciliation looks at a record this long after it was made. */
  reconcileAfterMs: number;
}

/** This request's attempt, as recorded. */
export interface OwnAttempt {
  operation: OperationDefinition;
  rowKey: string;
  askKey: string;
  entityKey: string;
  /** `/v1.0/external/connections/c1/groups` */
  graphPath: string;
  /** The body sent to Graph. */
  body: Record<string, unknown>;
  /** Ids the caller chooses: the entity's id and path below the version (`external/connections/c1`). */
  entity?: { id: string; path: string };
  headers: Record<string, string>;
  deadlineAt: number;
}

/** How an earlier record is settled by this request's answer. */
export interface SettledRecord {
  record: StoredAuditRecord;
  outcome: Pick<AuditOutcome, 'status' | 'reason' | 'recovery' | 'madeBy' | 'entityId' | 'errorCode'> & { status: Exclude<AuditStatus, 'pending'> };
}

/**
 * A success that Graph's answer to this request's own create did not prove on its own: which
 * record's attempt made the entity, and the earlier records that settles.
 */
export interface Attribution {
  entity: Record<string, unknown>;
  graphRequestId?: string | undefined;
  recovery: Recovery;
  /** The record whose attempt made the entity; this request's own when absent. */
  madeBy?: string;
  settles: SettledRecord[];
}

/** The part of the Graph client recovery uses. */
export type GraphReader = Pick<GraphClient, 'send' | 'relativePath'>;

/** Not settled yet: reconciliation still looks at it. */
export const isOpen = (record: Pick<StoredAuditRecord, 'status'>) => record.status === 'pending' || record.status === 'unknown';
/** Whether it made the entity is not known, settled or not (`unresolved` is left to people, but may have). */
export const mayHaveMadeIt = (record: Pick<StoredAuditRecord, 'status'>) => isOpen(record) || record.status === 'unresolved';

/** The body a record says was sent, or undefined when it was too large to keep whole. */
export function sentBodyOf(record: Pick<StoredAuditRecord, 'requestBody' | 'requestBodyTruncated'>): Record<string, unknown> | undefined {
  if (record.requestBodyTruncated) return undefined;
  try {
    const body: unknown = JSON.parse(record.requestBody);
    return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Oldest first: the attempt most likely to have made an entity several attempts of one ask could have made. */
export const oldestFirst = <T extends { requestedAt: Date | string }>(records: T[]) =>
  [...records].sort((one, other) => new Date(one.requestedAt).getTime() - new Date(other.requestedAt).getTime());
