import { gunzipSync, gzipSync } from 'node:zlib';
import type { AuditIntent, AuditKey } from '../audit/auditRecord';
import type { BulkItemStatus } from '../schemas/bulk';

/**
 * The record of a bulk request in the audit table, in the partition of the create it repeats (so
 * it and its items' records are written together, in entity group transactions). It is also the
 * job's state, which any instance reads to answer a poll or to carry the work on:
 * - row key `{inverted time}_{requestId}` like any record (newest first, a time window is a range);
 *   the records of its items follow it, `{its row key}.{index}` (`.00000`, `.00001`, …), each an
 *   ordinary create record with its open-attempt row, so a later single request for the same
 *   entity finds it and reconciliation treats it like any other;
 * - `kind: 'bulk'`, never `record`: reconciliation and the lost-answer rules look at items only;
 * - the items as sent (`items0…`, gzip + Base64 chunks): a run that picks the job up knows them all,
 *   also those whose record was not written yet;
 * - `status` `accepted` (queued) → `running` → `completed` with the results (`results0…`) and counts,
 *   or `failed` when nothing could be added (the parent does not exist: `errorCode`, `errorMessage`);
 * - `leaseUntil`/`leaseOwner`: the run that holds the job; every write of a run is conditional on
 *   its lease, so two runs never work at once; `runs` counts the runs that claimed it.
 */

export type BulkStatus = 'accepted' | 'running' | 'completed' | 'failed';

export interface BulkItemResult {
  id: string;
  status: BulkItemStatus;
  error?: { code: string; message: string; httpStatus: number };
  /** `created` by another request of the same ask (an earlier add of the same member by the same caller): its audit record. */
  madeBy?: string;
}

export interface BulkResults {
  results: BulkItemResult[];
  created: number;
  alreadyMember: number;
  failed: number;
}

/**
 * The intent's fields a bulk request's record shares with its items' records; `operation` is the
 * bulk operation (`addExternalGroupMembersInBulk`, the partition is its item's), `graphPath` where
 * each item is created (`/v1.0/external/connections/c1/groups/g1/members`).
 */
type SharedFields = Pick<
  AuditIntent,
  'operation' | 'entityType' | 'graphPath' | 'graphVersion' | 'requestId' | 'clientRequestId' | 'callerId' | 'callerAppId' | 'callerName' | 'callerTenantId' | 'requestedAt'
>;

export interface BulkEntity extends AuditKey, SharedFields {
  kind: 'bulk';
  /** Answered 202 and run from the queue. */
  async: boolean;
  status: BulkStatus;
  total: number;
  /** Items settled so far. */
  done: number;
  created?: number;
  alreadyMember?: number;
  failed?: number;
  completedAt?: Date;
  durationMs?: number;
  /** A failed request's error, as its caller is answered (`itemNotFound`, naming the missing parent). */
  errorCode?: string;
  errorMessage?: string;
  errorTarget?: string;
  runs: number;
  /** When a poll of the status URL last queued the job again, no run having held it for long. */
  resumedAt?: Date;
  leaseUntil: Date;
  leaseOwner: string;
  /** JSON array: records of earlier bulk requests with the same Idempotency-Key, to account for. */
  earlierAttempts: string;
  itemChunks: number;
  resultChunks?: number;
  [chunk: `items${number}` | `results${number}`]: string;
}

export type StoredBulkEntity = BulkEntity & { etag: string };

/** The record row key of item `index` of the bulk request whose record is `bulkRowKey`. */
export const itemRowKey = (bulkRowKey: string, index: number) => `${bulkRowKey}.${String(index).padStart(5, '0')}`;

/** Bounds of the item records of a bulk request: `low < RowKey < high` (`.` sorts just below `/`). */
export const itemRange = (bulkRowKey: string) => ({ low: bulkRowKey, high: `${bulkRowKey}/` });

/** The index of an item record, from its row key. */
export function itemIndexOf(bulkRowKey: string, rowKey: string): number | undefined {
  if (!rowKey.startsWith(`${bulkRowKey}.`)) return undefined;
  const index = Number(rowKey.slice(bulkRowKey.length + 1));
  return Number.isInteger(index) ? index : undefined;
}

/** A bulk request's id (in its status URL): its record's row key. */
export const bulkIdPattern = /^\d{13}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Table Storage strings hold 32K UTF-16 characters: the JSON is compressed and split. */
const chunkLength = 30_000;

export function toChunks(prefix: 'items' | 'results', value: unknown): Record<string, string | number> {
  const encoded = gzipSync(Buffer.from(JSON.stringify(value), 'utf8')).toString('base64');
  const chunks: Record<string, string | number> = {};
  let count = 0;
  for (let start = 0; start < encoded.length; start += chunkLength, count += 1) chunks[`${prefix}${count}`] = encoded.slice(start, start + chunkLength);
  chunks[prefix === 'items' ? 'itemChunks' : 'resultChunks'] = count;
  return chunks;
}

export function fromChunks<T>(entity: object, prefix: 'items' | 'results'): T | undefined {
  const row = entity as Record<string, unknown>;
  const count = Number(row[prefix === 'items' ? 'itemChunks' : 'resultChunks'] ?? 0);
  if (!count) return undefined;
  const encoded = Array.from({ length: count }, (_, index) => row[`${prefix}${index}`] ?? '').join('');
  return JSON.parse(gunzipSync(Buffer.from(encoded, 'base64')).toString('utf8')) as T;
}

/** The counts of a list of results. */
export function tally(results: BulkItemResult[]): BulkResults {
  const count = (status: BulkItemStatus) => results.filter((result) => result.status === status).length;
  return { results, created: count('created'), alreadyMember: count('alreadyMember'), failed: count('failed') };
}
