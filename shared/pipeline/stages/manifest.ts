import type { HttpResponseInit } from '@azure/functions';
import { forbidden } from '../../auth/authErrors';
import { callerLogFields } from '../../auth/caller';
import { denialOf } from '../../auth/callerPolicy';
import type { AppRole } from '../../auth/roles';
import { prefersAsync } from '../../bulk/job';
import { FacadeError, serviceUnavailable } from '../../errors';
import { applyView, findApply, startApply } from '../../manifest/applyJob';
import { planManifest } from '../../manifest/plan';
import { apiUrlFor, checkStatusReader } from '../../manifest/statusAccess';
import { resumeIfAbandoned } from '../../storage/jobLease';
import type { ManifestOperation } from '../../operations/connectorJob';
import type { NamedOperation } from '../../operations/operation';
import type { ConnectorManifest } from '../../schemas/manifest';
import { logEvent } from '../../telemetry/requestLog';
import { requireCaller, requireInput, type OperationContext, type Stage } from '../context';

/** Which app role each part of a manifest needs: those of the single routes that create it. */
export function rolesOf(manifest: ConnectorManifest): AppRole[] {
  const roles = new Set<AppRole>(['ExternalConnection.Create']);
  if (manifest.groups?.length) roles.add('ExternalGroup.Create');
  if (manifest.groups?.some((group) => group.members?.length)) roles.add('ExternalGroupMember.Create');
  if (manifest.connectorGroups?.length) roles.add('ConnectorGroup.Create');
  return [...roles];
}

const createRoles: AppRole[] = ['ExternalConnection.Create', 'ExternalGroup.Create', 'ExternalGroupMember.Create', 'ConnectorGroup.Create'];

function deny(context: OperationContext<ManifestOperation>, missing: AppRole[], reason: string): never {
  const caller = requireCaller(context);
  logEvent(context, 'warn', reason, { status: 403, requiredRoles: missing.join(' '), ...callerLogFields(caller) });
  throw forbidden(missing.join(', '));
}

/**
 * Before the body is read: the caller holds at least one create role (and passes the client-app
 * and scope rules), else 403 and nothing more happens.
 */
export const authorizeAnyCreateRole: Stage<OperationContext<ManifestOperation>> = async (context, next) => {
  const caller = requireCaller(context);
  const denials = createRoles.map((role) => ({ role, denial: denialOf(caller, context.runtime.auth.policy, role) }));
  const first = denials.find(({ denial }) => !denial);
  if (!first) {
    const nonRole = denials.find(({ denial }) => denial && denial.reason !== 'role')?.denial;
    if (nonRole) {
      logEvent(context, 'warn', 'request denied', { status: 403, ...nonRole.fields, ...callerLogFields(caller) });
      throw nonRole.error;
    }
    deny(context, createRoles, 'request denied: caller holds none of the create roles');
  }
  return next();
};

/** After validation: apply needs the role of every create the manifest contains; plan one of them. */
export const authorizeManifestRoles: Stage<OperationContext<ManifestOperation>> = async (context, next) => {
  const caller = requireCaller(context);
  const needed = rolesOf(requireInput(context).body as unknown as ConnectorManifest);
  const missing = needed.filter((role) => !caller.roles.includes(role));
  if (context.operation.rolesNeeded === 'every' && missing.length > 0) deny(context, missing, 'request denied: the manifest contains creates whose role the caller lacks');
  if (context.operation.rolesNeeded === 'any' && missing.length === needed.length) deny(context, needed, 'request denied: caller holds none of the roles of the manifest');
  return next();
};

/** `…/connectorManifests/plan`: what applying would do, read from Graph and the audit trail; nothing is written. */
export const planStage: Stage<OperationContext<ManifestOperation>> = async (context): Promise<HttpResponseInit> => {
  const input = requireInput(context);
  const plan = await planManifest({
    runtime: context.runtime,
    version: String(input.params.version),
    manifest: input.body as unknown as ConnectorManifest,
    clientRequestId: context.correlation.clientRequestId,
    deadlineAt: context.deadlineAt,
  });
  logEvent(context, 'info', 'manifest planned', { ...plan.counts });
  return { status: 200, jsonBody: plan };
};

const statusPathOf = (id: string) => `connectorManifestApplies/${encodeURIComponent(id)}`;
export const applyStatusRoute = 'connectorManifestApplies/{id}';

/** `…/connectorManifests/apply`: 200 with the results when done within the request, else 202 with the status URL. */
export const applyStage: Stage<OperationContext<ManifestOperation>> = async (context): Promise<HttpResponseInit> => {
  const input = requireInput(context);
  const answer = await startApply({
    runtime: context.runtime,
    caller: requireCaller(context),
    correlation: context.correlation,
    receivedAt: context.receivedAt,
    version: String(input.params.version),
    manifest: input.body as unknown as ConnectorManifest,
    preferAsync: prefersAsync(context.request.headers.get('prefer')),
    deadlineAt: context.deadlineAt,
    invocation: context.invocation,
    log: (level, event, fields) => logEvent(context, level, event, fields),
  });
  const location = apiUrlFor(context.request)(statusPathOf(answer.record.rowKey));
  if (answer.kind === 'done') {
    logEvent(context, answer.results.outcome === 'failed' ? 'warn' : 'info', 'manifest applied', { id: answer.record.rowKey, ...answer.results.counts });
    return { status: 200, headers: { location }, jsonBody: applyView(answer.record) };
  }
  logEvent(context, 'info', 'manifest apply accepted; it runs from the queue', { id: answer.record.rowKey });
  return { status: 202, headers: { location, 'retry-after': String(answer.retryAfterSeconds) }, jsonBody: applyView(answer.record) };
};

export interface ApplyStatusFunction extends NamedOperation {
  role: AppRole;
}

/** `GET /api/connectorManifestApplies/{id}`: 202 with the step it waits on, then 200 with the results. */
export const applyStatusStage: Stage<OperationContext<ApplyStatusFunction>> = async (context): Promise<HttpResponseInit> => {
  const caller = requireCaller(context);
  const id = context.request.params.id ?? '';
  const notFound = new FacadeError(404, 'itemNotFound', `No manifest apply has the id '${id}'.`);
  if (!/^\d{13}_[0-9a-f-]{36}$/.test(id)) throw notFound;
  const record = await findApply(context.runtime, id).catch((error: unknown) => {
    throw serviceUnavailable('auditStoreUnavailable', 'The status cannot be read from the audit store now. Retry later.', 5, error);
  });
  if (!record) throw notFound;
  checkStatusReader(context, caller, record.callerId, context.operation.role);
  if (record.status === 'completed') return { status: 200, jsonBody: applyView(record) };
  if (await resumeIfAbandoned(context.runtime, record, { kind: 'manifestApply', id: record.rowKey })) logEvent(context, 'warn', 'manifest apply held by no run for long; queued again', { id });
  return { status: 202, headers: { location: context.request.url, 'retry-after': '2' }, jsonBody: applyView(record) };
};
