import type { AuditStatus } from '../audit/auditRecord';
import type { OperationDefinition } from '../operations/operation';
import type { Runtime } from '../runtime';
import { isStatus } from '../storage/table';
import { lookUpCreatedEntity } from './entityLookup';

export interface ReconcileOptions {
  /** Only records requested before now − this are settled: younger ones may still be running. */
  olderThanMs: number;
  /** At most this many records per run. */
  maxRecords: number;
  now?: Date;
}

export interface ReconcileSummary {
  examined: number;
  settled: Record<'succeeded' | 'failed' | 'orphaned', number>;
  /** Left for a later run (Graph or storage did not answer, or another run settled it first). */
  skipped: number;
  /** Idempotency keys past their retention, deleted. */
  expiredKeysDeleted: number;
  errors: string[];
}

/**
 * Settles audit records left `pending` (the outcome write failed) or `unknown` (Graph's answer
 * was lost) by asking Graph whether the entity exists, then deletes idempotency keys whose
 * retention has ended. Safe to run anywhere, any number of times:
 * each update is conditional on the record being unchanged since it was read.
 */
export async function reconcile(
  runtime: Runtime,
  operations: readonly OperationDefinition[],
  options: ReconcileOptions,
): Promise<ReconcileSummary> {
  const now = options.now ?? new Date();
  const olderThan = new Date(now.getTime() - options.olderThanMs);
  const summary: ReconcileSummary = { examined: 0, settled: { succeeded: 0, failed: 0, orphaned: 0 }, skipped: 0, expiredKeysDeleted: 0, errors: [] };

  for (const operation of operations) {
    const budget = options.maxRecords - summary.examined;
    if (budget <= 0) break;
    const records = await runtime.audit.listUnsettled(operation.name, olderThan, budget);
    for (const record of records) {
      summary.examined += 1;
      try {
        const lookup = await lookUpCreatedEntity(runtime, operation, record);
        // A lost answer that created a connector group leaves an entity its caller never learnt the id of.
        const status: Exclude<AuditStatus, 'pending' | 'unknown'> = !lookup.found
          ? 'failed'
          : record.status === 'unknown' && operation.entityId === 'generatedByGraph'
            ? 'orphaned'
            : 'succeeded';
        const entityPath = lookup.found
          ? `${record.graphPath.replace(/^\/[^/]+\//, '')}/${encodeURIComponent(lookup.entityId)}`
          : undefined;
        await runtime.audit.recordOutcome(
          record,
          record,
          {
            status,
            httpStatus: lookup.found ? 201 : (record.httpStatus ?? 0),
            graphRequestId: record.graphRequestId,
            ...(lookup.found ? { entityId: lookup.entityId } : { errorCode: 'notCreated' }),
            completedAt: new Date(),
            responseBody: lookup.found ? lookup.entity : (record.responseBody ? JSON.parse(record.responseBody) : null),
            recovery: 'reconciliation',
          },
          entityPath,
          record.etag,
        );
        summary.settled[status] += 1;
      } catch (error) {
        summary.skipped += 1;
        // 412: another run settled the record after we read it; nothing to report.
        if (!isStatus(error, 412)) {
          summary.errors.push(`${record.partitionKey}/${record.rowKey}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
  }
  for (const operation of operations) {
    const budget = options.maxRecords - summary.expiredKeysDeleted;
    if (budget <= 0) break;
    try {
      summary.expiredKeysDeleted += await runtime.idempotency.purgeExpired(operation.name, now, budget);
    } catch (error) {
      summary.errors.push(`idempotency keys of ${operation.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return summary;
}
