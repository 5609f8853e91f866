import type { HttpRequest } from '@azure/functions';
import { forbidden } from '../auth/authErrors';
import { callerLogFields, type AuthenticatedCaller } from '../auth/caller';
import { denialOf } from '../auth/callerPolicy';
import type { AppRole } from '../auth/roles';
import { auditReadRole } from '../bulk/job';
import { publicBaseUrlFrom } from '../config';
import { logEvent } from '../telemetry/requestLog';
import type { RequestContext } from '../pipeline/context';
import type { NamedOperation } from '../operations/operation';

/**
 * An absolute URL below `/api` on the host the caller reached (a gateway's `PUBLIC_BASE_URL` when
 * one is set), as a 202's `Location` must be.
 */
export function apiUrlFor(request: HttpRequest, env: Readonly<Record<string, string | undefined>> = process.env): (path: string) => string {
  let published: URL | undefined;
  try {
    published = publicBaseUrlFrom({ PUBLIC_BASE_URL: env.PUBLIC_BASE_URL });
  } catch {
    // An invalid PUBLIC_BASE_URL is reported by the documents it names; the request's own host serves.
  }
  const base = published ? published.href.replace(/\/+$/, '') : new URL(request.url).origin;
  return (path) => `${base}/api/${path}`;
}

/**
 * Who may read a job's status: the caller that started it (still holding `role`), or an operator
 * with `Audit.Read`; the client-app and scope rules apply as to every operation. Throws the 403.
 */
export function checkStatusReader(context: RequestContext<NamedOperation>, caller: AuthenticatedCaller, ownerId: string, role: AppRole): void {
  const operator = caller.roles.includes(auditReadRole);
  const denial = caller.id === ownerId || operator
    ? denialOf(caller, context.runtime.auth.policy, operator ? auditReadRole : role)
    : { reason: 'role' as const, error: forbidden(auditReadRole), fields: { requiredRole: auditReadRole, owner: 'another caller' } };
  if (denial) {
    logEvent(context, 'warn', 'request denied: not the caller that started the job, nor an operator', { status: 403, ...denial.fields, ...callerLogFields(caller) });
    throw denial.error;
  }
}
