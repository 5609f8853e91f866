import type { TableEntity, TransactionAction } from '@azure/data-tables';
import {
  entityIndexRowKey,
  openAttemptRowKey,
  recordRowKey,
  type AuditEntity,
  type AuditStatus,
  type EntityIndexRow,
} from '../../shared/audit/auditRecord';
import type { Table } from '../../shared/storage/table';

/**
 * Audit records written straight into the table, as the pipeline lays them out (one partition per
 * operation, row keys in inverted time), a hundred to an entity group transaction: thousands in
 * seconds, for the audit query tests.
 */

export interface SeedRecord {
  operation: string;
  entityType: string;
  entityId: string;
  /** Graph collection path below the version, e.g. `/external/connections/c1/groups`. */
  collection: string;
  requestedAt: Date;
  requestId: string;
  callerId: string;
  status: AuditStatus;
  httpStatus?: number;
  reason?: string;
}

export const rowKeyOf = (record: Pick<SeedRecord, 'requestedAt' | 'requestId'>) => recordRowKey(record.requestedAt, record.requestId);

export function auditEntityOf(record: SeedRecord): AuditEntity {
  const entityKey = `${record.collection.replace(/^\//, '')}/${encodeURIComponent(record.entityId)}`;
  return {
    partitionKey: record.operation,
    rowKey: rowKeyOf(record),
    kind: 'record',
    operation: record.operation,
    entityType: record.entityType,
    entityId: record.entityId,
    graphPath: `/v1.0${record.collection}`,
    graphVersion: 'v1.0',
    requestId: record.requestId,
    clientRequestId: `client-${record.requestId}`,
    callerId: record.callerId,
    callerAppId: 'facade00-0000-4000-8000-000000000003',
    callerTenantId: 'facade00-0000-4000-8000-000000000001',
    requestedAt: record.requestedAt,
    deadlineAt: new Date(record.requestedAt.getTime() + 30_000),
    entityKey,
    askKey: `ask-${record.requestId}`,
    status: record.status,
    httpStatus: record.httpStatus ?? (record.status === 'succeeded' ? 201 : 503),
    completedAt: new Date(record.requestedAt.getTime() + 120),
    durationMs: 120,
    ...(record.reason ? { reason: record.reason } : {}),
    requestBody: JSON.stringify({ id: record.entityId }),
    requestBodyTruncated: false,
    responseBody: JSON.stringify({ id: record.entityId }),
    responseBodyTruncated: false,
    reconcileAfter: record.requestedAt,
  };
}

/** Rows of the other kinds (entity index, attempts, keys), which a query of records must never return nor read. */
export function bookkeepingRows(operation: string, count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, index) => [
    { partitionKey: operation, rowKey: entityIndexRowKey(`external/connections/seed/groups/other${index}`), kind: 'entity', auditRowKey: `9${index}`, proof: 'answered' },
    { partitionKey: operation, rowKey: openAttemptRowKey(`seed/${index}`, `0_${index}`), kind: 'attempt', state: 'closed' },
    { partitionKey: operation, rowKey: `key_${String(index).padStart(8, '0')}`, kind: 'idempotencyKey', state: 'completed' },
  ]).flat();
}

export function indexRow(operation: string, entityPath: string, record: Pick<SeedRecord, 'requestedAt' | 'requestId'>): EntityIndexRow {
  return { partitionKey: operation, rowKey: entityIndexRowKey(entityPath), kind: 'entity', auditRowKey: rowKeyOf(record), proof: 'answered' };
}

/** Writes the rows, grouped by partition, 100 to a transaction, the partitions side by side. */
export async function seedRows(table: Table, rows: readonly object[]): Promise<void> {
  const client = await table.ready();
  const byPartition = new Map<string, object[]>();
  for (const row of rows) {
    const partition = (row as { partitionKey: string }).partitionKey;
    byPartition.set(partition, [...(byPartition.get(partition) ?? []), row]);
  }
  await Promise.all(
    [...byPartition.values()].map(async (partitionRows) => {
      for (let start = 0; start < partitionRows.length; start += 100) {
        const actions: TransactionAction[] = partitionRows
          .slice(start, start + 100)
          .map((row) => ['upsert', row as TableEntity<Record<string, unknown>>, 'Replace']);
        await client.submitTransaction(actions);
      }
    }),
  );
}
