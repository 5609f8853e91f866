import { odata, type TableEntity, type TableEntityResult, type TransactionAction } from '@azure/data-tables';
import { serviceUnavailable } from '../errors';
import { pagesWithin, isStatus, type Table } from '../storage/table';
import {
  auditKeyFor,
  cappedJson,
  entityIndexRowKey,
  legacyEntityIndexRowKey,
  lastRecordRowKey,
  openAttemptPrefix,
  openAttemptRowKey,
  openStatuses,
  recordRange,
  type AuditEntity,
  type AuditIntent,
  type AuditKey,
  type AuditOutcome,
  type EntityIndexRow,
  type OpenAttemptRow,
} from './auditRecord';

export type StoredAuditRecord = AuditEntity & { etag: string };

/** Record row keys to scan: `[low, high)`, after a resume point. Row keys sort newest first. */
export interface RecordRange {
  low: string;
  high: string;
  /** Only rows after this key (`inclusive`: from it on). */
  after?: { key: string; inclusive: boolean };
}

export interface ScanOptions {
  /** Further conditions on the records, OData (built with `odata`): applied by the table service. */
  where?: string;
  /** Only these properties (the table service leaves the others out of its answer). */
  select?: readonly string[];
  /** At most this many records; the table service is never asked for more than are still wanted. */
  limit: number;
  /**
   * At most this many answers of the table service, each holding what it found within its own
   * five seconds or 1,000 rows: a sparse condition over a long range stops here rather than keep
   * the caller waiting, and says where to resume.
   */
  maxServicePages: number;
}

export interface RecordScan {
  /** Newest first. */
  records: StoredAuditRecord[];
  /** Nothing after the last record matches. */
  exhausted: boolean;
  /** Set when the scan stopped for its page budget before `limit`: every match before this row key is in `records`. */
  resumeAt?: string;
}

/** The next row key the table service would have scanned (the SDK's continuation token: base64 JSON). */
function nextRowKeyOf(continuationToken: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(continuationToken, 'base64').toString('utf8'));
    const nextRowKey = (parsed as { nextRowKey?: unknown } | null)?.nextRowKey;
    return typeof nextRowKey === 'string' && nextRowKey !== '' ? nextRowKey : undefined;
  } catch {
    return undefined;
  }
}

/** The 503 of a write the audit store did not take: nothing was sent to Graph. */
export const auditStoreUnavailable = (cause: unknown) =>
  serviceUnavailable(
    'auditStoreUnavailable',
    'The audit store cannot be written, so nothing was sent to Microsoft Graph. Retry later.',
    10,
    cause,
  );

/** One record to settle: its new state over what it held, and the attempt row to close with it. */
export interface RecordChange {
  /** The record as it is now: the intent just written, or a stored record. */
  record: Omit<AuditEntity, 'status' | 'reconcileAfter'> & Partial<Pick<AuditEntity, 'status' | 'reconcileAfter'>>;
  outcome: AuditOutcome;
  /** Apply only if the record is still as read (another writer may have settled it meanwhile). */
  etag?: string;
  /** Keep the attempt open (the outcome is still not known), pushing reconciliation back to this time. */
  stillOpenUntil?: Date;
}

/** Everything one request's answer settles, written as one entity group transaction. */
export interface Settlement {
  partitionKey: string;
  /** The request's own record first; then earlier records its answer settles. */
  changes: RecordChange[];
  /** Point the entity index at a record: `answered` replaces any row, `attributed` only fills a missing one. */
  index?: { entityPath: string; auditRowKey: string; proof: EntityIndexRow['proof'] };
  /** Other rows of the partition to write in the same transaction (the Idempotency-Key's answer). */
  extra?: TransactionAction[];
}

/** Which parts of a settlement landed (`settle` throws when storage fails). */
export interface Settled {
  /** False when the own record was settled by someone else meanwhile (its etag no longer held). */
  own: boolean;
  others: boolean;
  index: boolean;
  extra: boolean;
}

/** What the audit record of a settled request holds: the intent's fields, then the outcome's. */
function settledEntity(change: RecordChange, completedAtFallback: Date): AuditEntity {
  const { record, outcome } = change;
  const { etag: _etag, timestamp: _timestamp, ...kept } = record as typeof record & { etag?: string; timestamp?: string };
  const body = cappedJson(outcome.responseBody);
  const completedAt = outcome.completedAt ?? completedAtFallback;
  const entity: AuditEntity = {
    ...kept,
    status: outcome.status,
    httpStatus: outcome.httpStatus,
    completedAt,
    durationMs: completedAt.getTime() - new Date(record.requestedAt).getTime(),
    responseBody: body.json,
    responseBodyTruncated: body.truncated,
    reconcileAfter: change.stillOpenUntil ?? record.reconcileAfter ?? record.requestedAt,
  } as AuditEntity;
  // Settled anew: nothing of an earlier state lingers (an error code on a success, a stale reason).
  for (const name of ['errorCode', 'reason', 'recovery', 'madeBy', 'settledBy', 'graphRequestId', 'reconciledAt', 'reconcileError'] as const) {
    delete entity[name];
  }
  if (outcome.entityId) entity.entityId = outcome.entityId;
  if (outcome.graphRequestId ?? record.graphRequestId) entity.graphRequestId = outcome.graphRequestId ?? record.graphRequestId;
  if (outcome.errorCode && (outcome.status === 'failed' || outcome.status === 'unknown' || outcome.status === 'unresolved')) {
    entity.errorCode = outcome.errorCode;
  }
  if (outcome.reason) entity.reason = outcome.reason.slice(0, 1_000);
  if (outcome.retries !== undefined) entity.retries = outcome.retries;
  if (outcome.recovery) entity.recovery = outcome.recovery;
  if (outcome.recovery === 'reconciliation') entity.reconciledAt = completedAt;
  if (outcome.madeBy) entity.madeBy = outcome.madeBy;
  if (outcome.settledBy) entity.settledBy = outcome.settledBy;
  return entity;
}

function attemptRow(partitionKey: string, record: Pick<AuditEntity, 'entityKey' | 'askKey' | 'callerId' | 'requestedAt' | 'rowKey'>, state: OpenAttemptRow['state'], expiresAt: Date): OpenAttemptRow {
  return {
    partitionKey,
    rowKey: openAttemptRowKey(record.entityKey, record.rowKey),
    kind: 'attempt',
    state,
    recordRowKey: record.rowKey,
    askKey: record.askKey,
    callerId: record.callerId,
    requestedAt: new Date(record.requestedAt),
    expiresAt,
  };
}

/**
 * A transaction's operations with the rows that tell who made an entity (index, records) before
 * the attempt rows that stop saying an attempt is open. Table Storage applies a transaction
 * atomically; a store that applies it one row at a time (Azurite) then never shows a reader an
 * entity with neither its maker nor an open attempt.
 */
function inEvidenceOrder(actions: TransactionAction[]): TransactionAction[] {
  const closing = (action: TransactionAction) => (action[1] as { kind?: unknown }).kind === 'attempt';
  return [...actions.filter((action) => !closing(action)), ...actions.filter(closing)];
}

/** The table service answered the call (it did not time out, and a connection was made). */
function storeAnswered(error: unknown): boolean {
  if (!(error instanceof Error) || error.name === 'AbortError') return false;
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  if (typeof statusCode === 'number') return true;
  // Node's own network errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, …) say nothing was answered.
  return !(typeof code === 'string' && /^E[A-Z]+$/.test(code));
}

/** A new record and its open attempt row. */
function intentActionsOf(entity: AuditEntity, expiresAt: Date): TransactionAction[] {
  return [
    ['create', tableRow(entity)],
    ['upsert', tableRow(attemptRow(entity.partitionKey, entity, 'open', expiresAt)), 'Replace'],
  ];
}

/** A row of ours as the SDK takes it (our row types have no index signature). */
const tableRow = (row: object) => row as TableEntity<Record<string, unknown>>;

function changeActions(partitionKey: string, change: RecordChange, now: Date, retentionMs: number): TransactionAction[] {
  const entity = settledEntity(change, now);
  // An unresolved record may still have made its entity: later requests keep finding its attempt.
  const open = change.stillOpenUntil !== undefined || entity.status === 'unresolved';
  const expiresAt = new Date(new Date(entity.requestedAt).getTime() + retentionMs);
  return [
    ['update', tableRow(entity), 'Replace', change.etag ? { etag: change.etag } : undefined],
    ['upsert', tableRow(attemptRow(partitionKey, entity, open ? 'open' : 'closed', expiresAt)), 'Replace'],
  ];
}

const isConflict = (error: unknown) => isStatus(error, 409) || isStatus(error, 412) || isStatus(error, 404);

export class AuditStore {
  /**
   * @param retentionMs how long an attempt counts as an earlier attempt for later requests of the
   *   same ask (the Idempotency-Key retention).
   */
  constructor(
    private readonly table: Table,
    private readonly retentionMs: number,
  ) {}

  /**
   * Writes the `pending` record that must exist before Graph is called, with its open attempt row,
   * in one transaction. Fails with a 503. Returns the record's etag.
   *
   * When the store answered but the write failed (its answer could not be read, or a refusal that
   * does not say why), the record is read back: one that landed is this request's intent; else the
   * write is tried once more. A store that timed out or could not be reached is not asked again
   * (the SDK has retried the connection already), so the caller's 503 comes in bounded time.
   */
  async recordIntent(intent: AuditIntent): Promise<{ key: AuditKey; etag: string }> {
    const key = auditKeyFor(intent);
    const { entity, expiresAt } = this.intentRows(intent, key);
    const actions = intentActionsOf(entity, expiresAt);
    let failure: unknown;
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      try {
        const etags = await this.submit(actions);
        return { key, etag: etags.get(key.rowKey) ?? '*' };
      } catch (error) {
        failure = error;
        if (!storeAnswered(error)) break;
        const landed = await this.get(key).catch(() => undefined);
        if (landed?.status === 'pending' && landed.requestId === intent.requestId) return { key, etag: landed.etag };
      }
    }
    // Not awaited: the caller's 503 does not wait on a store that is failing.
    void this.withdraw(entity, expiresAt);
    throw auditStoreUnavailable(failure);
  }

  /**
   * The two rows of an intent, its `pending` record and its open attempt, for a transaction (a
   * bulk request writes up to 50 intents in one). `key` places the record (default: by its time
   * and request id).
   */
  intentActions(intent: AuditIntent, key: AuditKey = auditKeyFor(intent)): TransactionAction[] {
    const { entity, expiresAt } = this.intentRows(intent, key);
    return intentActionsOf(entity, expiresAt);
  }

  private intentRows(intent: AuditIntent, key: AuditKey): { entity: AuditEntity; expiresAt: Date } {
    const body = cappedJson(intent.requestBody);
    const { requestBody: _sent, ...fields } = intent;
    const entity: AuditEntity = {
      ...key,
      ...fields,
      kind: 'record',
      status: 'pending',
      requestBody: body.json,
      requestBodyTruncated: body.truncated,
      reconcileAfter: intent.requestedAt,
    };
    return { entity, expiresAt: new Date(intent.requestedAt.getTime() + this.retentionMs) };
  }

  /** One entity group transaction (one partition, at most 100 actions); the etags it gave, by row key. */
  async submit(actions: TransactionAction[]): Promise<Map<string, string>> {
    const client = await this.table.ready();
    const result = await client.submitTransaction(actions, { abortSignal: this.table.signal() });
    const etags = new Map<string, string>();
    actions.forEach((action, index) => {
      const rowKey = (action[1] as { rowKey?: string }).rowKey;
      const etag = (rowKey === undefined ? undefined : result.getResponseForEntity(rowKey)?.etag) ?? result.subResponses[index]?.etag;
      if (rowKey !== undefined && etag) etags.set(rowKey, etag);
    });
    return etags;
  }

  /** The actions a settlement writes when all of it holds (what `settle` tries first, as one transaction). */
  settlementActions(settlement: Settlement, now: Date): TransactionAction[] {
    const { partitionKey } = settlement;
    const indexAction = settlement.index ? this.indexAction(partitionKey, settlement.index) : undefined;
    return inEvidenceOrder([
      ...(indexAction ? [indexAction] : []),
      ...settlement.changes.flatMap((change) => changeActions(partitionKey, change, now, this.retentionMs)),
      ...(settlement.extra ?? []),
    ]);
  }

  /**
   * The intent may have been written although its write did not say so (a timeout): nothing was
   * sent, so a record that did land says so, rather than leave reconciliation a question Graph
   * may not be able to answer (members). Best effort: storage is likely failing already.
   */
  private async withdraw(entity: AuditEntity, expiresAt: Date): Promise<void> {
    const withdrawn: AuditEntity = { ...entity, status: 'failed', errorCode: 'notSent', reason: 'the audit store did not confirm the record before Microsoft Graph was called, so nothing was sent' };
    try {
      const client = await this.table.ready();
      await client.submitTransaction(
        [
          ['update', tableRow(withdrawn), 'Replace'],
          ['upsert', tableRow(attemptRow(entity.partitionKey, entity, 'closed', expiresAt)), 'Replace'],
        ],
        { abortSignal: this.table.signal() },
      );
    } catch {
      // Not there (the intent never landed), or storage is down: reconciliation has the last word.
    }
  }

  /**
   * Writes a settlement in one transaction. If a conditional part of it does not hold (another
   * writer settled an earlier record, the index row exists, the key was taken over), the request's
   * own record is written alone and the other parts one by one, each only if it still holds.
   */
  async settle(settlement: Settlement, now: Date): Promise<Settled> {
    const client = await this.table.ready();
    const { partitionKey } = settlement;
    const [own, ...others] = settlement.changes;
    if (!own) throw new Error('a settlement settles at least the request’s own record');
    const indexAction = settlement.index ? this.indexAction(partitionKey, settlement.index) : undefined;
    try {
      await client.submitTransaction(this.settlementActions(settlement, now), { abortSignal: this.table.signal() });
      return { own: true, others: true, index: true, extra: true };
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
    const one = async (part: TransactionAction[]) => {
      try {
        await client.submitTransaction(part, { abortSignal: this.table.signal() });
        return true;
      } catch (error) {
        if (isConflict(error)) return false;
        throw error;
      }
    };
    // The record's attempt closes together with the index row naming the maker, never before it:
    // in between, a later request would find neither and could take the entity for its own.
    const ownActions = changeActions(partitionKey, own, now, this.retentionMs);
    let indexed = indexAction ? await one(inEvidenceOrder([indexAction, ...ownActions])) : false;
    const ownSettled = indexed || (await one(ownActions));
    if (!indexAction) indexed = true;
    let settledOthers = true;
    for (const change of others) {
      const settled = (await one(changeActions(partitionKey, change, now, this.retentionMs))) || (await this.adoptOrphanedMeanwhile(partitionKey, change, now, one));
      settledOthers = settled && settledOthers;
    }
    const extra = settlement.extra ? await one(settlement.extra) : true;
    return { own: ownSettled, others: settledOthers, index: indexed, extra };
  }

  /**
   * An earlier record this answer names as the entity's maker (`succeeded`: its id reaches a
   * caller now) that reconciliation recorded `orphaned` since it was read: it is written
   * `succeeded` all the same, as it would have been had the orphan been read (the caller has the id).
   */
  private async adoptOrphanedMeanwhile(partitionKey: string, change: RecordChange, now: Date, one: (part: TransactionAction[]) => Promise<boolean>): Promise<boolean> {
    if (change.outcome.status !== 'succeeded' || !change.outcome.entityId) return false;
    const current = await this.get({ partitionKey, rowKey: change.record.rowKey }).catch(() => undefined);
    if (current?.status !== 'orphaned' || current.entityId !== change.outcome.entityId) return false;
    return one(changeActions(partitionKey, { ...change, record: current, etag: current.etag }, now, this.retentionMs));
  }

  private indexAction(partitionKey: string, index: NonNullable<Settlement['index']>): TransactionAction {
    const row: EntityIndexRow = {
      partitionKey,
      rowKey: entityIndexRowKey(index.entityPath),
      kind: 'entity',
      entityPath: index.entityPath.replace(/^\/+/, ''),
      auditRowKey: index.auditRowKey,
      proof: index.proof,
    };
    // Graph's own answer to a create proves who made the entity; anything found out later only
    // fills a missing row and never repoints one.
    return index.proof === 'answered' ? ['upsert', tableRow(row), 'Replace'] : ['create', tableRow(row)];
  }

  /** Any row of the table by its key (a bulk request's record), or undefined. */
  async getRow<T extends object>(key: AuditKey): Promise<(T & { etag: string }) | undefined> {
    const client = await this.table.ready();
    try {
      return withoutTimestamp(await client.getEntity<T>(key.partitionKey, key.rowKey, { abortSignal: this.table.signal() }));
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** Merges properties into a row, only if it is still as read when `etag` is given (412 otherwise); its new etag. */
  async mergeRow(key: AuditKey, properties: Record<string, unknown>, etag?: string): Promise<string> {
    const client = await this.table.ready();
    const result = await client.updateEntity({ ...properties, partitionKey: key.partitionKey, rowKey: key.rowKey }, 'Merge', {
      ...(etag ? { etag } : {}),
      abortSignal: this.table.signal(),
    });
    return result.etag ?? '*';
  }

  async get(key: AuditKey): Promise<StoredAuditRecord | undefined> {
    const client = await this.table.ready();
    try {
      return withoutTimestamp(await client.getEntity<AuditEntity>(key.partitionKey, key.rowKey, { abortSignal: this.table.signal() }));
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** The index row of an entity (its path below the version, `external/connections/c1`). */
  async indexOf(operation: string, entityPath: string): Promise<EntityIndexRow | undefined> {
    const client = await this.table.ready();
    const read = async (rowKey: string) => {
      try {
        return await client.getEntity<EntityIndexRow>(operation, rowKey, { abortSignal: this.table.signal() });
      } catch (error) {
        if (isStatus(error, 404)) return undefined;
        throw error;
      }
    };
    const rowKey = entityIndexRowKey(entityPath);
    const legacy = legacyEntityIndexRowKey(entityPath);
    // A row written before the key folded letter case is still found under its own spelling.
    return (await read(rowKey)) ?? (legacy === rowKey ? undefined : await read(legacy));
  }

  /** The record of the request that made the entity at this Graph path (`external/connections/c1`). */
  async findByEntity(operation: string, entityPath: string): Promise<StoredAuditRecord | undefined> {
    const index = await this.indexOf(operation, entityPath);
    return index ? this.get({ partitionKey: operation, rowKey: index.auditRowKey }) : undefined;
  }

  /**
   * Attempts at the entity that are not settled yet, however old (one past the retention no longer
   * counts as an earlier attempt of a later request, but may still have made the entity): one range read.
   */
  async openAttempts(operation: string, entityKey: string): Promise<OpenAttemptRow[]> {
    const prefix = openAttemptPrefix(entityKey);
    return this.query<OpenAttemptRow>(
      odata`PartitionKey eq ${operation} and RowKey ge ${prefix} and RowKey lt ${`${prefix}~`} and state eq ${'open'}`,
      100,
    );
  }

  /**
   * Every open attempt in an operation's partition: one range query (paged), for a bulk request
   * that looks up all its members at once rather than one read each.
   */
  async openAttemptsOf(operation: string, limit = Number.POSITIVE_INFINITY): Promise<OpenAttemptRow[]> {
    return this.query<OpenAttemptRow>(odata`PartitionKey eq ${operation} and RowKey ge ${'open_'} and RowKey lt ${'open`'} and state eq ${'open'}`, limit);
  }

  /** The rows of a partition with `low < RowKey < high`, in row key order: one range query (paged). */
  async rowsBetween<T extends object>(partitionKey: string, low: string, high: string): Promise<(T & { etag: string })[]> {
    return this.query<T>(odata`PartitionKey eq ${partitionKey} and RowKey gt ${low} and RowKey lt ${high}`);
  }

  /** An operation's records requested in [from, to), newest first: one partition range query. */
  async listByOperation(operation: string, from: Date, to: Date): Promise<StoredAuditRecord[]> {
    const { low, high } = recordRange(from, to);
    return this.query<AuditEntity>(odata`PartitionKey eq ${operation} and RowKey ge ${low} and RowKey lt ${high}`);
  }

  /**
   * Records of one operation in a row key range, newest first: one partition range query, never
   * more than `limit` records asked of the table service. Only record rows are in the range (the
   * entity index, attempt and key rows sort after every record).
   */
  async scanRecords(operation: string, range: RecordRange, options: ScanOptions): Promise<RecordScan> {
    const client = await this.table.ready();
    const after = range.after
      ? range.after.inclusive
        ? odata` and RowKey ge ${range.after.key}`
        : odata` and RowKey gt ${range.after.key}`
      : '';
    const filter = `${odata`PartitionKey eq ${operation} and RowKey ge ${range.low} and RowKey lt ${range.high}`}${after}${options.where ? ` and (${options.where})` : ''}`;
    const records: StoredAuditRecord[] = [];
    let continuationToken: string | undefined;
    for (let pages = 1; ; pages += 1) {
      const wanted = Math.min(options.limit - records.length, 1_000);
      const listing = client
        .listEntities<AuditEntity>({ queryOptions: { filter, ...(options.select ? { select: [...options.select] } : {}) } })
        .byPage({ maxPageSize: wanted, ...(continuationToken ? { continuationToken } : {}) });
      const { value: page, done } = await nextWithin(listing, this.table.timeoutMs);
      if (done || !page) return { records, exhausted: true };
      for (const entity of page) records.push(withoutTimestamp(entity));
      continuationToken = page.continuationToken;
      if (!continuationToken) return { records, exhausted: true };
      if (records.length >= options.limit) return { records, exhausted: false };
      const resumeAt = pages >= options.maxServicePages ? nextRowKeyOf(continuationToken) : undefined;
      if (resumeAt) return { records, exhausted: false, resumeAt };
    }
  }

  /**
   * Records of an operation still `pending` or `unknown`, requested in [from, to), whose
   * reconciliation is due by `now`: a partition range query; records backing off are not returned,
   * so they cannot crowd out the others.
   */
  async listOpen(operation: string, from: Date, to: Date, now: Date, limit: number): Promise<StoredAuditRecord[]> {
    const { low, high } = recordRange(from, to);
    const [pending, unknown] = openStatuses;
    return this.query<AuditEntity>(
      odata`PartitionKey eq ${operation} and RowKey ge ${low} and RowKey lt ${high} and (status eq ${pending} or status eq ${unknown}) and reconcileAfter le ${now}`,
      limit,
    );
  }

  /** Notes a failed reconciliation of a record, and when the next may be tried. */
  async noteReconcileFailure(record: StoredAuditRecord, nextAttemptAt: Date, reason: string): Promise<void> {
    const client = await this.table.ready();
    await client.updateEntity(
      {
        partitionKey: record.partitionKey,
        rowKey: record.rowKey,
        reconcileAttempts: (record.reconcileAttempts ?? 0) + 1,
        reconcileAfter: nextAttemptAt,
        reconcileError: reason.slice(0, 1_000),
      },
      'Merge',
      { etag: record.etag, abortSignal: this.table.signal() },
    );
  }

  /**
   * Deletes the rows of settled attempts, at most `limit`. An open one stays until its record is
   * settled (at the latest `unresolved` when its retention ends): until then it may have made the entity.
   */
  async purgeAttempts(operation: string, limit: number): Promise<number> {
    const rows = await this.query<OpenAttemptRow>(
      odata`PartitionKey eq ${operation} and RowKey ge ${'open_'} and RowKey lt ${'open`'} and state eq ${'closed'}`,
      limit,
    );
    const client = await this.table.ready();
    let deleted = 0;
    for (const row of rows) {
      try {
        await client.deleteEntity(row.partitionKey, row.rowKey, { etag: (row as { etag?: string }).etag, abortSignal: this.table.signal() });
        deleted += 1;
      } catch (error) {
        if (!isStatus(error, 404) && !isStatus(error, 412)) throw error;
      }
    }
    return deleted;
  }

  private async query<T extends object>(filter: string, limit = Number.POSITIVE_INFINITY): Promise<(T & { etag: string })[]> {
    const client = await this.table.ready();
    const rows: (T & { etag: string })[] = [];
    const pages = client.listEntities<T>({ queryOptions: { filter } }).byPage({ maxPageSize: Math.min(limit, 1_000) });
    for await (const page of pagesWithin(pages, this.table.timeoutMs)) {
      for (const entity of page) {
        rows.push(withoutTimestamp(entity) as T & { etag: string });
        if (rows.length >= limit) return rows;
      }
    }
    return rows;
  }
}

/** One page of a listing, within the time a single table call gets. */
async function nextWithin<T>(pages: AsyncIterableIterator<T>, timeoutMs: number): Promise<IteratorResult<T>> {
  for await (const page of pagesWithin(pages, timeoutMs)) return { value: page, done: false };
  return { value: undefined, done: true };
}

function withoutTimestamp<T extends object>(entity: TableEntityResult<T>): T & { etag: string } {
  const { timestamp: _timestamp, ...rest } = entity as TableEntityResult<T> & { timestamp?: string };
  return rest as T & { etag: string };
}

export { lastRecordRowKey };
