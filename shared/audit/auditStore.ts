import type { TableEntityResult } from '@azure/data-tables';
import { serviceUnavailable } from '../errors';
import { isStatus, type Table } from '../storage/table';
import {
  auditKeyFor,
  cappedJson,
  entityIndexPartition,
  entityIndexRowKey,
  type AuditEntity,
  type AuditIntent,
  type AuditKey,
  type AuditOutcome,
  type AuditStatus,
} from './auditRecord';

interface EntityIndexRow {
  partitionKey: string;
  rowKey: string;
  auditPartitionKey: string;
  auditRowKey: string;
}

export type StoredAuditRecord = AuditEntity & { etag: string };

const unavailable = (cause: unknown) =>
  serviceUnavailable(
    'auditStoreUnavailable',
    'The audit store cannot be written, so nothing was sent to Microsoft Graph. Retry later.',
    10,
    cause,
  );

const escape = (value: string) => value.replace(/'/g, "''");

export class AuditStore {
  constructor(private readonly table: Table) {}

  /** Writes the `pending` record that must exist before Graph is called. Fails with a 503. */
  async recordIntent(intent: AuditIntent): Promise<AuditKey> {
    const key = auditKeyFor(intent);
    const body = cappedJson(intent.requestBody);
    const { requestBody: _sent, ...fields } = intent;
    const entity: AuditEntity = {
      ...key,
      ...fields,
      status: 'pending',
      requestBody: body.json,
      requestBodyTruncated: body.truncated,
    };
    try {
      const client = await this.table.ready();
      await client.createEntity(entity, { abortSignal: this.table.signal() });
    } catch (error) {
      throw unavailable(error);
    }
    return key;
  }

  /**
   * Settles a record and, for a created entity, indexes it by its Graph path. With an etag the
   * update only applies if nobody settled the record meanwhile (reconciliation runs concurrently).
   */
  async recordOutcome(
    key: AuditKey,
    intent: Pick<AuditIntent, 'entityType' | 'requestedAt'>,
    outcome: AuditOutcome,
    entityPath?: string,
    etag?: string,
  ): Promise<void> {
    const body = cappedJson(outcome.responseBody);
    const client = await this.table.ready();
    const update: Partial<AuditEntity> & AuditKey = {
      ...key,
      status: outcome.status,
      httpStatus: outcome.httpStatus,
      ...(outcome.entityId ? { entityId: outcome.entityId } : {}),
      ...(outcome.graphRequestId ? { graphRequestId: outcome.graphRequestId } : {}),
      ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
      ...(outcome.retries !== undefined ? { retries: outcome.retries } : {}),
      ...(outcome.recovery ? { recovery: outcome.recovery } : {}),
      ...(outcome.recovery === 'reconciliation' ? { reconciledAt: outcome.completedAt } : {}),
      completedAt: outcome.completedAt,
      durationMs: outcome.completedAt.getTime() - new Date(intent.requestedAt).getTime(),
      responseBody: body.json,
      responseBodyTruncated: body.truncated,
    };
    const index: EntityIndexRow | undefined =
      (outcome.status === 'succeeded' || outcome.status === 'orphaned') && entityPath
        ? {
            partitionKey: entityIndexPartition(intent.entityType),
            rowKey: entityIndexRowKey(entityPath),
            auditPartitionKey: key.partitionKey,
            auditRowKey: key.rowKey,
          }
        : undefined;
    const settle = () => client.updateEntity(update, 'Merge', { abortSignal: this.table.signal(), ...(etag ? { etag } : {}) });
    const indexIt = () => (index ? client.upsertEntity(index, 'Replace', { abortSignal: this.table.signal() }) : Promise.resolve());
    if (etag) {
      // Conditional: the index is written only once the record really was ours to settle.
      await settle();
      await indexIt();
      return;
    }
    // Both in one round trip's time. Each is awaited to its end, so none lands after the request has
    // been answered; if either failed the whole settlement is retried (both writes are idempotent).
    const failed = (await Promise.allSettled([settle(), indexIt()])).find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async get(key: AuditKey): Promise<StoredAuditRecord | undefined> {
    const client = await this.table.ready();
    try {
      return withoutTimestamp(
        await client.getEntity<AuditEntity>(key.partitionKey, key.rowKey, { abortSignal: this.table.signal() }),
      );
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** The record of the request that created the entity at this Graph path (`external/connections/c1`). */
  async findByEntity(entityType: string, entityPath: string): Promise<StoredAuditRecord | undefined> {
    const client = await this.table.ready();
    try {
      const index = await client.getEntity<EntityIndexRow>(entityIndexPartition(entityType), entityIndexRowKey(entityPath), {
        abortSignal: this.table.signal(),
      });
      return await this.get({ partitionKey: index.auditPartitionKey, rowKey: index.auditRowKey });
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** An operation's records requested in [from, to), oldest first: one partition range query. */
  async listByOperation(operation: string, from: Date, to: Date): Promise<StoredAuditRecord[]> {
    return this.query(
      `PartitionKey eq '${escape(operation)}' and RowKey ge '${from.toISOString()}' and RowKey lt '${to.toISOString()}'`,
    );
  }

  /**
   * Records of an operation still `pending` or `unknown`, requested in [since, olderThan): a
   * partition range query bounded in time, oldest first, at most `limit`.
   */
  async listUnsettled(operation: string, since: Date, olderThan: Date, limit: number): Promise<StoredAuditRecord[]> {
    const open: AuditStatus[] = ['pending', 'unknown'];
    return this.query(
      `PartitionKey eq '${escape(operation)}' and RowKey ge '${since.toISOString()}' and RowKey lt '${olderThan.toISOString()}' and (${open
        .map((status) => `status eq '${status}'`)
        .join(' or ')})`,
      limit,
    );
  }

  /**
   * Did an earlier request since `since` create this entity without its caller learning so: a
   * record still `pending` or `unknown`, or one reconciliation settled as created?
   */
  async hasUncertainAttempt(operation: string, entityId: string, since: Date, exceptRowKey?: string): Promise<boolean> {
    const records = await this.query(
      `PartitionKey eq '${escape(operation)}' and RowKey ge '${since.toISOString()}' and entityId eq '${escape(entityId)}' and ` +
        `(status eq 'pending' or status eq 'unknown' or (status eq 'succeeded' and recovery eq 'reconciliation'))`,
      10,
    );
    return records.some((record) => record.rowKey !== exceptRowKey);
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

  private async query(filter: string, limit = Number.POSITIVE_INFINITY): Promise<StoredAuditRecord[]> {
    const client = await this.table.ready();
    const records: StoredAuditRecord[] = [];
    const pages = client.listEntities<AuditEntity>({ queryOptions: { filter } }).byPage({ maxPageSize: Math.min(limit, 1_000) });
    for await (const page of withTimeout(pages, this.table.timeoutMs)) {
      for (const entity of page) {
        records.push(withoutTimestamp(entity));
        if (records.length >= limit) return records;
      }
    }
    return records;
  }
}

/** Each page of a listing must arrive within the time a single table call gets. */
async function* withTimeout<T>(pages: AsyncIterableIterator<T>, timeoutMs: number): AsyncGenerator<T> {
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([
      pages.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the audit table did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (next.done) return;
    yield next.value;
  }
}

function withoutTimestamp(entity: TableEntityResult<AuditEntity>): StoredAuditRecord {
  const { timestamp: _timestamp, ...rest } = entity as TableEntityResult<AuditEntity> & { timestamp?: string };
  return rest as StoredAuditRecord;
}
