import { createHash } from 'node:crypto';
import { odata } from '@azure/data-tables';
import { badRequest } from '../errors';
import { recordRange, type AuditStatus } from './auditRecord';
import type { AuditStore, RecordScan, StoredAuditRecord } from './auditStore';

/**
 * Reading the audit trail without reading the table (docs/integrating.md "Audit query API"). Records live one
 * partition per operation, row keys in inverted time, so "newest first within [from, to)" is one
 * partition range query, and a page of `top` records asks each partition for at most `top + 1`.
 * Several operations are merged newest first: each page reads at most `top + 1` records per
 * operation, whatever the table holds. Conditions no key serves (status, caller, entity) are
 * applied by the table service to the records of a time window, which is why that window is bounded.
 */

const dayMs = 24 * 3_600_000;

/** The window of a narrowed query (status, caller or entity): by default the last 7 days, at most 31. */
export const auditWindow = { defaultDays: 7, maxDays: 31 } as const;

export const defaultPageSize = 100;
export const maxPageSize = 1_000;

/** Answers of the table service one page may wait for, per operation (each at most 5 s or 1,000 rows). */
const maxServicePagesPerPage = 4;

export interface TimeWindow {
  /** Inclusive. */
  from: Date;
  /** Exclusive. */
  to: Date;
}

const isoSeconds = (date: Date) => date.toISOString().replace(/\.000Z$/, 'Z');

/**
 * The time window of a query: `[from, to)`, `to` by default now. A query narrowed by a condition
 * no key serves reads a window of at most `auditWindow.maxDays`, by default the last
 * `auditWindow.defaultDays`; one that is not may reach back to the first record.
 */
export function resolveWindow(given: { from?: Date; to?: Date }, now: Date, narrowed: boolean): TimeWindow {
  const to = given.to ?? now;
  const from = given.from ?? (narrowed ? new Date(to.getTime() - auditWindow.defaultDays * dayMs) : new Date(0));
  if (from.getTime() >= to.getTime()) {
    throw badRequest(`The time window is empty: from (${isoSeconds(from)}) must be before to (${isoSeconds(to)}).`, [
      { code: 'invalidValue', message: 'from must be before to', target: 'from' },
    ]);
  }
  checkSpan({ from, to }, narrowed);
  return { from, to };
}

function checkSpan(window: TimeWindow, narrowed: boolean): void {
  const spanMs = window.to.getTime() - window.from.getTime();
  if (!narrowed || spanMs <= auditWindow.maxDays * dayMs) return;
  const days = Math.ceil(spanMs / dayMs);
  throw badRequest(
    `The time window is too long: with status, callerId or entityId it may span at most ${auditWindow.maxDays} days ` +
      `(from ${isoSeconds(window.from)} to ${isoSeconds(window.to)} spans ${days} days). Narrow from and to, or query one window after another.`,
    [{ code: 'windowTooLarge', message: `at most ${auditWindow.maxDays} days between from and to when filtering by status, callerId or entityId`, target: 'from' }],
  );
}

/** Where the next page starts: the records after `key` (`inclusive`: from `key` on). */
export interface PageCursor {
  key: string;
  inclusive: boolean;
}

/**
 * What one read of a source told: its records (newest first) and how far they reach. `knownTo`:
 * every match up to that row key (`inclusive`) or below it was read; absent when the source has no
 * more after its last record.
 */
export interface SourceRead<T extends { rowKey: string }> {
  records: T[];
  knownTo?: { key: string; inclusive: boolean };
}

const within = (key: string, bound: { key: string; inclusive: boolean } | undefined) =>
  !bound || key < bound.key || (bound.inclusive && key === bound.key);

function lowerBound<B extends { key: string; inclusive: boolean }>(bounds: (B | undefined)[]): B | undefined {
  let lowest: B | undefined;
  for (const bound of bounds) {
    if (!bound) continue;
    if (!lowest || bound.key < lowest.key || (bound.key === lowest.key && !bound.inclusive)) lowest = bound;
  }
  return lowest;
}

/**
 * One page from several sources, newest first. A record is only placed once every source is known
 * up to it (the lowest `knownTo` of all), so a source read less far can never have a newer record
 * that should have come first. Row keys are unique across the table (inverted time and request id).
 */
export function mergePage<T extends { rowKey: string }>(reads: readonly SourceRead<T>[], top: number): { records: T[]; next?: PageCursor } {
  const known = lowerBound(reads.map((read) => read.knownTo));
  const placeable = reads
    .flatMap((read) => read.records)
    .filter((record) => within(record.rowKey, known))
    .sort((a, b) => (a.rowKey < b.rowKey ? -1 : a.rowKey > b.rowKey ? 1 : 0));
  const records = placeable.slice(0, top);
  if (placeable.length <= top && !known) return { records };
  const last = records.at(-1);
  if (records.length === top && last) return { records, next: { key: last.rowKey, inclusive: false } };
  // Fewer than a page could be placed: resume where what is known ends.
  return { records, next: { key: known!.key, inclusive: !known!.inclusive } };
}

/** A source read by a partition range scan of at most `limit` records. */
export function sourceReadOf<T extends { rowKey: string }>(scan: Pick<RecordScan, 'exhausted' | 'resumeAt'> & { records: T[] }): SourceRead<T> {
  if (scan.exhausted) return { records: scan.records };
  // Stopped for its page budget: known up to where the table service would have gone on.
  if (scan.resumeAt !== undefined) return { records: scan.records, knownTo: { key: scan.resumeAt, inclusive: false } };
  // Stopped at `limit`: known up to its last record.
  return { records: scan.records, knownTo: { key: scan.records.at(-1)!.rowKey, inclusive: true } };
}

export interface RecordFilters {
  status?: readonly AuditStatus[];
  entityId?: string;
  callerId?: string;
  /** The caller's client-request-id: a flow's one id for a request and whatever it made (a manifest apply's creates share it). */
  clientRequestId?: string;
}

export const isNarrowed = (filters: RecordFilters) =>
  Boolean(filters.status?.length || filters.entityId !== undefined || filters.callerId !== undefined || filters.clientRequestId !== undefined);

/** The filters as an OData condition the table service applies within the range. */
function whereOf(filters: RecordFilters): string | undefined {
  const conditions: string[] = [];
  if (filters.status?.length) conditions.push(`(${filters.status.map((status) => odata`status eq ${status}`).join(' or ')})`);
  if (filters.entityId !== undefined) conditions.push(odata`entityId eq ${filters.entityId}`);
  if (filters.callerId !== undefined) conditions.push(odata`callerId eq ${filters.callerId}`);
  if (filters.clientRequestId !== undefined) conditions.push(odata`clientRequestId eq ${filters.clientRequestId}`);
  return conditions.length > 0 ? conditions.join(' and ') : undefined;
}

export interface PageRequest {
  /** The operations (partitions) to read; several are merged newest first. */
  operations: readonly string[];
  window: TimeWindow;
  filters: RecordFilters;
  top: number;
  after?: PageCursor;
  /** Only these properties of each record. */
  select?: readonly string[];
}

export interface RecordPage {
  records: StoredAuditRecord[];
  next?: PageCursor;
}

/**
 * One page of records, newest first: per operation one range query asking for `top + 1` records
 * (the one more tells whether a next page exists), all at once, then merged.
 */
export async function readPage(store: AuditStore, request: PageRequest): Promise<RecordPage> {
  const range = recordRange(request.window.from, request.window.to);
  const limit = request.top + 1;
  const where = whereOf(request.filters);
  const reads = await Promise.all(
    request.operations.map(async (operation) => {
      const scan = await store.scanRecords(
        operation,
        { ...range, ...(request.after ? { after: request.after } : {}) },
        { limit, maxServicePages: maxServicePagesPerPage, ...(where ? { where } : {}), ...(request.select ? { select: request.select } : {}) },
      );
      return sourceReadOf(scan);
    }),
  );
  return mergePage(reads, request.top);
}

/**
 * `$skiptoken`: where the next page starts and the window the first page fixed, tied to the query
 * it belongs to. Opaque to callers (base64url JSON and a checksum): a token that was changed, or
 * that comes with other parameters than its query's, is refused. The checksum is not a secret:
 * whoever forges a token gets no more than the query they could have sent themselves, with the
 * same window rules applied again.
 */
interface SkipToken {
  v: 1;
  /** Cursor key and whether it is inclusive. */
  k: string;
  i: 0 | 1;
  /** The window, epoch ms. */
  f: number;
  t: number;
  /** Fingerprint of the query's other parameters. */
  q: string;
}

const checksumOf = (payload: string) => createHash('sha256').update(`audit-page\n${payload}`).digest('base64url').slice(0, 22);

/** The parameters a token belongs to (everything but `$top` and `$skiptoken`), as a short hash. */
export function queryFingerprint(parameters: Record<string, unknown>): string {
  const canonical = Object.keys(parameters)
    .filter((name) => name !== '$top' && name !== '$skiptoken' && parameters[name] !== undefined)
    .sort()
    .map((name) => `${name}=${String(parameters[name])}`)
    .join('&');
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

export function encodeSkipToken(cursor: PageCursor, window: TimeWindow, fingerprint: string): string {
  const token: SkipToken = { v: 1, k: cursor.key, i: cursor.inclusive ? 1 : 0, f: window.from.getTime(), t: window.to.getTime(), q: fingerprint };
  const payload = JSON.stringify(token);
  return `${Buffer.from(payload, 'utf8').toString('base64url')}.${checksumOf(payload)}`;
}

const notOurs = () =>
  badRequest('The $skiptoken is not one this service issued, or it was changed: follow @odata.nextLink as it was returned.', [
    { code: 'invalidValue', message: 'not a $skiptoken of this service', target: '$skiptoken' },
  ]);

/** A record row key: 13 digits of inverted time, `_`, the request id. */
const cursorKey = /^\d{13}_[\x21-\x7e]{1,200}$/;

export function decodeSkipToken(value: string, fingerprint: string, narrowed: boolean): { cursor: PageCursor; window: TimeWindow } {
  const [encoded, checksum, ...rest] = value.split('.');
  if (!encoded || !checksum || rest.length > 0) throw notOurs();
  const payload = Buffer.from(encoded, 'base64url').toString('utf8');
  if (checksumOf(payload) !== checksum) throw notOurs();
  let token: Partial<SkipToken>;
  try {
    token = JSON.parse(payload) as Partial<SkipToken>;
  } catch {
    throw notOurs();
  }
  const { v, k, i, f, t, q } = token;
  if (v !== 1 || typeof k !== 'string' || !cursorKey.test(k) || (i !== 0 && i !== 1) || !Number.isSafeInteger(f) || !Number.isSafeInteger(t) || typeof q !== 'string') {
    throw notOurs();
  }
  if (q !== fingerprint) {
    throw badRequest('The $skiptoken belongs to another query: follow @odata.nextLink as it was returned, without changing its other parameters.', [
      { code: 'invalidValue', message: 'the $skiptoken was issued for other parameters', target: '$skiptoken' },
    ]);
  }
  const window = { from: new Date(f!), to: new Date(t!) };
  if (window.from.getTime() >= window.to.getTime()) throw notOurs();
  checkSpan(window, narrowed);
  return { cursor: { key: k, inclusive: i === 1 }, window };
}
