import type { TableClient } from '@azure/data-tables';
import { operationDefinitions } from '../../shared/operations/registerOperation';
import { reconcile } from '../../shared/reconciliation/reconcile';
import type { Runtime } from '../../shared/runtime';

/** The audit table as the invariants read it: records, and the index from entities to records. */
export interface AuditRecordView {
  operation: string;
  rowKey: string;
  status: string;
  clientRequestId: string;
  callerId: string;
  entityId: string;
  graphPath: string;
  reason: string | undefined;
  recovery: string | undefined;
}

export interface AuditTableView {
  records: AuditRecordView[];
  /** Entity path (`external/connections/c/groups/g`, no version) → the record's row key. */
  index: Map<string, string>;
}

export async function readAuditTable(table: TableClient): Promise<AuditTableView> {
  const records: AuditRecordView[] = [];
  const index = new Map<string, string>();
  for await (const entity of table.listEntities<Record<string, unknown>>()) {
    const partition = String(entity.partitionKey);
    const row = String(entity.rowKey);
    if (partition.startsWith('entity_')) {
      index.set(decodeURIComponent(row), String(entity.auditRowKey));
    } else if (!partition.startsWith('idempotency_')) {
      records.push({
        operation: partition,
        rowKey: row,
        status: String(entity.status),
        clientRequestId: String(entity.clientRequestId),
        callerId: String(entity.callerId),
        entityId: String(entity.entityId ?? ''),
        graphPath: String(entity.graphPath),
        reason: (entity.reason ?? entity.errorCode ?? entity.reconcileError) as string | undefined,
        recovery: entity.recovery as string | undefined,
      });
    }
  }
  return { records, index };
}

/** One run of the reconciliation timer function, as the instance would run it (a failed run is tried again next time). */
export async function reconcileOnce(runtime: Runtime): Promise<void> {
  await reconcile(runtime, operationDefinitions, {
    olderThanMs: runtime.settings.reconcileAfterMinutes * 60_000,
    maxRecords: runtime.settings.reconcileMaxRecords,
  }).catch(() => undefined);
}
