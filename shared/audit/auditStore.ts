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
    const writes = [client.updateEntity(update, 'Merge', { abortSignal: this.table.signal(), ...(etag ? { etag } : {}) })];
    if ((outcome.status === 'succeeded' || outcome.status === 'orphaned') && entityPath) {
      const index: EntityIndexRow = {
        partitionKey: entityIndexPartition(intent.entityType),
        rowKey: entityIndexRowKey(entityPath),
        auditPartitionKey: key.partitionKey,
        auditRowKey: key.rowKey,
      };
      writes.push(client.upsertEntity(index, 'Replace', { abortSignal: this.table.signal() }));
    }
    // Both in one round trip's time. Each is awaited to its end, so none lands after the request has
    // been answered; if either failed the whole settlement is retried (both writes are idempotent).
    const failed = (await Promise.allSettled(writes)).find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async get(key: AuditKey): Promise<StoredAuditRecord | undefined> {
    const client = await this.table.ready();
    try {
      return withoutTimestamp(await client.getEntity<AuditEntity>(key.partitionKey, key.rowKey));
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** The record of the request that created the entity at this Graph path (`external/connections/c1`). */
  async findByEntity(entityType: string, entityPath: string): Promise<StoredAuditRecord | undefined> {
    const client = await this.table.ready();
    try {
      const index = await client.getEntity<EntityIndexRow>(entityIndexPartition(entityType), entityIndexRowKey(entityPath));
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

  /** Records of an operation still `pending` or `unknown` that were requested before `olderThan`. */
  async listUnsettled(operation: string, olderThan: Date, limit: number): Promise<StoredAuditRecord[]> {
    const open: AuditStatus[] = ['pending', 'unknown'];
    return this.query(
      `PartitionKey eq '${escape(operation)}' and RowKey lt '${olderThan.toISOString()}' and (${open
        .map((status) => `status eq '${status}'`)
        .join(' or ')})`,
      limit,
    );
  }

  private async query(filter: string, limit = Number.POSITIVE_INFINITY): Promise<StoredAuditRecord[]> {
    const client = await this.table.ready();
    const records: StoredAuditRecord[] = [];
    for await (const entity of client.listEntities<AuditEntity>({ queryOptions: { filter } })) {
      records.push(withoutTimestamp(entity));
      if (records.length >= limit) break;
    }
    return records;
  }
}

function withoutTimestamp(entity: TableEntityResult<AuditEntity>): StoredAuditRecord {
  const { timestamp: _timestamp, ...rest } = entity as TableEntityResult<AuditEntity> & { timestamp?: string };
  return rest as StoredAuditRecord;
}
