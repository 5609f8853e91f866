import type { HttpResponseInit } from '@azure/functions';
import { odata } from '@azure/data-tables';
import { badRequest, FacadeError, serviceUnavailable } from '../errors';
import { collectionPathOf, entityPathOf, splitGraphPath } from '../graph/paths';
import { publicLinkTo, publicLocationOf } from '../http/publicLocation';
import type { QueryCall } from '../operations/query';
import { recordRange, spelledAlike, type AuditStatus } from './auditRecord';
import {
  decodeSkipToken,
  defaultPageSize,
  encodeSkipToken,
  isNarrowed,
  queryFingerprint,
  readPage,
  resolveWindow,
  type PageCursor,
  type RecordFilters,
  type TimeWindow,
} from './auditQuery';
import type { StoredAuditRecord } from './auditStore';
import { entityRecordView, listedProperties, recordView } from './auditView';

/**
 * The answers of the audit query API (docs/integrating.md "Audit query API"): a page of records across
 * operations, and the records of one entity. Reading only: nothing here writes to the table.
 */

/**
 * Whatever keeps the table from answering (refused, timed out, not configured) is the caller's
 * 503 with a retry hint; a fault of the code itself stays a 500.
 */
async function reading<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof FacadeError || error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError) throw error;
    throw serviceUnavailable('auditStoreUnavailable', 'The audit store cannot be read now. Retry later.', 10, error);
  }
}

interface ListQuery {
  operation?: string;
  status?: string;
  entityId?: string;
  callerId?: string;
  clientRequestId?: string;
  from?: string;
  to?: string;
  $top?: number;
  $skiptoken?: string;
}

const dateOf = (value: string | undefined) => (value === undefined ? undefined : new Date(value));

/** `GET /api/audit`: one page of records, newest first, `@odata.nextLink` to the next. */
export async function answerAuditList(call: QueryCall): Promise<HttpResponseInit> {
  const query = call.query as ListQuery;
  const filters: RecordFilters = {
    ...(query.status ? { status: [...new Set(query.status.split(','))] as AuditStatus[] } : {}),
    ...(query.entityId !== undefined ? { entityId: query.entityId } : {}),
    ...(query.callerId !== undefined ? { callerId: query.callerId } : {}),
    ...(query.clientRequestId !== undefined ? { clientRequestId: query.clientRequestId } : {}),
  };
  const narrowed = isNarrowed(filters);
  const fingerprint = queryFingerprint({ ...query });
  let window: TimeWindow;
  let after: PageCursor | undefined;
  if (query.$skiptoken) {
    ({ window, cursor: after } = decodeSkipToken(query.$skiptoken, fingerprint, narrowed));
  } else {
    window = resolveWindow({ from: dateOf(query.from), to: dateOf(query.to) }, call.now, narrowed);
  }
  const operations = query.operation ? [query.operation] : [...call.operations.map((operation) => operation.name), ...(call.recordedJobs ?? [])];
  const top = query.$top ?? defaultPageSize;
  const page = await reading(() =>
    readPage(call.runtime.audit, { operations, window, filters, top, select: listedProperties, ...(after ? { after } : {}) }),
  );
  const nextLink = page.next ? nextLinkOf(call, encodeSkipToken(page.next, window, fingerprint)) : undefined;
  return { status: 200, jsonBody: { value: page.records.map(recordView), ...(nextLink ? { '@odata.nextLink': nextLink } : {}) } };
}

/** The request's own URL with the next `$skiptoken`, as callers reach the API. */
function nextLinkOf(call: QueryCall, skipToken: string): string {
  const url = new URL(call.request.url);
  const search = new URLSearchParams(url.search);
  search.delete('$skiptoken');
  search.set('$skiptoken', skipToken);
  return publicLinkTo(publicLocationOf(call.request.url), `${url.pathname}?${search.toString()}`);
}

/** An entity's records in the window: more than this many would not be one entity's history but a loop. */
export const entityRecordLimit = 1_000;

interface EntityQuery {
  from?: string;
  to?: string;
  [parent: string]: string | undefined;
}

/**
 * `GET /api/audit/{operation}/{entityId}`: the record of the request that made the entity (the
 * entity index points at it, however old it is) and the other records of the entity requested in
 * the window (attempts that failed, were lost, retried…), newest first. An id names one entity
 * only with its parents (group `g1` may exist in several connections): given them
 * (`connectionId`, `groupId`), only that entity's records are shown; without them, those of every
 * entity with that id found in the window.
 */
export async function answerEntityAudit(call: QueryCall): Promise<HttpResponseInit> {
  const operation = call.operations.find((candidate) => candidate.name === call.params.operation);
  if (!operation) throw new Error(`no operation ${call.params.operation}: the parameters were validated against the registered ones`);
  const entityId = call.params.entityId!;
  const { from, to, ...parents } = call.query as EntityQuery;
  const parentNames = Object.keys(operation.params).filter((name) => name !== 'version');
  const foreign = Object.keys(parents).filter((name) => !parentNames.includes(name));
  if (foreign.length > 0) {
    throw badRequest(
      `${operation.name} has no ${foreign.join(' or ')}: ${parentNames.length > 0 ? `its entities belong to a ${parentNames.join(' and a ')}` : 'its entities belong to no parent'}.`,
      foreign.map((name) => ({ code: 'propertyNotAllowed', message: `"${name}" is not a parent of ${operation.name}`, target: name })),
    );
  }
  const window = resolveWindow({ from: dateOf(from), to: dateOf(to) }, call.now, true);
  // With every parent given (or none to give), the entity's Graph path is known.
  const knownCollection = parentNames.every((name) => parents[name] !== undefined)
    ? collectionPathOf(operation.graphPath, parents as Record<string, string>)
    : undefined;
  const audit = call.runtime.audit;

  const found = await reading(async () => {
    const scan = await audit.scanRecords(operation.name, recordRange(window.from, window.to), {
      where: odata`entityId eq ${entityId}`,
      limit: entityRecordLimit,
      maxServicePages: 20,
    });
    const collectionOf = (record: StoredAuditRecord) => splitGraphPath(record.graphPath).collectionPath;
    const inWindow = scan.records.filter((record) => !knownCollection || collectionOf(record) === knownCollection);
    const entityPaths = new Set(inWindow.map((record) => entityPathOf(collectionOf(record), entityId)));
    if (knownCollection) entityPaths.add(entityPathOf(knownCollection, entityId));
    // The index row is shared by every spelling of the id; only the one spelled as asked names this entity's maker.
    const indexed = await Promise.all([...entityPaths].map(async (path) => {
      const row = await audit.indexOf(operation.name, path);
      return row && spelledAlike(row, path) ? row : undefined;
    }));
    const makers = new Set(indexed.flatMap((row) => (row ? [row.auditRowKey] : [])));
    const seen = new Set(inWindow.map((record) => record.rowKey));
    const older = await Promise.all(
      [...makers].filter((rowKey) => !seen.has(rowKey)).map((rowKey) => audit.get({ partitionKey: operation.name, rowKey })),
    );
    const records = [...inWindow, ...older.filter((record): record is StoredAuditRecord => record !== undefined)];
    records.sort((a, b) => (a.rowKey < b.rowKey ? -1 : 1));
    return { records, makers };
  });

  if (found.records.length === 0) {
    const where = knownCollection ? ` at ${entityPathOf(knownCollection, entityId)}` : '';
    throw new FacadeError(
      404,
      'itemNotFound',
      `No audit record of ${operation.name} for the entity ${entityId}${where} made it, and none was requested between ${window.from.toISOString()} and ${window.to.toISOString()}.`,
      { target: 'entityId' },
    );
  }
  return { status: 200, jsonBody: { value: found.records.map((record) => entityRecordView(record, found.makers.has(record.rowKey))) } };
}
