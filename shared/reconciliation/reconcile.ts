import type { AuditStatus } from '../audit/auditRecord';
import type { StoredAuditRecord } from '../audit/auditStore';
import { entityPathOf, splitGraphPath } from '../graph/paths';
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
  /** Left for a later run (Graph or storage did not answer, or the answer could not be told). */
  skipped: number;
  /** Idempotency keys past their retention, deleted. */
  expiredKeysDeleted: number;
  errors: string[];
}

/** How far back a run looks: older unsettled records are left to people (README). */
export const reconcileLookbackMs = 7 * 24 * 3_600_000;

/** Wait before trying a record again after a failed try: 5 min, doubling, at most a day. */
function retryDelayMs(attempts: number): number {
  return Math.min(24 * 3_600_000, 5 * 60_000 * 2 ** attempts);
}

function settledStatus(record: StoredAuditRecord, operation: OperationDefinition, found: boolean): Exclude<AuditStatus, 'pending' | 'unknown'> {
  if (!found) return 'failed';
  // A lost answer that created an entity whose id Graph chose: its caller never learnt the id.
  return record.status === 'unknown' && operation.entityId === 'generatedByGraph' ? 'orphaned' : 'succeeded';
}

/**
 * Settles audit records left `pending` (the outcome write failed) or `unknown` (Graph's answer
 * was lost) by asking Graph whether the entity exists, then deletes idempotency keys whose
 * retention has ended. Safe to run anywhere, any number of times: each update is conditional on
 * the record being unchanged since it was read. A record that cannot be settled now is tried again
 * later, less and less often, so it cannot hold up the others.
 */
export async function reconcile(
  runtime: Runtime,
  operations: readonly OperationDefinition[],
  options: ReconcileOptions,
): Promise<ReconcileSummary> {
  const now = options.now ?? new Date(runtime.clock.now());
  const olderThan = new Date(now.getTime() - options.olderThanMs);
  const since = new Date(now.getTime() - reconcileLookbackMs);
  const summary: ReconcileSummary = { examined: 0, settled: { succeeded: 0, failed: 0, orphaned: 0 }, skipped: 0, expiredKeysDeleted: 0, errors: [] };
  const perOperation = Math.max(1, Math.floor(options.maxRecords / Math.max(1, operations.length)));

  for (const operation of operations) {
    // Each operation gets its share, so one operation's backlog cannot starve the others.
    const records = (await runtime.audit.listUnsettled(operation.name, since, olderThan, perOperation * 4))
      .filter((record) => !record.reconcileAfter || new Date(record.reconcileAfter).getTime() <= now.getTime())
      .slice(0, perOperation);
    for (const record of records) {
      summary.examined += 1;
      try {
        const lookup = await lookUpCreatedEntity(runtime, operation, record, runtime.clock.now() + runtime.settings.graphDeadlineMs);
        if (!lookup.found && lookup.reason === 'ambiguous') throw new Error('which entity this request created cannot be told');
        const status = settledStatus(record, operation, lookup.found);
        const { collectionPath } = splitGraphPath(record.graphPath);
        await runtime.audit.recordOutcome(
          record,
          record,
          {
            status,
            httpStatus: lookup.found ? 201 : (record.httpStatus ?? 0),
            graphRequestId: record.graphRequestId,
            ...(lookup.found ? { entityId: lookup.entityId } : { errorCode: lookup.reason === 'differs' ? 'entityDiffers' : 'notCreated' }),
            completedAt: new Date(),
            responseBody: lookup.found ? lookup.entity : null,
            recovery: 'reconciliation',
          },
          lookup.found ? entityPathOf(collectionPath, lookup.entityId) : undefined,
          record.etag,
        );
        summary.settled[status] += 1;
      } catch (error) {
        summary.skipped += 1;
        // 412: another run settled the record after we read it; nothing to report.
        if (isStatus(error, 412)) continue;
        const reason = error instanceof Error ? error.message : String(error);
        summary.errors.push(`${record.partitionKey}/${record.rowKey}: ${reason}`);
        const attempts = record.reconcileAttempts ?? 0;
        await runtime.audit
          .noteReconcileFailure(record, new Date(now.getTime() + retryDelayMs(attempts)), reason)
          .catch(() => undefined);
      }
    }
  }

  for (const operation of operations) {
    try {
      summary.expiredKeysDeleted += await runtime.idempotency.purgeExpired(operation.name, now, perOperation);
    } catch (error) {
      summary.errors.push(`idempotency keys of ${operation.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return summary;
}
