import type { InvocationContext } from '@azure/functions';
import { isBulkJobMessage, runQueuedBulkJob } from '../shared/bulk/job';
import { isConnectorJobMessage, runConnectorJob } from '../shared/manifest/connectorJobs';
import { createHandler } from '../shared/pipeline/pipeline';
import { authenticate } from '../shared/pipeline/stages/authenticate';
import { bulkStatus, type BulkStatusFunction } from '../shared/pipeline/stages/bulkStatus';
import { respond } from '../shared/pipeline/stages/respond';
import { bulkOperationDefinitions } from '../shared/operations/registerOperation';
import { registerHttp, registerQueue } from '../shared/operations/registry';
import { getRuntime } from '../shared/runtime';
import { asyncWorkQueueName } from '../shared/storage/queue';

/**
 * The two functions behind every bulk operation: the status URL a 202 names, and the
 * queue-triggered run of accepted bulk requests (any instance takes the message; a run that dies
 * leaves it to reappear, and the next run carries the job on).
 */

const statusFunction: BulkStatusFunction = { name: 'bulkJobStatus', operations: bulkOperationDefinitions };

registerHttp('bulkJobStatus', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'jobs/{id}',
  handler: createHandler(statusFunction, [respond, authenticate, bulkStatus]),
});

export async function runBulkJob(message: unknown, context: InvocationContext): Promise<void> {
  const log = (level: 'info' | 'warn' | 'error', event: string, fields: Record<string, unknown> = {}) =>
    context[level](JSON.stringify({ event, invocationId: context.invocationId, operation: 'runBulkJob', ...fields }));
  // Which instance holds a job, for operators (and the tests that kill it): its id in Azure, else its process.
  const runId = `${process.env.WEBSITE_INSTANCE_ID ?? `pid-${process.pid}`}/${context.invocationId}`;
  // Schema registrations and manifest applies share the queue (shared/manifest/connectorJobs.ts).
  if (isConnectorJobMessage(message)) return runConnectorJob(getRuntime(), message, runId, context, log);
  if (!isBulkJobMessage(message)) {
    log('error', 'queue message is not a bulk job; dropped', { message: JSON.stringify(message).slice(0, 300) });
    return;
  }
  await runQueuedBulkJob(getRuntime(), bulkOperationDefinitions, message, runId, log);
}

registerQueue('runBulkJob', { queueName: asyncWorkQueueName, connection: 'AuditStorage', handler: runBulkJob });
