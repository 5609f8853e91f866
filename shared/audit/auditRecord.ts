import { createHash } from 'node:crypto';
import { identityOf } from '../graph/paths';

/** What the audit table says about one create request (docs/operating.md "Audit records"). */

/**
 * - `pending`: the request may call or have called Graph, and has not recorded what happened;
 * - `succeeded`: the entity exists, made by this request (or, for a retry, by an earlier attempt of
 *   the same ask, named in `madeBy`);
 * - `failed`: this request made nothing;
 * - `alreadyExisted`: the entity was there already, made by another ask, and this request made
 *   nothing; its caller was told so as an outcome, not an error (a bulk item answered
 *   `alreadyMember`): not a failure, so the failure queries and alerts leave it out;
 * - `unknown`: Graph's answer was lost; the entity may exist (`reason` says why it is not known);
 * - `orphaned`: this request made the entity, but its id never reached a caller (ids Graph chooses);
 * - `unresolved`: still not known when the retention ended; operators decide (`reason`).
 */
export type AuditStatus = 'pending' | 'succeeded' | 'failed' | 'alreadyExisted' | 'unknown' | 'orphaned' | 'unresolved';

export const openStatuses: readonly AuditStatus[] = ['pending', 'unknown'];

/**
 * How a record came to be settled when Graph's own answer to it was not the proof:
 * - `readBack`: after a 409, the entity read back holds what this ask sent;
 * - `createConflict`: after a 409, for members (Graph has no read of one): the ask's earlier
 *   attempt is the only one that can have made it;
 * - `earlierAttempt`: this request answered with what an earlier attempt of the same ask made;
 * - `laterRequest`: a later request of the same ask found what this one made (or that it made nothing);
 * - `reconciliation`: the reconciliation run found it out by reading Graph and the audit table.
 */
export type Recovery = 'readBack' | 'createConflict' | 'earlierAttempt' | 'laterRequest' | 'reconciliation';

export interface AuditIntent {
  operation: string;
  entityType: string;
  /** The entity's own id; for ids Graph chooses, empty until known. */
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
  /** After this, the request sends nothing more to Graph. */
  deadlineAt: Date;
  requestBody: unknown;
  /**
   * What identifies the entity before it exists: its path below the version for ids the caller
   * chooses (`external/connections/c1/groups/g1`), the collection and natural key otherwise.
   */
  entityKey: string;
  /** The ask: the same caller, Graph path and body. Requests of one ask are retries of each other. */
  askKey: string;
  /** JSON array, ids Graph chooses only: same-named entities that existed before the create. */
  preexistingIds?: string;
}

export interface AuditOutcome {
  status: Exclude<AuditStatus, 'pending'>;
  httpStatus: number;
  entityId?: string;
  graphRequestId?: string | undefined;
  errorCode?: string;
  /** Why the record says what it says, when Graph's answer alone does not: unknown, orphaned, unresolved, recovered. */
  reason?: string;
  completedAt: Date;
  responseBody: unknown;
  /** Graph attempts after the first. */
  retries?: number;
  recovery?: Recovery;
  /** The record (row key) of the request whose attempt made the entity, when not this one. */
  madeBy?: string;
  /** The record (row key) of the request whose answer settled this one. */
  settledBy?: string;
}

export interface AuditKey {
  partitionKey: string;
  rowKey: string;
}

/** Stored form: a Table Storage entity, the intent's fields plus what settled it. */
export interface AuditEntity extends AuditKey, Omit<AuditIntent, 'requestBody'> {
  kind: 'record';
  status: AuditStatus;
  httpStatus?: number;
  errorCode?: string;
  reason?: string;
  graphRequestId?: string;
  completedAt?: Date;
  durationMs?: number;
  requestBody: string;
  requestBodyTruncated: boolean;
  responseBody?: string;
  responseBodyTruncated?: boolean;
  retries?: number;
  recovery?: Recovery;
  madeBy?: string;
  settledBy?: string;
  reconciledAt?: Date;
  /** Reconciliation does not look at the record before this (written with the intent, then pushed back). */
  reconcileAfter: Date;
  /** Failed reconciliations of this record. */
  reconcileAttempts?: number;
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

/** A body a record keeps, parsed; undefined when it is no JSON (cut at the cap, or not JSON as Graph sent it). */
export function keptJson(json: string | undefined): unknown {
  if (!json) return undefined;
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

/**
 * The table's layout: one partition per operation, so every write a request makes is one entity
 * group transaction. Row keys tell the rows apart; records start with a digit and sort before the
 * rest:
 * - `{inverted time}_{requestId}`: a request's record; newest first, a time window is a range;
 * - `entity_{entity path}`: which record made an entity (the entity index);
 * - `open_{hash of the entity key}_{record row key}`: an attempt not yet settled;
 * - `key_{hash of caller and key}`: an Idempotency-Key.
 */
const newestTime = 9_999_999_999_999;

/** The row key prefix of records requested at `time`: later times sort first. */
export function timePrefix(time: Date | number): string {
  return String(newestTime - (typeof time === 'number' ? time : time.getTime())).padStart(13, '0');
}

export function recordRowKey(requestedAt: Date, requestId: string): string {
  return `${timePrefix(requestedAt)}_${requestId}`;
}

export function auditKeyFor(intent: Pick<AuditIntent, 'operation' | 'requestedAt' | 'requestId'>): AuditKey {
  return { partitionKey: intent.operation, rowKey: recordRowKey(intent.requestedAt, intent.requestId) };
}

/**
 * Row key bounds of the records requested in [from, to): `RowKey ge low and RowKey lt high`.
 * Every record row key starts with 13 digits, so the bounds never reach the other rows.
 */
export function recordRange(from: Date, to: Date): { low: string; high: string } {
  const within = (time: number) => Math.min(newestTime, Math.max(0, time));
  return {
    low: timePrefix(within(to.getTime() - 1)),
    high: from.getTime() <= 0 ? lastRecordRowKey : timePrefix(within(from.getTime() - 1)),
  };
}

/** Above every record row key (digits and `_`), below the other rows (letters). */
export const lastRecordRowKey = '`';

const entityIndexPrefix = 'entity_';

/** The index row of an entity, under the spelling-blind form of its path (every spelling Graph may count as one meets there). */
export const entityIndexRowKey = (entityPath: string) => `${entityIndexPrefix}${encodeURIComponent(identityOf(entityPath.replace(/^\/+/, '')))}`;

/** Where index rows written before the row key folded letter case were kept: the exact spelling. */
export const legacyEntityIndexRowKey = (entityPath: string) => `${entityIndexPrefix}${encodeURIComponent(entityPath.replace(/^\/+/, ''))}`;

/** The entity path as the maker's request spelled it (rows written before it was kept: the row key's). */
export const indexedSpellingOf = (row: Pick<EntityIndexRow, 'rowKey' | 'entityPath'>) =>
  row.entityPath ?? decodeURIComponent(row.rowKey.slice(entityIndexPrefix.length));

/** Whether the index row names this very spelling of the entity; otherwise one Graph may or may not count as the same. */
export const spelledAlike = (row: Pick<EntityIndexRow, 'rowKey' | 'entityPath'>, entityPath: string) => indexedSpellingOf(row) === entityPath.replace(/^\/+/, '');

const hashOf = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 32);

export const openAttemptPrefix = (entityKey: string) => `open_${hashOf(entityKey)}_`;
export const openAttemptRowKey = (entityKey: string, recordKey: string) => `${openAttemptPrefix(entityKey)}${recordKey}`;

/** The ask of a request: who asked, which Graph path, which body (its fingerprint). */
export const askKeyOf = (callerId: string, graphPath: string, bodyFingerprint: string) => hashOf(`${callerId}\n${graphPath}\n${bodyFingerprint}`);

/** Where the index says an entity came from: Graph's own answer to its create, or a recovery. */
export interface EntityIndexRow extends AuditKey {
  kind: 'entity';
  auditRowKey: string;
  /** The entity's path as its maker's request spelled it (the row key folds letter case). */
  entityPath?: string;
  /** `answered`: Graph answered the create of that record; `attributed`: found out later. */
  proof: 'answered' | 'attributed';
}

/** An attempt whose outcome is not settled: later requests for the same entity find it here. */
export interface OpenAttemptRow extends AuditKey {
  kind: 'attempt';
  state: 'open' | 'closed';
  recordRowKey: string;
  askKey: string;
  callerId: string;
  requestedAt: Date;
  /** Deleted once past: a request past the retention no longer counts as an earlier attempt. */
  expiresAt: Date;
}
