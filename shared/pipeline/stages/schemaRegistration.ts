import type { HttpResponseInit } from '@azure/functions';
import { FacadeError, serviceUnavailable } from '../../errors';
import { findSchemaRegistration, pollDelaySeconds, registrationIsOver, registrationView, resumeRegistrationIfAbandoned, startSchemaRegistration } from '../../manifest/schemaRegistration';
import { apiUrlFor, checkStatusReader } from '../../manifest/statusAccess';
import type { SchemaRegistrationOperation } from '../../operations/connectorJob';
import type { NamedOperation, ServedOperation } from '../../operations/operation';
import { logEvent } from '../../telemetry/requestLog';
import { requireCaller, requireInput, type OperationContext, type Stage } from '../context';

/** Where a registration's status is read, below `/api`. */
export const schemaRegistrationStatusRoute = 'schemaRegistrations/{id}';
const statusPathOf = (id: string) => `schemaRegistrations/${encodeURIComponent(id)}`;

/**
 * Terminal stage of `registerConnectionSchema`: after the checks every create passes (caller,
 * role, body to Graph's rules, Idempotency-Key, token), the registration is recorded, queued and
 * sent; the caller is answered 202 with the status URL (200 if Graph's operation already ended).
 */
export const registerSchema: Stage<OperationContext<SchemaRegistrationOperation>> = async (context): Promise<HttpResponseInit> => {
  const input = requireInput(context);
  const record = await startSchemaRegistration({
    runtime: context.runtime,
    caller: requireCaller(context),
    correlation: context.correlation,
    receivedAt: context.receivedAt,
    version: String(input.params.version),
    connectionId: String(input.params.connectionId),
    schema: input.body,
    deadlineAt: context.deadlineAt,
  });
  const location = apiUrlFor(context.request)(statusPathOf(record.rowKey));
  logEvent(context, 'info', 'schema registration accepted; its operation is followed from the queue', { id: record.rowKey, status: record.status });
  if (registrationIsOver(record)) return { status: 200, headers: { location }, jsonBody: registrationView(record) };
  return { status: 202, headers: { location, 'retry-after': String(pollDelaySeconds(0)) }, jsonBody: registrationView(record) };
};

/** The status function of registrations, and the role its starter needed. */
export interface SchemaRegistrationStatusFunction extends NamedOperation {
  registration: ServedOperation;
}

/**
 * `GET /api/schemaRegistrations/{id}`: 202 (with `Retry-After`) while Graph's operation runs, then
 * 200 with `succeeded`, or `failed` and Graph's error. For the caller that started it or an operator.
 */
export const schemaRegistrationStatus: Stage<OperationContext<SchemaRegistrationStatusFunction>> = async (context): Promise<HttpResponseInit> => {
  const caller = requireCaller(context);
  const id = context.request.params.id ?? '';
  const notFound = new FacadeError(404, 'itemNotFound', `No schema registration has the id '${id}'.`);
  if (!/^\d{13}_[0-9a-f-]{36}$/.test(id)) throw notFound;
  const record = await findSchemaRegistration(context.runtime, id).catch((error: unknown) => {
    throw serviceUnavailable('auditStoreUnavailable', 'The status cannot be read from the audit store now. Retry later.', 5, error);
  });
  if (!record) throw notFound;
  checkStatusReader(context, caller, record.callerId, context.operation.registration.role);
  const view = registrationView(record);
  if (registrationIsOver(record)) return { status: 200, jsonBody: view };
  if (await resumeRegistrationIfAbandoned(context.runtime, record)) logEvent(context, 'warn', 'schema registration looked at by no run for long; queued again', { id });
  const age = context.runtime.clock.now() - new Date(record.requestedAt).getTime();
  return { status: 202, headers: { location: context.request.url, 'retry-after': String(pollDelaySeconds(age)) }, jsonBody: view };
};
