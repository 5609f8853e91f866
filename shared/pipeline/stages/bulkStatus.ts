import type { HttpResponseInit } from '@azure/functions';
import { notTheRequestsCaller } from '../../auth/authErrors';
import { callerLogFields } from '../../auth/caller';
import { denialOf } from '../../auth/callerPolicy';
import { bulkIdPattern } from '../../bulk/bulkRecord';
import { auditReadRole, bulkJobAnswer, findBulkJob, resumeIfAbandoned } from '../../bulk/job';
import { FacadeError, serviceUnavailable } from '../../errors';
import type { BulkOperationDefinition, NamedOperation } from '../../operations/operation';
import { logEvent } from '../../telemetry/requestLog';
import { requireCaller, type OperationContext, type Stage } from '../context';
import { statusUrlFor } from './bulkRequest';

/** The status function of bulk requests: the operations whose jobs it reads. */
export interface BulkStatusFunction extends NamedOperation {
  operations: readonly BulkOperationDefinition[];
}

/**
 * The job's record is in the audit store: when the store cannot be read, a 503 the caller can retry
 * (as the audit queries answer), never a 500. A defect of the code stays one.
 */
function storeUnreadable(error: unknown): unknown {
  if (error instanceof FacadeError || error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError) return error;
  return serviceUnavailable('auditStoreUnavailable', 'The audit store cannot be read now, so the bulk request\'s status is not known. Retry later.', 10, error);
}

const notFound = (id: string) => new FacadeError(404, 'itemNotFound', `No bulk request has the id '${id}'.`);

/**
 * `GET /api/jobs/{id}`, the status URL a 202 names: 202 with the progress (and `Retry-After`) while
 * the work goes on, then 200 with the results, from the job's record, so any instance answers.
 * Only the caller that made the request (still holding the operation's role) or an operator with
 * `Audit.Read` may read it; the client-app and scope rules apply as to every operation.
 */
export const bulkStatus: Stage<OperationContext<BulkStatusFunction>> = async (context): Promise<HttpResponseInit> => {
  const { runtime, operation } = context;
  const caller = requireCaller(context);
  const id = context.request.params.id ?? '';
  if (!bulkIdPattern.test(id)) throw notFound(id);
  // A slow or unreachable table is a 503 with Retry-After, as the audit query answers it: a poller tries again.
  const record = await findBulkJob(runtime, operation.operations, id).catch((error: unknown) => {
    throw storeUnreadable(error);
  });
  if (!record) throw notFound(id);
  const made = operation.operations.find((candidate) => candidate.name === record.operation);
  const operator = caller.roles.includes(auditReadRole);
  const role = operator || !made ? auditReadRole : made.role;
  const denial = record.callerId === caller.id || operator
    ? denialOf(caller, runtime.auth.policy, role)
    : { reason: 'role' as const, error: notTheRequestsCaller(auditReadRole), fields: { requiredRole: auditReadRole, owner: 'another caller' } };
  if (denial) {
    logEvent(context, 'warn', 'request denied: not the caller of the bulk request, nor an operator', { status: 403, ...denial.fields, ...callerLogFields(caller) });
    throw denial.error;
  }
  const answer = bulkJobAnswer(runtime, record);
  if (answer.kind === 'done') return { status: 200, jsonBody: answer.body };
  // The request failed as a whole (its parent does not exist): the error its caller would have had at once.
  if (answer.kind === 'failed') throw answer.error;
  // Never "running" for a job no run holds: one left alone for long is queued again.
  if (await resumeIfAbandoned(runtime, record)) logEvent(context, 'warn', 'bulk job held by no run for long; queued again', { id });
  return {
    status: 202,
    headers: { location: statusUrlFor(context.request)(id), 'retry-after': String(answer.retryAfterSeconds) },
    jsonBody: answer.body,
  };
};
