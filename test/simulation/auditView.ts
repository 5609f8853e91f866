import type { TableClient } from '@azure/data-tables';
import { fromChunks } from '../../shared/bulk/bulkRecord';
import type { OperationDefinition } from '../../shared/operations/operation';
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
  /** The request whose answer settled this record, when not its own. */
  settledBy: string | undefined;
}

/** A bulk request's record: an async one is a job (accepted → running → completed). */
export interface BulkRecordView {
  rowKey: string;
  status: string;
  async: boolean;
  clientRequestId: string;
  done: number;
  total: number;
}

/** A manifest apply's record (its audit record and its job's state): its results once completed. */
export interface ApplyRecordView {
  rowKey: string;
  status: string;
  clientRequestId: string;
  outcome: string | undefined;
  waitingOn: string | undefined;
  results: Record<string, unknown> | undefined;
}

export interface AuditTableView {
  records: AuditRecordView[];
  bulk: BulkRecordView[];
  applies: ApplyRecordView[];
  /** Entity path (`external/connections/c/groups/g`, no version) → the record's row key. */
  index: Map<string, string>;
}

export async function readAuditTable(table: TableClient): Promise<AuditTableView> {
  const records: AuditRecordView[] = [];
  const bulk: BulkRecordView[] = [];
  const applies: ApplyRecordView[] = [];
  const index = new Map<string, string>();
  for await (const entity of table.listEntities<Record<string, unknown>>()) {
    const partition = String(entity.partitionKey);
    const row = String(entity.rowKey);
    if (entity.kind === 'entity') {
      // The row key folds letter case; the row keeps the entity path as its maker spelled it.
      index.set(typeof entity.entityPath === 'string' ? entity.entityPath : decodeURIComponent(row.slice('entity_'.length)), String(entity.auditRowKey));
    } else if (entity.kind === 'bulk') {
      bulk.push({
        rowKey: row,
        status: String(entity.status),
        async: entity.async === true,
        clientRequestId: String(entity.clientRequestId),
        done: Number(entity.done ?? 0),
        total: Number(entity.total ?? 0),
      });
    } else if (entity.kind === 'manifestApply') {
      applies.push({
        rowKey: row,
        status: String(entity.status),
        clientRequestId: String(entity.clientRequestId),
        outcome: entity.outcome as string | undefined,
        waitingOn: entity.waitingOn as string | undefined,
        results: entity.status === 'completed' ? fromChunks<Record<string, unknown>>(entity, 'results') : undefined,
      });
    } else if (entity.kind === 'record') {
      records.push({
        operation: partition,
        rowKey: row,
        status: String(entity.status),
        clientRequestId: String(entity.clientRequestId),
        callerId: String(entity.callerId),
        entityId: String(entity.entityId ?? ''),
        graphPath: String(entity.graphPath),
        reason: entity.reason as string | undefined,
        recovery: entity.recovery as string | undefined,
        settledBy: entity.settledBy as string | undefined,
      });
    }
  }
  return { records, bulk, applies, index };
}

/**
 * One run of the reconciliation timer function, as the instance would run it (a failed run is
 * tried again next time). Only the schedule's operation has records in its table.
 */
export async function reconcileOnce(runtime: Runtime, operation: OperationDefinition): Promise<{ examined: number }> {
  const summary = await reconcile(runtime, [operation], {
    olderThanMs: runtime.settings.reconcileAfterMinutes * 60_000,
    maxRecords: runtime.settings.reconcileMaxRecords,
  }).catch(() => undefined);
  return { examined: summary?.examined ?? 0 };
}
