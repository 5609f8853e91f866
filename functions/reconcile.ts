import type { InvocationContext, Timer } from '@azure/functions';
import { operationDefinitions } from '../shared/operations/registerOperation';
import { registerTimer } from '../shared/operations/registry';
import type { ReconcileSummary } from '../shared/reconciliation/reconcile';
import { getRuntime } from '../shared/runtime';

// A create never needs it: loaded on the timer's first run, not at cold start.
let reconciliation: Promise<typeof import('../shared/reconciliation/reconcile')> | undefined;

/** Every 5 minutes: settle audit records left `pending` or `unknown` by reading what Graph holds (it never creates). */
export async function reconcileAuditRecords(_timer: Timer | undefined, context: InvocationContext): Promise<ReconcileSummary> {
  const { reconcile } = await (reconciliation ??= import('../shared/reconciliation/reconcile'));
  const runtime = getRuntime();
  const summary = await reconcile(runtime, operationDefinitions, {
    olderThanMs: runtime.settings.reconcileAfterMinutes * 60_000,
    maxRecords: runtime.settings.reconcileMaxRecords,
  });
  context.info(
    JSON.stringify({
      event: 'reconciliation finished',
      examined: summary.examined,
      ...summary.settled,
      waiting: summary.waiting,
      skipped: summary.skipped,
      expiredKeysDeleted: summary.expiredKeysDeleted,
      attemptRowsDeleted: summary.attemptRowsDeleted,
    }),
  );
  for (const error of summary.errors) context.warn(JSON.stringify({ event: 'reconciliation skipped a record', error }));
  // One line per record people have to look at, for an alert (docs/operating.md "Telemetry").
  for (const record of summary.needsAttention) context.warn(JSON.stringify({ event: 'audit record needs attention', ...record }));
  return summary;
}

registerTimer('reconcile', { schedule: '0 */5 * * * *', runOnStartup: false, handler: reconcileAuditRecords });
