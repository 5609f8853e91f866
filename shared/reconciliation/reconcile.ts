import { keptJson, type AuditStatus } from '../audit/auditRecord';
import type { RecordChange, StoredAuditRecord } from '../audit/auditStore';
import type { OperationDefinition } from '../operations/operation';
import { reasonOf } from '../recovery/conflict';
import { judgeRecord, type RecordVerdict } from '../recovery/settleRecord';
import { recoveryDependencies, type Runtime } from '../runtime';
import { isStatus } from '../storage/table';

export interface ReconcileOptions {
  /** Only records requested before now − this are looked at: younger ones may still be running. */
  olderThanMs: number;
  /** At most this many records per run. */
  maxRecords: number;
  now?: Date;
}

export interface ReconcileSummary {
  examined: number;
  settled: Record<'succeeded' | 'failed' | 'orphaned' | 'unresolved', number>;
  /** Still not known: `unknown` with the reason, looked at again later. */
  waiting: number;
  /** Left for a later run (Graph or storage did not answer). */
  skipped: number;
  /** Idempotency keys past their retention, and settled attempt rows, deleted. */
  expiredKeysDeleted: number;
  attemptRowsDeleted: number;
  errors: string[];
  /** Records settled `orphaned` or `unresolved` by this run: for people to look at. */
  needsAttention: { operation: string; rowKey: string; status: 'orphaned' | 'unresolved'; entityId: string; reason: string }[];
}

/** How far back a run looks: records older than this were settled, or made `unresolved`, long ago. */
export const reconcileLookbackMs = 7 * 24 * 3_600_000;

/** Wait before trying a record again after a failed try: 5 min, doubling, at most a day. */
function retryDelayMs(attempts: number): number {
  return Math.min(24 * 3_600_000, 5 * 60_000 * 2 ** attempts);
}

// Reconciliation never finds an entity "already there": that is known only from a caller's answer.
type SettledStatus = Exclude<AuditStatus, 'pending' | 'unknown' | 'alreadyExisted'>;

/**
 * Settles audit records left `pending` (the request never recorded its outcome) or `unknown`
 * (Graph's answer was lost) by reading Graph and the audit table (shared/recovery/settleRecord.ts)
 * — it never sends a create — then deletes idempotency keys and attempt rows past their retention.
 * What cannot be told yet says `unknown` with the reason, and past the retention `unresolved`, for
 * people to decide. Safe to run anywhere, any number of times: each update is conditional on the
 * record being unchanged since it was read. A record whose check fails is tried again later, less
 * and less often; records waiting are not even read, so they cannot hold up the others.
 */
export async function reconcile(runtime: Runtime, operations: readonly OperationDefinition[], options: ReconcileOptions): Promise<ReconcileSummary> {
  const now = options.now ?? new Date(runtime.clock.now());
  const deps = recoveryDependencies(runtime);
  const olderThan = new Date(now.getTime() - options.olderThanMs);
  const since = new Date(now.getTime() - Math.max(reconcileLookbackMs, deps.retentionMs + 24 * 3_600_000));
  const summary: ReconcileSummary = {
    examined: 0,
    settled: { succeeded: 0, failed: 0, orphaned: 0, unresolved: 0 },
    waiting: 0,
    skipped: 0,
    expiredKeysDeleted: 0,
    attemptRowsDeleted: 0,
    errors: [],
    needsAttention: [],
  };
  const perOperation = Math.max(1, Math.floor(options.maxRecords / Math.max(1, operations.length)));

  for (const operation of operations) {
    let records: StoredAuditRecord[];
    try {
      // Each operation gets its share, so one operation's backlog cannot starve the others.
      records = await runtime.audit.listOpen(operation.name, since, olderThan, now, perOperation);
    } catch (error) {
      summary.errors.push(`${operation.name}: the audit table could not be listed: ${reasonOf(error)}`);
      continue;
    }
    for (const record of records) {
      summary.examined += 1;
      const pastRetention = now.getTime() - new Date(record.requestedAt).getTime() > deps.retentionMs;
      let verdict: RecordVerdict;
      try {
        verdict = await judgeRecord(deps, operation, record, runtime.clock.now() + runtime.settings.graphDeadlineMs);
      } catch (error) {
        const reason = reasonOf(error);
        if (pastRetention) {
          verdict = { kind: 'wait', reason: `still not known when the retention ended; the last check failed: ${reason}`, recheckAt: now };
        } else {
          summary.skipped += 1;
          summary.errors.push(`${record.partitionKey}/${record.rowKey}: ${reason}`);
          await runtime.audit
            .noteReconcileFailure(record, new Date(now.getTime() + retryDelayMs(record.reconcileAttempts ?? 0)), reason)
            .catch(() => undefined);
          continue;
        }
      }
      try {
        const counted = await apply(runtime, record, verdict, pastRetention, now);
        if (counted === 'waiting') summary.waiting += 1;
        else if (counted) summary.settled[counted] += 1;
        if (counted === 'orphaned' || counted === 'unresolved') {
          const settled = verdict.kind === 'settle' ? verdict.settles[0]?.outcome : undefined;
          summary.needsAttention.push({
            operation: operation.name,
            rowKey: record.rowKey,
            status: counted,
            entityId: settled?.entityId ?? record.entityId,
            reason: (settled?.reason ?? (verdict.kind === 'wait' ? verdict.reason : '')).slice(0, 300),
          });
        }
      } catch (error) {
        summary.skipped += 1;
        // 412: another run, or a later request, settled the record after we read it.
        if (!isStatus(error, 412)) summary.errors.push(`${record.partitionKey}/${record.rowKey}: ${reasonOf(error)}`);
      }
    }
  }

  for (const operation of operations) {
    try {
      summary.expiredKeysDeleted += await runtime.idempotency.purgeExpired(operation.name, now, perOperation);
      summary.attemptRowsDeleted += await runtime.audit.purgeAttempts(operation.name, perOperation);
    } catch (error) {
      summary.errors.push(`cleaning up ${operation.name}: ${reasonOf(error)}`);
    }
  }
  return summary;
}

/** Writes the verdict; returns what the record now says (undefined when another writer was first). */
async function apply(
  runtime: Runtime,
  record: StoredAuditRecord,
  verdict: RecordVerdict,
  pastRetention: boolean,
  now: Date,
): Promise<SettledStatus | 'waiting' | undefined> {
  const common = { httpStatus: record.httpStatus ?? 0, completedAt: now, graphRequestId: record.graphRequestId };
  let changes: RecordChange[];
  let counted: SettledStatus | 'waiting';
  if (verdict.kind === 'settle') {
    changes = verdict.settles.map(({ record: settled, outcome }) => ({
      record: settled,
      etag: settled.etag,
      outcome: { ...common, ...outcome, httpStatus: settled.httpStatus ?? 0, responseBody: keptJson(settled.responseBody) ?? null },
    }));
    counted = verdict.settles[0]!.outcome.status as SettledStatus;
  } else if (pastRetention) {
    changes = [{ record, etag: record.etag, outcome: { ...common, status: 'unresolved', errorCode: 'outcomeUnresolved', reason: verdict.reason, recovery: 'reconciliation', responseBody: null } }];
    counted = 'unresolved';
  } else {
    changes = [
      {
        record,
        etag: record.etag,
        outcome: { ...common, status: 'unknown', errorCode: record.errorCode ?? 'outcomeUnknown', reason: verdict.reason, responseBody: null },
        stillOpenUntil: verdict.recheckAt,
      },
    ];
    counted = 'waiting';
  }
  const index = verdict.kind === 'settle' && verdict.index ? { ...verdict.index, proof: 'attributed' as const } : undefined;
  const settled = await runtime.audit.settle({ partitionKey: record.partitionKey, changes, ...(index ? { index } : {}) }, now);
  return settled.own ? counted : undefined;
}

